"""Opsgenie's Alert API and heartbeat pings on Callgoose (issue 18).

A ``GenieKey`` is a Callgoose service token: the request acts on that token's service (a global
token names no service and is refused like an unknown key). A request is parsed by
:mod:`callgoose.engine.opsgenie` and applied through the one event path
(:func:`callgoose.services.events.process_event`), which stores it in the API log before the
answer: the answer's ``requestId`` is the API call's id, and "Get Request Status" reads that
call back. A refused request (400, 413, 422) is in the API log too, with its fault.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import clock
from ..engine import Flags, Payload, ServiceSpec, clean
from ..engine.events import Event
from ..engine.lifecycle import RULES, Action
from ..engine.heartbeat import MAX_HEARTBEATS
from ..engine.opsgenie import NOT_PROCESSABLE, Refused, heartbeat, parse
from ..engine.opsgenie import request_status as status_of
from ..engine.outcome import ServiceOutcome, load_all, short
from ..store.hotpath import Sql, from_json, to_datetime
from ..store.transactions import run_read, run_write
from .catalog import SpecCache
from .events import process_event
from .heartbeats import ensure_pinged, record_ping
from .ingestion import (
    INSERT_CALL,
    INSERT_CALL_SERVICES,
    STORE_PAYLOAD,
    call_row,
    call_services,
    new_call_id,
    open_with,
    record_rejected,
    touch_token,
)
from .lifecycle import By, Changes
from .tokens import TokenInfo, authenticate

log = logging.getLogger(__name__)
SOURCE = "opsgenie"  # the API log's "from" for every call through this API
CALL = Sql("SELECT received_at, token_id, results FROM api_calls WHERE id = :id")
INCIDENT = Sql("SELECT status, mapping_value FROM incidents WHERE id = :id AND service_id = :sid")
ACTED = Sql("SELECT 1 FROM incident_events WHERE incident_id = :id AND api_call_id = :call AND kind = :kind")
ACKNOWLEDGED = RULES[Action.ACKNOWLEDGE].event
REQUEST_ID_MAX = 36  # an API call's id (a UUID)
FULL = f"the service has {MAX_HEARTBEATS} heartbeats, the most it may have"


@dataclass(frozen=True)
class Answer:
    """What a request came to: the status to send, the stored call's id (the ``requestId``),
    the refusal (400, 413, 422) and whether it queued work for the worker (a page: wake it)."""

    status: int
    request_id: str
    refused: Refused | None = None
    queued: bool = False


def open_key(engine, cache: SpecCache, presented: str | None) -> tuple[TokenInfo, ServiceSpec | Exception] | None:
    """The live service token of a GenieKey and its service's spec, in one short read; None for
    a missing, unknown or revoked key, a global token or a deleted service, alike."""
    def find(cursor):
        token = authenticate(cursor, presented)
        return token if token is not None and token.service_id is not None else None
    opened = open_with(engine, cache, find)
    if opened is None or not opened[1]:
        return None
    token, specs = opened
    return token, specs[0]


def refuse(engine, token: TokenInfo, refused: Refused, raw_size: int, content_type: str | None, now: float) -> Answer:
    """Log a request refused before it was applied (S33: every authenticated call is logged)."""
    call_id = record_rejected(engine, token, refused.status, content_type, raw_size, SOURCE, now, refused.text)
    log.warning("opsgenie call %s refused (%d): %s", call_id, refused.status, refused.text)
    return Answer(refused.status, call_id, refused)


def _unloadable(engine, token: TokenInfo, spec: Exception, event: Event, raw: bytes, content_type, now) -> Answer:
    """A service whose stored rules the engine refuses: keep the call with the error, answer
    202 (S32), and let its request status say that it failed."""
    call_id = new_call_id(now)
    error = clean(f"error: rules cannot be loaded: {spec}")[:500]
    outcome = ServiceOutcome(None, token.service_id, 202, note=error, event=event.label, key=short(event.key))

    def work(cursor):
        now_db = clock.to_db(now)
        cursor.execute(INSERT_CALL, call_row(call_id, token, now_db, SOURCE, content_type, len(raw), None, 202,
                                            [outcome], error))
        cursor.executemany(INSERT_CALL_SERVICES, call_services(call_id, now_db, [token.service_id]))
    run_write(engine, work)
    return Answer(202, call_id)


def alert(engine, token: TokenInfo, spec: ServiceSpec | Exception, action: str, raw: bytes, content_type: str | None,
          now: float, identifier: str | None = None, identifier_type: str | None = None) -> Answer:
    """Apply one Alert API request (``create`` or an action on the alert ``identifier`` names)
    on the token's service and store it; Opsgenie answers 202 for every request it accepts."""
    payload = Payload.from_body(raw, content_type)
    event = parse(action, payload.data, payload.text, identifier, identifier_type)
    if isinstance(event, Refused):
        return refuse(engine, token, event, len(raw), content_type, now)
    if isinstance(spec, Exception):
        return _unloadable(engine, token, spec, event, raw, content_type, now)
    result = process_event(engine, token, spec, event, raw, content_type, SOURCE, now, 202)
    return Answer(202, result.call_id, queued=result.queued)


