"""Processing one API call: the only place that combines the engine with the database.

``process_call`` reads the rules, lets the engine evaluate every service outside the
write lock, then applies the decisions in one write transaction together with the API
call record (S32): a 2xx is only ever returned for a committed call.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass, replace

from .. import clock
from ..engine import (
    Evaluation,
    Flags,
    Marker,
    Payload,
    ServiceSpec,
    clean,
    evaluate,
    in_maintenance,
    is_replay,
    mapping_key,
    resolve_values,
    split,
)
from ..engine.heartbeat import pings
from ..engine.outcome import (
    Miss,
    ResolveHit,
    ServiceOutcome,
    TriggerHit,
    dump_all,
    reason,
    short,
)
from ..engine.page import facts_of
from ..engine.payload import MAX_PARTS
from ..store.hotpath import Sql, to_datetime
from ..store.models import LIVE_SERVICE_SQL
from ..store.transactions import run_read, run_shared, run_write, transient_errors
from .catalog import ServiceRow, SpecCache, load_specs, service_row, service_rows
from .heartbeats import record_ping
from .lifecycle import Action, By, Changes
from .tokens import COLUMNS as TOKEN_COLUMNS
from .tokens import INGEST, TokenInfo, digest, may, token_by_id, token_info

log = logging.getLogger(__name__)

# S27 in one statement: remember this call for its subject and return what was remembered
# before. Whatever the engine then decides, the row is already right: a replay keeps the
# same hash and slides the time; anything else stores the new hash and time. The upsert's
# row lock orders concurrent calls for one subject on PostgreSQL (SQLite: BEGIN IMMEDIATE).
REMEMBER = Sql("""
    INSERT INTO replay_markers (service_id, subject_key, payload_hash, seen_at)
    VALUES (:sid, :subject, :hash, :now)
    ON CONFLICT (service_id, subject_key) DO UPDATE SET
        previous_hash = replay_markers.payload_hash, previous_seen_at = replay_markers.seen_at,
        payload_hash = excluded.payload_hash, seen_at = excluded.seen_at
    RETURNING previous_hash, previous_seen_at
""")
INSERT_CALL_SERVICES = Sql("INSERT INTO api_call_services (service_id, received_at, call_id) "
                           "VALUES (:service_id, :received_at, :call_id)")
INSERT_CALL = Sql("""
    INSERT INTO api_calls (id, received_at, token_id, token_name, source, content_type, size,
        payload_digest, status, results, services, error, replay_of)
    VALUES (:id, :received_at, :token_id, :token_name, :source, :content_type, :size,
        :payload_digest, :status, :results, :services, :error, :replay_of)
""")
# Each distinct payload text is stored once (a replay of a 1 MiB body adds a call row, not
# another MiB); retention deletes a payload only when nothing points at it.
STORE_PAYLOAD = Sql("INSERT INTO payloads (digest, text) VALUES (:digest, :text) ON CONFLICT (digest) DO NOTHING")
SAVEPOINT = Sql("SAVEPOINT service_part")
ROLLBACK_TO_SAVEPOINT = Sql("ROLLBACK TO SAVEPOINT service_part")
RELEASE_SAVEPOINT = Sql("RELEASE SAVEPOINT service_part")
# A Bearer token and the live services it reaches (its own, or every one for a global token),
# ordered as service_rows orders them; no row: no such live token (S3, the same query either way).
_TOKEN = (f"SELECT {', '.join('t.' + c for c in TOKEN_COLUMNS)}, {', '.join('s.' + c for c in ServiceRow._fields)} "
          f"FROM api_tokens t LEFT JOIN services s ON s.{LIVE_SERVICE_SQL} AND ")
TOKEN_AND_SERVICES = Sql(
    _TOKEN + "s.id = t.service_id WHERE t.digest = :digest AND t.revoked_at IS NULL AND t.service_id IS NOT NULL "
    "UNION ALL " + _TOKEN + "t.service_id IS NULL WHERE t.digest = :digest AND t.revoked_at IS NULL "
    "AND t.service_id IS NULL ORDER BY 6")
TOUCH_TOKEN = Sql("UPDATE api_tokens SET last_used_at = :now WHERE id = :tid")
TOKEN_TOUCH_SECONDS = 60


@dataclass(frozen=True)
class CallResult:
    call_id: str
    status: int
    body: dict
    results: list[ServiceOutcome] = ()  # per service: the rule that held, what it did, why
    queued: bool = False  # whether it queued work for the worker (a page, an escalation): wake it


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction so that nothing of it is kept."""

    def __init__(self, flags: Flags, results: list):
        super().__init__("dry run")
        self.flags, self.results = flags, results


