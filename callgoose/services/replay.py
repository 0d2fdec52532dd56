"""Replay (issue 10, item 6): stored calls processed again through the current rules, as new
calls of the same token, each marked as a replay of the call it repeats (the API log and the
timeline say so). S26-S28 apply as to any call, so nothing is doubled: an incident still open
is a duplicate, the same payload within the window a replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .. import clock
from ..engine.payload import split_content_type
from ..store.hotpath import Sql, to_datetime
from ..store.transactions import run_read
from .catalog import SpecCache, load_specs, service_rows
from .ingestion import process_call
from .tokens import TokenInfo

MAX_CALLS = 500  # replayed at once
ORIGINALS = """
    SELECT c.id, c.token_id, c.token_name, c.source, c.content_type, p.text, t.service_id, c.received_at
    FROM api_calls c LEFT JOIN payloads p ON p.digest = c.payload_digest
    LEFT JOIN api_tokens t ON t.id = c.token_id
    WHERE c.id IN ({ids}) AND c.status BETWEEN 200 AND 299
"""
MATCHING = Sql("""
    SELECT id FROM api_calls WHERE received_at >= :since AND status = :status ORDER BY received_at LIMIT :n
""")


@dataclass
class Replayed:
    """What a replay did: each new call's status, by the call it repeats."""

    statuses: dict = field(default_factory=dict)  # original call id -> (new call id, status)
    skipped: list = field(default_factory=list)  # original ids that could not be replayed (token gone)

    def summary(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for _, status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        return dict(sorted(counts.items()))


def matching(engine, status: int, since: float, limit: int = MAX_CALLS) -> list[str]:
    """The stored calls answered ``status`` since ``since``, oldest first (what "every 202 of the
    last 24 hours" selects)."""
    return [r[0] for r in run_read(engine, lambda c: c.execute(MATCHING, {
        "since": clock.to_db(since), "status": status, "n": limit}).fetchall())]


def replay(engine, call_ids: list[str], actor: str, now: float, default_window: int,
           shadow: bool = False) -> Replayed:
    """Process these stored calls again, oldest first, each as a new call of its token's scope
    (``shadow``: the install runs in shadow mode, the SHADOW setting)."""
    ids = list(dict.fromkeys(call_ids))[:MAX_CALLS]
    done = Replayed()
    if not ids:
        return done
    marks = ", ".join(f":id{i}" for i in range(len(ids)))
    rows = run_read(engine, lambda c: c.execute(Sql(ORIGINALS.format(ids=marks)),
                                                {f"id{i}": v for i, v in enumerate(ids)}).fetchall())
    cache = SpecCache(shadow=shadow)
    for call_id, token_id, token_name, source, content_type, text, scope, _ in sorted(
            rows, key=lambda r: to_datetime(r[7]) or datetime.min):
        if token_id is None:
            done.skipped.append(call_id)
            continue
        token = TokenInfo(token_id, token_name, scope, None)
        specs = load_specs(engine, cache, run_read(engine, lambda c, s=scope: service_rows(c, s)))
        mime, _ = split_content_type(content_type)
        kind = f"{mime}; charset=utf-8" if mime else None  # the stored text, as UTF-8
        result = process_call(engine, token, specs, (text or "").encode("utf-8"), kind, source, now,
                              default_window, replay_of=call_id, actor=f"replay by {actor}")
        done.statuses[call_id] = (result.call_id, result.status)
    done.skipped += [i for i in ids if i not in done.statuses and i not in done.skipped]
    return done


def replay_request(engine, call_ids: list[str], status: int | None, hours: int | None, actor: str, now: float,
                   default_window: int, shadow: bool = False) -> Replayed:
    """The dashboard's replay: the ticked calls, or every call answered ``status`` in the last
    ``hours`` hours (at most :data:`MAX_CALLS`)."""
    if not call_ids and status is not None and hours:
        call_ids = matching(engine, status, now - hours * 3600)
    return replay(engine, call_ids, actor, now, default_window, shadow)