def ping(engine, token: TokenInfo, spec: ServiceSpec | Exception, name: str, raw: bytes, content_type: str | None,
         now: float) -> Answer:
    """Opsgenie's heartbeat ping: the heartbeat ``name`` of the token's service gets a call,
    through the same writes as a call that matches its conditions (services.heartbeats); the
    first ping creates it. A disabled service ignores it, as it ignores every call."""
    beat = heartbeat(name)
    if isinstance(beat, Refused):
        return refuse(engine, token, beat, len(raw), content_type, now)
    if isinstance(spec, Exception):
        error = clean(f"error: rules cannot be loaded: {spec}")[:500]
        return Answer(202, record_rejected(engine, token, 202, content_type, len(raw), SOURCE, now, error))
    payload = Payload.from_body(raw, content_type)
    call_id = new_call_id(now)
    known = next((h for h in spec.heartbeats if h.name == name), beat)

    def work(cursor):
        now_db = clock.to_db(now)
        digest = payload.digest if payload.text else None
        if digest:
            cursor.execute(STORE_PAYLOAD, {"digest": digest, "text": payload.text})
        changes = Changes(cursor, now_db)
        outcome, refused = ServiceOutcome(spec.name, spec.service_id, 202, note="disabled"), None
        if spec.enabled:
            if ensure_pinged(cursor, spec, known, now) is None:
                refused = Refused(422, NOT_PROCESSABLE, {"name": FULL})
            else:
                healed = record_ping(cursor, changes, By(call_id=call_id), spec.service_id, known, now, spec.paging)
                outcome = ServiceOutcome(spec.name, spec.service_id, Flags(resolved=bool(healed)).status,
                                         pings=(name,), resolved_incidents=tuple(healed))
        sent = refused.status if refused else 202
        cursor.execute(INSERT_CALL, call_row(call_id, token, now_db, SOURCE, content_type, len(raw), digest, sent,
                                            [] if refused else [outcome], refused.text if refused else None))
        cursor.executemany(INSERT_CALL_SERVICES, call_services(call_id, now_db, [spec.service_id]))
        changes.finish()
        touch_token(cursor, token, now)
        return refused, changes.queued

    refused, queued = run_write(engine, work)
    if refused is not None:
        return Answer(refused.status, call_id, refused)
    return Answer(202, call_id, queued=queued)


def _stamp(value) -> str:
    """``2017-05-24T14:24:20.844Z``, as Opsgenie writes times."""
    moment = to_datetime(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def request_status(engine, token: TokenInfo, request_id: str) -> dict | None:
    """Opsgenie's "Get Request Status" of an Alert API call of the token's service, read from
    the API log; None for any other id (another service's call, a heartbeat ping, /v1/process)."""
    if not request_id or len(request_id) > REQUEST_ID_MAX:
        return None

    def read(cursor):
        row = cursor.execute(CALL, {"id": request_id}).fetchone()
        if row is None:
            return None
        received_at, token_id, results = row
        outcome = next((o for o in load_all(from_json(results)) if o.service_id == token.service_id
                        and (o.event or "").startswith(SOURCE + " ")), None)
        if outcome is None:
            return None
        incident = outcome.incident or next(iter(outcome.resolved_incidents), None)
        found = cursor.execute(INCIDENT, {"id": incident, "sid": token.service_id}).fetchone() if incident else None
        acted = bool(found) and cursor.execute(ACTED, {"id": incident, "call": request_id,
                                                       "kind": ACKNOWLEDGED}).fetchone() is not None
        return received_at, token_id, outcome, incident if found else None, found, acted

    found = run_read(engine, read)
    if found is None:
        return None
    received_at, token_id, outcome, incident, row, acted = found
    action, success, status = status_of(outcome, row[0] if row else None, acted)
    alert_id = str(incident) if incident is not None else ""
    return {"success": success, "action": action, "processedAt": _stamp(received_at),
            "integrationId": str(token_id) if token_id is not None else "", "isSuccess": success, "status": status,
            "alertId": alert_id, "alias": (row[1] if row and row[1] is not None else alert_id)}
