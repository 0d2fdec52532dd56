"""Response targets (issue 20, item 2): the job that finds the targets open incidents missed
(read, then each in a short write of its own) and what a miss does: a timeline entry, once per
incident and target, and, as its priority says, the policy's next level paged now or the whole
policy paged again from level 1, through the escalation timer the escalation job runs."""

from __future__ import annotations

from collections import Counter

from .. import clock
from ..engine.lifecycle import ACTIVE_SQL, Status
from ..engine.notes import Note
from ..engine.paging import EscalationState
from ..engine.priorities import Missed, missed_targets
from ..store.hotpath import Sql, to_datetime
from ..store.transactions import run_read, run_write
from . import paging, priorities
from .lifecycle import By, Changes

# Only the incidents past a target not yet recorded, per priority with a target: the index of
# (status, created_at) finds them, so an install with many young open incidents reads none. An
# incident acknowledged once met its acknowledge target, even if unacknowledged since (the
# unacknowledge clears acknowledged_at; its timeline keeps the acknowledgement).
_SELECT = f"""
    SELECT id, priority, status, created_at,
        acknowledge_missed_at IS NOT NULL OR EXISTS (
            SELECT 1 FROM incident_events e WHERE e.incident_id = incidents.id AND e.kind = 'acknowledged'),
        resolve_missed_at IS NOT NULL
    FROM incidents WHERE {ACTIVE_SQL} AND ("""
_WHEN = {"acknowledge": "(priority = '{code}' AND status = 'triggered' AND acknowledge_missed_at IS NULL "
                        "AND created_at <= :{code}_acknowledge)",
         "resolve": "(priority = '{code}' AND resolve_missed_at IS NULL AND created_at <= :{code}_resolve)"}


def _candidate_query(table: dict, now: float) -> tuple[Sql | None, dict]:
    """The query of the incidents due now, and its cut-offs (None: no priority has a target)."""
    parts, params = [], {}
    for code, priority in table.items():  # codes are P1-P5 (engine.priorities.CODES), never input
        for target in ("acknowledge", "resolve"):
            minutes = getattr(priority, f"{target}_minutes")
            if minutes is not None:
                parts.append(_WHEN[target].format(code=code))
                params[f"{code}_{target}"] = clock.to_db(now - 60 * minutes)
    return (Sql(_SELECT + " OR ".join(parts) + ")") if parts else None), params
# Once per incident and target: the row says it was missed, in the transaction that says so.
MARK = {target: Sql(f"""
    UPDATE incidents SET {target}_missed_at = :now, version = version + 1
    WHERE id = :id AND {target}_missed_at IS NULL AND {ACTIVE_SQL} RETURNING status
""") for target in ("acknowledge", "resolve")}
# The original's retrigger: the pinned policy again from its first level, at once.
REPAGE = Sql(f"""
    UPDATE incident_escalations SET state = '{EscalationState.RUNNING}', level = -1, next_at = :now
    WHERE incident_id = :id
""")


def _candidates(cursor, now: float) -> tuple[list[tuple], dict]:
    table = priorities.by_code_cursor(cursor)
    query, params = _candidate_query(table, now)
    if query is None:
        return [], table
    return [(iid, code, status, clock.from_db(to_datetime(opened)), bool(ack), bool(res))
            for iid, code, status, opened, ack, res in cursor.execute(query, params).fetchall()], table


def _record(cursor, missed: Missed, now: float) -> bool:
    now_db = clock.to_db(now)
    row = cursor.execute(MARK[missed.target], {"id": missed.incident_id, "now": now_db}).fetchone()
    if row is None:  # acknowledged, resolved or recorded meanwhile
        return False
    changes = Changes(cursor, now_db)
    acted = False
    if row[0] == Status.TRIGGERED.value and missed.action == "next_level":
        acted = paging.escalate_now(cursor, now_db, missed.incident_id)
    elif row[0] == Status.TRIGGERED.value and missed.action == "repage":
        acted = cursor.changed(REPAGE, {"id": missed.incident_id, "now": now_db}) == 1
    note = Note("target_missed", target=missed.target, num=missed.minutes, acted=missed.action if acted else None)
    changes.note(missed.incident_id, "target_missed", note, By(actor="Callgoose"))
    changes.finish()
    return True


def check(engine, now: float, keep_alive=lambda: None) -> Counter:
    """Record every target missed by ``now``; count them by target."""
    rows, table = run_read(engine, lambda cursor: _candidates(cursor, now))
    done: Counter = Counter()
    for missed in missed_targets(rows, table, now):
        if run_write(engine, lambda cursor, missed=missed: _record(cursor, missed, now)):
            done[missed.target] += 1
        keep_alive()
    return done