def new_call_id(now: float) -> str:
    """A time-ordered UUID (version 7 layout), so call ids sort by arrival."""
    rand = secrets.randbits(74)
    value = ((int(now * 1000) & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64
             | 0b10 << 62 | (rand & (2**62 - 1)))
    return str(uuid.UUID(int=value))


@dataclass
class _Evaluated:
    """One service's part of a call, decided before the write transaction."""

    spec: ServiceSpec | None  # None when the service's rules could not be loaded
    evaluation: Evaluation | None = None
    maintenance: bool = False
    note: str | None = None  # disabled | error: ...
    payload: Payload | None = None  # what the rules saw: the call's payload, or one element (S38)
    pings: tuple[str, ...] = ()  # the service's heartbeats this call counts for
    element: str | None = None  # S38: which element of the split array, e.g. "alerts[0]"
    made: ServiceOutcome | None = None  # what the rules found, built once, before the transaction
    facts: str | None = None  # what a page tells (engine.page.facts_of) as JSON: read before the transaction

    def outcome(self, flags: Flags, **done) -> ServiceOutcome:
        """The outcome with this status and what the transaction ``done`` (incident, created, ...)."""
        if self.made is None:
            self.made = self._found()
        return replace(self.made, status=flags.status, **done)

    def _found(self) -> ServiceOutcome:
        ev = self.evaluation
        spec = self.spec
        base = ServiceOutcome(spec.name if spec else None, spec.service_id if spec else None, 0,
                              note=self.note, element=self.element)
        if ev is None:
            return base
        return replace(
            base,
            trigger=TriggerHit(ev.trigger.rule, ev.trigger.rule_id, short(ev.trigger.mapping_value))
            if ev.trigger is not None else None,
            resolves=tuple(ResolveHit(h.rule, h.rule_id, short(h.value)) for h in ev.resolves),
            misses=tuple(Miss(kind, index, f.condition, short(f.json_key), short(f.reason), f.need and short(f.need),
                              short(f.value)) for kind, index, f in ev.misses))


def body_limit(specs: list, plain: int, split_limit: int) -> int:
    """The most bytes a call may carry (S6): ``plain``, or ``split_limit`` when its token reaches
    a service that splits payloads (S38), so that a whole Alertmanager group fits."""
    splits = any(not isinstance(spec, Exception) and spec.enabled and spec.split_on for spec in specs)
    return max(plain, split_limit) if splits else plain


def _evaluate_all(specs, token: TokenInfo, payload: Payload, source: str | None, now: float,
                  max_elements: int = MAX_PARTS) -> tuple[list[_Evaluated], str | None]:
    """Each service's part of the call; or nothing and why the call is refused (S38: more
    elements than a call may carry, never cut quietly)."""
    evaluated = []
    for spec in specs:
        if isinstance(spec, Exception):
            evaluated.append(_Evaluated(None, note=f"error: rules cannot be loaded: {spec}"))
            continue
        if not spec.enabled:
            if token.service_id is not None:
                evaluated.append(_Evaluated(spec, note="disabled", payload=payload))
            continue  # a global token runs only on enabled services (S5)
        found = split(payload, spec.split_on, max_elements) if spec.split_on else None
        if found is None:
            evaluated.append(_evaluate_one(spec, payload, source, now))
            continue
        parts, count = found
        if count > len(parts):
            return [], (f"{spec.name}: split on {spec.split_on}: {count} elements, more than the "
                        f"{len(parts)} one call may carry")
        if not parts:
            evaluated.append(_Evaluated(spec, note=f"split on {spec.split_on}: the array is empty", payload=payload))
        for part in parts:  # S38: each element as its own payload
            evaluated.append(_evaluate_one(spec, part, source, now, f"{spec.split_on}[{part.index}]"))
    return evaluated, None


def _evaluate_one(spec: ServiceSpec, payload: Payload, source: str | None, now: float,
                  element: str | None = None) -> _Evaluated:
    item = _Evaluated(spec, payload=payload, element=element)
    try:
        item.maintenance = in_maintenance(spec, payload, now)
        item.evaluation = evaluate(spec, payload, source)
        if spec.heartbeats:
            item.pings = pings(spec.heartbeats, payload, spec.matchers)
        if item.maintenance:
            item.note = "maintenance"
    except Exception as exc:  # a rule that cannot be evaluated must not lose the call (S32)
        item.evaluation = None
        item.note = f"error: {type(exc).__name__}: {exc}"
    if item.evaluation is not None and item.evaluation.trigger is not None and not item.maintenance:
        item.facts = _facts(payload)
    item.made = item._found()  # outside the write transaction
    return item


def _facts(payload: Payload) -> str | None:
    """What a page of the incident will tell, as JSON (the element's own labels, for a split
    payload); a payload it cannot be read from opens its incident without them."""
    try:
        found = facts_of(payload)
    except Exception:  # never worth losing the call over (S32)
        log.exception("the facts of a payload could not be read")
        return None
    return json.dumps(found, ensure_ascii=False) if found else None


class _Apply:
    """The writes of one call, inside its transaction."""

    def __init__(self, cursor, call_id: str, payload: Payload, now: float, default_window: int,
                 actor: str | None = None):
        self.cursor = cursor
        self.call_id = call_id
        self.by = By(call_id=call_id, actor=actor)
        self.payload = payload
        self.now = now
        self.now_db = clock.to_db(now)
        self.default_window = default_window
        self.changes = Changes(cursor, self.now_db)
        self.remembered: dict[int, tuple] = {}  # id(item): what REMEMBER returned, run ahead

    def remember_all(self, items: list[_Evaluated]) -> None:
        """Run S27's REMEMBER for every item that will need it, in order, in one batch (one round
        trip on PostgreSQL for a split payload's elements). Only replay_markers is touched, so
        running them ahead of the incidents' statements changes no outcome."""
        todo, params = [], []
        for item in items:
            ev = item.evaluation
            if ev is not None and not item.maintenance and ev.held:
                todo.append(item)
                params.append(self._remember_params(item))
        for item, row in zip(todo, self.cursor.each_first_row(REMEMBER, params)):
            self.remembered[id(item)] = row

    def _remember_params(self, item: _Evaluated) -> dict:
        seen = item.payload or self.payload  # an element of a split payload is remembered on its own (S38)
        return {"sid": item.spec.service_id, "subject": item.evaluation.subject, "hash": seen.digest,
                "now": self.now_db}

    def service(self, item: _Evaluated) -> tuple[Flags, ServiceOutcome]:
        flags, outcome = self._rules(item)
        if not item.pings:
            return flags, outcome
        healed = self._ping(item)  # a heartbeat's call counts whatever the rules did (a replay too)
        flags.resolved |= bool(healed)
        return flags, replace(outcome, status=flags.status, pings=item.pings,
                              resolved_incidents=outcome.resolved_incidents + tuple(healed))

    def _ping(self, item: _Evaluated) -> list[int]:
        """Record a heartbeat's call; a heartbeat that was down is up again and its incident resolved."""
        healed = []
        for beat in item.spec.heartbeats:
            if beat.name in item.pings:
                healed += record_ping(self.cursor, self.changes, self.by, item.spec.service_id, beat, self.now,
                                      item.spec.paging)
        return healed

    def _rules(self, item: _Evaluated) -> tuple[Flags, ServiceOutcome]:
        flags = Flags()
        ev = item.evaluation
        if ev is None or item.maintenance or not ev.held:
            return flags, item.outcome(flags)
        spec = item.spec
        window = spec.duplicate_window_seconds
        if window is None:
            window = self.default_window
        seen = item.payload or self.payload  # an element of a split payload is remembered on its own (S38)
        row = self.remembered.pop(id(item), None)
        if row is None:
            row = self.cursor.execute(REMEMBER, self._remember_params(item)).fetchone()
        previous_hash, previous_seen_at = row
        marker = (Marker(previous_hash, clock.from_db(to_datetime(previous_seen_at)))
                  if previous_hash is not None else None)
        if is_replay(marker, seen.digest, self.now, window):
            flags.trigger_duplicate = ev.trigger is not None
            flags.resolve_duplicate = bool(ev.resolves)
            return flags, item.outcome(flags, replay=True)
        resolved = self._resolve(spec, ev)
        flags.resolved = bool(resolved)
        incident, created = self._trigger(spec, ev, item.facts) if ev.trigger is not None else (None, False)
        if ev.trigger is not None:
            flags.created = created
            flags.trigger_duplicate = not created
        return flags, item.outcome(flags, resolved_incidents=tuple(resolved), incident=incident, created=created)

    def isolated(self, item: _Evaluated, errors: list[str]) -> tuple[Flags, ServiceOutcome]:
        """Apply one service behind a savepoint; a failure undoes only that service's writes."""
        mark = self.changes.mark()
        self.cursor.execute(SAVEPOINT)
        try:
            outcome = self.service(item)
            self.changes.flush_paging()
        except Exception as exc:
            self.cursor.execute(ROLLBACK_TO_SAVEPOINT)
            self.changes.undo_to(mark)
            note = clean(f"error: the outcome cannot be recorded: {type(exc).__name__}: {exc}")[:500]
            errors.append(note)
            flags = Flags()
            return flags, item.outcome(flags, note=note)
        self.cursor.execute(RELEASE_SAVEPOINT)
        return outcome

    def _resolve(self, spec: ServiceSpec, ev: Evaluation) -> list[int]:
        resolved = []
        for value in resolve_values(ev):
            resolved.extend(self.changes.apply(Action.RESOLVE, self.by, service_id=spec.service_id,
                                               mapping_key=mapping_key(value), service_paging=spec.paging))
        return resolved

    def _trigger(self, spec: ServiceSpec, ev: Evaluation, facts: str | None = None) -> tuple[int, bool]:
        hit = ev.trigger
        mkey = mapping_key(hit.mapping_value) if hit.mapping_value is not None else None
        return self.changes.open_or_repeat({
            "service_id": spec.service_id, "title": hit.title,
            # S22's default (the whole payload) is read back from the payload's one copy.
            "description": None if hit.description == self.payload.text else hit.description,
            "payload_digest": self.payload.digest if self.payload.text else None,
            "urgency": hit.urgency, "priority": hit.priority, "mapping_value": hit.mapping_value, "mapping_key": mkey,
            "rule_id": hit.rule_id, "facts": facts}, self.by, spec.paging)


def service_ids(results: list[ServiceOutcome]) -> list[int]:
    """The services a call ran on, once each, in order."""
    return list(dict.fromkeys(r.service_id for r in results if r.service_id is not None))


def call_row(call_id, token: TokenInfo, now_db, source, content_type, size, payload_digest,
              status, results, error=None, replay_of=None) -> dict:
    content_type = clean(content_type) if content_type else content_type
    return {"id": call_id, "received_at": now_db, "token_id": token.id, "token_name": token.name,
            "source": source, "content_type": content_type, "size": size, "payload_digest": payload_digest,
            "status": status, "results": clean(json.dumps(dump_all(results), ensure_ascii=False)),
            "services": "," + "".join(f"{sid}," for sid in service_ids(results)), "error": error,
            "replay_of": replay_of}


def call_services(call_id: str, received_at, ids: list[int]) -> list[dict]:
    """The rows of api_call_services for one call."""
    return [{"service_id": sid, "received_at": received_at, "call_id": call_id} for sid in ids]


def touch_token(cursor, token: TokenInfo, now: float):
    """Record when a token was used, at most once a minute (no write per request)."""
    last = clock.from_db(token.last_used_at)
    if last is None or now - last >= TOKEN_TOUCH_SECONDS:
        cursor.execute(TOUCH_TOKEN, {"tid": token.id, "now": clock.to_db(now)})


def specs_for(engine, cache: SpecCache, service_id: int | None) -> list:
    """The specs a token with this scope reaches (the dashboard's test form has no plaintext token)."""
    rows = run_read(engine, lambda cursor: service_rows(cursor, service_id))
    return load_specs(engine, cache, rows)


def open_call(engine, cache: SpecCache, presented: str | None):
    """Authenticate a token and load the specs it reaches, in one statement (issue 22).

    Returns ``(token, specs)``, or None for a missing, unknown or revoked token (S3).
    """
    if not presented:
        return None
    found = run_read(engine, lambda cursor: cursor.execute(TOKEN_AND_SERVICES,
                                                           {"digest": digest(presented)}).fetchall())
    if not found:
        return None
    width = len(TOKEN_COLUMNS)
    token = token_info(found[0][:width])
    rows = [service_row(r[width:]) for r in found if r[width] is not None]
    return token, load_specs(engine, cache, rows)


def open_with(engine, cache: SpecCache, find_token):
    """``find_token(cursor)``'s token and the specs it reaches (the endpoint's token, the email
    intake's address), in one short read; None when there is no such live token."""
    def read(cursor):
        token = find_token(cursor)
        return None if token is None else (token, service_rows(cursor, token.service_id))
    found = run_read(engine, read)
    if found is None:
        return None
    token, rows = found
    return token, load_specs(engine, cache, rows)


def process_call(engine, token: TokenInfo, specs: list, raw: bytes, content_type: str | None,
                 source: str | None, now: float, default_window: int, *, dry_run: bool = False,
                 replay_of: str | None = None, actor: str | None = None,
                 max_elements: int = MAX_PARTS) -> CallResult:
    """Run one authenticated call through the services it reaches and store it (S5, S20-S33).

    ``dry_run`` runs exactly the same statements and rolls them back: the answer is what a
    sender would get, and nothing changes. ``replay_of``: the stored call a person replays
    (``actor``, named in the timeline), processed as a new call under S26-S28.
    """
    payload = Payload.from_body(raw, content_type)
    source = clean(source) if source else None
    evaluated, refused = _evaluate_all(specs, token, payload, source, now, max_elements)
    if refused is not None:
        return _refuse(engine, token, raw, content_type, source, now, refused, dry_run)
    call_id = new_call_id(now)

    def work(cursor, isolate: bool = False):
        apply = _Apply(cursor, call_id, payload, now, default_window, actor)
        flags = Flags()
        results = []
        errors = [item.note for item in evaluated if item.note and item.note.startswith("error")]
        if payload.text:
            cursor.execute(STORE_PAYLOAD, {"digest": payload.digest, "text": payload.text})
        if not isolate:  # behind savepoints, each service remembers inside its own
            apply.remember_all(evaluated)
        for item in evaluated:
            if isolate:
                service_flags, result = apply.isolated(item, errors)
            else:
                service_flags, result = apply.service(item)
            flags.merge(service_flags)
            results.append(result)
        cursor.execute(INSERT_CALL, call_row(call_id, token, apply.now_db, source, content_type,
                                            len(raw), payload.digest if payload.text else None,
                                            flags.status, results,
                                            "; ".join(errors) or None, replay_of))
        links = call_services(call_id, apply.now_db, service_ids(results))
        if links:
            cursor.executemany(INSERT_CALL_SERVICES, links)
        apply.changes.finish()
        if dry_run:
            raise _DryRun(flags, results)
        if replay_of is None:
            touch_token(cursor, token, now)
        return flags, results, apply.changes.queued

    try:
        try:
            flags, results, queued = run_write(engine, work) if dry_run else run_shared(engine, work)
        except (_DryRun, *transient_errors(engine)):
            raise
        except Exception:
            # One service's writes failed for a reason a retry cannot cure (a bug, a value the
            # database refuses): run again with each service behind a savepoint, so that the
            # others are applied and the call is kept, with that service's error (S32).
            log.exception("call %s failed; processing each service on its own", call_id)
            flags, results, queued = run_write(engine, lambda cursor: work(cursor, isolate=True))
    except _DryRun as done:
        flags, results, queued = done.flags, done.results, False
    body = flags.body(call_id)
    said = reason(results, flags.status)
    if said:
        body["reason"] = said  # issue 10: a 202 says why, a 208 which incident or a replay
    return CallResult(call_id, flags.status, body, results, queued)


def _refuse(engine, token: TokenInfo, raw: bytes, content_type: str | None, source: str | None, now: float,
            why: str, dry_run: bool) -> CallResult:
    """S38: a call with more elements than it may carry is refused whole with 413 and logged:
    never a 2xx that leaves alerts unevaluated (a sender retries only a 5xx, and a retry
    would be refused again)."""
    call_id = new_call_id(now) if dry_run else record_rejected(engine, token, 413, content_type, len(raw),
                                                                 source, now, why)
    log.warning("call %s refused (413): %s", call_id, why)
    return CallResult(call_id, 413, {"error": "payload_too_large",
                                     "message": f"{why}; nothing was processed. Send smaller groups."})


def record_rejected(engine, token: TokenInfo, status: int, content_type: str | None, size: int,
                    source: str | None, now: float, error: str) -> str:
    """Log an authenticated call that was refused before processing (413), so it is visible."""
    call_id = new_call_id(now)

    def work(cursor):
        cursor.execute(INSERT_CALL, call_row(call_id, token, clock.to_db(now), source, content_type,
                                            size, None, status, [], error))
    run_write(engine, work)
    return call_id


def test_call(engine, cache: SpecCache, token_id: int, raw: bytes, content_type: str | None,
              source: str | None, now: float, default_window: int, *, dry_run: bool) -> CallResult | None:
    """The dashboard's test form: the call a tool would make with this token (or its dry run).

    None when the token was revoked meanwhile, or is an API token (issue 19: it sends no alerts).
    """
    token = run_read(engine, lambda cursor: token_by_id(cursor, token_id))
    if token is None or not may(token.scope, INGEST):
        return None
    specs = specs_for(engine, cache, token.service_id)
    return process_call(engine, token, specs, raw, content_type, source, now, default_window, dry_run=dry_run)
