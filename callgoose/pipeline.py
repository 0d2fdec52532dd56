"""Processing one API call: the only place that combines the engine with the database.

``process_call`` reads the rules, lets the engine evaluate every service outside the
write lock, then applies the decisions in one write transaction together with the API
call record (S32): a 2xx is only ever returned for a committed call.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update

from . import clock
from .configuration import SpecCache, load_specs
from .database import run_write
from .engine import (
    Evaluation, Flags, Marker, Payload, ServiceSpec, evaluate, in_maintenance, is_replay,
    clean, mapping_key, resolve_values,
)
from .models import ACTIVE, ApiCall, ApiToken, Incident, IncidentEvent, ReplayMarker
from .tokens import TokenInfo

RESULT_VALUE_CHARS = 200

_incidents = Incident.__table__
_events = IncidentEvent.__table__
_markers = ReplayMarker.__table__
_calls = ApiCall.__table__
_tokens = ApiToken.__table__

_marker_match = (_markers.c.service_id == bindparam("sid")) & (_markers.c.subject_key == bindparam("subject"))
SELECT_MARKER = select(_markers.c.payload_hash, _markers.c.seen_at).where(_marker_match).with_for_update()
INSERT_MARKER = insert(_markers)
UPDATE_MARKER = update(_markers).where(_marker_match).values(
    payload_hash=bindparam("hash"), seen_at=bindparam("now"))
SLIDE_MARKER = update(_markers).where(_marker_match).values(seen_at=bindparam("now"))

_active_mapping = ((_incidents.c.service_id == bindparam("sid"))
                   & (_incidents.c.mapping_key == bindparam("mkey"))
                   & _incidents.c.status.in_(ACTIVE))
RESOLVE = update(_incidents).where(_active_mapping).values(
    status="resolved", resolved_at=bindparam("now")).returning(_incidents.c.id)
DUPLICATE = update(_incidents).where(_active_mapping).values(
    duplicate_count=_incidents.c.duplicate_count + 1, last_seen_at=bindparam("now")
).returning(_incidents.c.id)
CREATE = insert(_incidents).returning(_incidents.c.id)
INSERT_EVENTS = insert(_events)
INSERT_CALL = insert(_calls)
TOUCH_TOKEN = update(_tokens).where(_tokens.c.id == bindparam("tid")).values(last_used_at=bindparam("now"))
TOKEN_TOUCH_SECONDS = 60


@dataclass(frozen=True)
class CallResult:
    call_id: str
    status: int
    body: dict


def new_call_id(now: float) -> str:
    """A time-ordered UUID (version 7 layout), so call ids sort by arrival."""
    rand = secrets.randbits(74)
    value = ((int(now * 1000) & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64
             | 0b10 << 62 | (rand & (2**62 - 1)))
    return str(uuid.UUID(int=value))


def _short(value: str | None) -> str | None:
    if value is None or len(value) <= RESULT_VALUE_CHARS:
        return value
    return value[:RESULT_VALUE_CHARS] + "…"


@dataclass
class _Evaluated:
    """One service's part of a call, decided before the write transaction."""

    spec: ServiceSpec | None
    service_id: int | None
    name: str | None
    evaluation: Evaluation | None = None
    maintenance: bool = False
    note: str | None = None  # disabled | error: ...

    def result(self, flags: Flags) -> dict:
        ev = self.evaluation
        out = {"service": self.name, "service_id": self.service_id, "status": flags.status}
        if self.note:
            out["note"] = self.note
        if ev is None:
            return out
        if ev.trigger is not None:
            out["trigger"] = {"rule": ev.trigger.rule, "rule_id": ev.trigger.rule_id,
                              "mapping_value": _short(ev.trigger.mapping_value)}
        if ev.resolves:
            out["resolve"] = [{"rule": h.rule, "rule_id": h.rule_id, "value": _short(h.value)}
                              for h in ev.resolves]
        if ev.misses:
            out["misses"] = [{"kind": kind, "rule": index, "condition": f.condition,
                              "json_key": _short(f.json_key), "reason": _short(f.reason)}
                             for kind, index, f in ev.misses]
        return out


def _evaluate_all(specs, token: TokenInfo, payload: Payload, source: str | None, now: float):
    evaluated = []
    for spec in specs:
        if isinstance(spec, Exception):
            evaluated.append(_Evaluated(None, None, None, note=f"error: rules cannot be loaded: {spec}"))
            continue
        item = _Evaluated(spec, spec.service_id, spec.name)
        if not spec.enabled:
            if token.service_id is None:
                continue  # a global token runs only on enabled services (S5)
            item.note = "disabled"
        else:
            try:
                item.maintenance = in_maintenance(spec, payload, now)
                item.evaluation = evaluate(spec, payload, source)
                if item.maintenance:
                    item.note = "maintenance"
            except Exception as exc:  # a rule that cannot be evaluated must not lose the call (S32)
                item.evaluation = None
                item.note = f"error: {type(exc).__name__}: {exc}"
        evaluated.append(item)
    return evaluated


class _Apply:
    """The writes of one call, inside its transaction."""

    def __init__(self, conn, call_id: str, payload: Payload, now: float, default_window: int):
        self.conn = conn
        self.call_id = call_id
        self.payload = payload
        self.now = now
        self.now_db = clock.to_db(now)
        self.default_window = default_window
        self.events: list[dict] = []

    def event(self, incident_id: int, kind: str, actor: str | None = None):
        self.events.append({"incident_id": incident_id, "at": self.now_db, "kind": kind,
                            "api_call_id": self.call_id, "user_id": None, "actor": actor, "note": None})

    def service(self, item: _Evaluated) -> tuple[Flags, dict]:
        flags = Flags()
        ev = item.evaluation
        if ev is None or item.maintenance or not ev.held:
            return flags, item.result(flags)
        spec = item.spec
        window = spec.duplicate_window_seconds
        if window is None:
            window = self.default_window
        key = {"sid": spec.service_id, "subject": ev.subject}
        row = self.conn.execute(SELECT_MARKER, key).first()
        marker = Marker(row.payload_hash, clock.from_db(row.seen_at)) if row else None
        if is_replay(marker, self.payload.digest, self.now, window):
            self.conn.execute(SLIDE_MARKER, {**key, "now": self.now_db})
            flags.trigger_duplicate = ev.trigger is not None
            flags.resolve_duplicate = bool(ev.resolves)
            result = item.result(flags)
            result["replay"] = True
            return flags, result
        if row is None:
            self.conn.execute(INSERT_MARKER, {"service_id": spec.service_id, "subject_key": ev.subject,
                                              "payload_hash": self.payload.digest, "seen_at": self.now_db})
        else:
            self.conn.execute(UPDATE_MARKER, {**key, "hash": self.payload.digest, "now": self.now_db})
        resolved = self._resolve(spec, ev)
        flags.resolved = bool(resolved)
        result_extra = {"resolved_incidents": resolved} if resolved else {}
        if ev.trigger is not None:
            incident_id, created = self._trigger(spec, ev)
            flags.created = created
            flags.trigger_duplicate = not created
            result_extra["incident"] = incident_id
        result = item.result(flags)
        result.update(result_extra)
        return flags, result

    def _resolve(self, spec: ServiceSpec, ev: Evaluation) -> list[int]:
        resolved = []
        for value in resolve_values(ev):
            ids = self.conn.execute(RESOLVE, {"sid": spec.service_id, "mkey": mapping_key(value),
                                              "now": self.now_db}).scalars().all()
            for incident_id in ids:
                self.event(incident_id, "resolved")
            resolved.extend(ids)
        return resolved

    def _trigger(self, spec: ServiceSpec, ev: Evaluation) -> tuple[int, bool]:
        hit = ev.trigger
        mkey = mapping_key(hit.mapping_value) if hit.mapping_value is not None else None
        if mkey is not None:
            existing = self.conn.execute(DUPLICATE, {"sid": spec.service_id, "mkey": mkey,
                                                     "now": self.now_db}).scalar()
            if existing is not None:  # S26: an open incident with this mapping value
                self.event(existing, "duplicate")
                return existing, False
        incident_id = self.conn.execute(CREATE, {
            "service_id": spec.service_id, "title": hit.title, "description": hit.description,
            "urgency": hit.urgency, "status": "triggered", "mapping_value": hit.mapping_value,
            "mapping_key": mkey, "duplicate_count": 0, "rule_id": hit.rule_id,
            "created_by_call": self.call_id, "created_at": self.now_db, "last_seen_at": self.now_db,
            "acknowledged_at": None, "resolved_at": None}).scalar_one()
        self.event(incident_id, "created")
        return incident_id, True


def _call_row(call_id, token: TokenInfo, now_db, source, content_type, size, payload_text,
              status, results, error=None) -> dict:
    return {"id": call_id, "received_at": now_db, "token_id": token.id, "token_name": token.name,
            "source": source, "content_type": content_type, "size": size, "payload": payload_text,
            "status": status, "results": results, "error": error}


def _touch_token(conn, token: TokenInfo, now: float):
    """Record when a token was used, at most once a minute (no write per request)."""
    last = clock.from_db(token.last_used_at)
    if last is None or now - last >= TOKEN_TOUCH_SECONDS:
        conn.execute(TOUCH_TOKEN, {"tid": token.id, "now": clock.to_db(now)})


def process_call(engine, cache: SpecCache, token: TokenInfo, raw: bytes, content_type: str | None,
                 source: str | None, now: float, default_window: int) -> CallResult:
    """Run one authenticated call through every service it reaches and store it (S5, S20-S33)."""
    payload = Payload.from_body(raw, content_type)
    source = clean(source) if source else None
    with engine.connect() as conn:
        specs = load_specs(conn, cache, token.service_id)
    evaluated = _evaluate_all(specs, token, payload, source, now)
    call_id = new_call_id(now)

    def work(conn):
        apply = _Apply(conn, call_id, payload, now, default_window)
        flags = Flags()
        results = []
        for item in evaluated:
            service_flags, result = apply.service(item)
            flags.merge(service_flags)
            results.append(result)
        errors = "; ".join(item.note for item in evaluated if item.note and item.note.startswith("error"))
        conn.execute(INSERT_CALL, _call_row(call_id, token, apply.now_db, source, content_type,
                                            len(raw), payload.text, flags.status, results, errors or None))
        if apply.events:
            conn.execute(INSERT_EVENTS, apply.events)
        _touch_token(conn, token, now)
        return flags

    flags = run_write(engine, work)
    return CallResult(call_id, flags.status, flags.body(call_id))


def record_rejected(engine, token: TokenInfo, status: int, content_type: str | None, size: int,
                    source: str | None, now: float, error: str) -> str:
    """Log an authenticated call that was refused before processing (413), so it is visible."""
    call_id = new_call_id(now)

    def work(conn):
        conn.execute(INSERT_CALL, _call_row(call_id, token, clock.to_db(now), source, content_type,
                                            size, "", status, [], error))
    run_write(engine, work)
    return call_id
