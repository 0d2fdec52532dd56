"""PagerDuty-compatible intake (issue 18, item 1): ``POST /v2/enqueue`` and
``POST /v2/change/enqueue`` from the body to PagerDuty's answer (:func:`enqueue`,
:func:`enqueue_change`), which the Flask views and the lean ingestion path (web/lean.py) send.

An alert event is applied by :func:`callgoose.services.events.process_event` (the one path of
every alert API); this module finds the service a routing key names, keeps an event PagerDuty
would refuse in the API log with its faults, and stores change events, which an incident shows
as its service's recent changes. The credential is the body's ``routing_key`` (a service
token): an unknown, revoked or global one is refused as PagerDuty refuses an unknown key (400,
"Invalid routing key"), nothing stored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from .. import clock
from ..engine import Payload, ServiceSpec, pagerduty
from ..engine.pagerduty import Change
from ..store.hotpath import Sql, from_json, to_datetime
from ..store.transactions import run_read, run_write
from .catalog import SpecCache
from .events import process_event
from .ingestion import INSERT_CALL, STORE_PAYLOAD, call_row, new_call_id, open_with, touch_token
from .tokens import TokenInfo, routing_key_token

log = logging.getLogger(__name__)

INSERT_CHANGE = Sql("""
    INSERT INTO change_events (service_id, received_at, at, summary, source, links, details, token_name)
    VALUES (:sid, :received_at, :at, :summary, :source, :links, :details, :token_name)
""")
# An incident's recent changes: its service's, in the day before it opened, newest first.
RECENT_CHANGES = Sql("""
    SELECT at, summary, source, links, details FROM change_events
    WHERE service_id = :sid AND at <= :until AND at >= :since ORDER BY at DESC, id DESC LIMIT :n
""")
RECENT_SECONDS, RECENT_MAX = 24 * 3600, 10


@dataclass(frozen=True)
class Reply:
    """What an Events API request comes to: PagerDuty's status and body, and whether it queued
    work for the worker (a page: wake it)."""

    status: int
    body: dict
    queued: bool = False


def reply(status: int, message: str, errors=(), **extra) -> Reply:
    """PagerDuty's answer: ``{"status": "success", "message", ...}`` or ``{"status": "invalid
    event", "message", "errors": [...]}``."""
    body = {"status": "success" if status == 202 else "invalid event", "message": message, **extra}
    if errors:
        body["errors"] = list(errors)
    return Reply(status, body)


@dataclass(frozen=True)
class _Opened:
    """An event whose routing key names a service: what it is applied with."""

    token: TokenInfo
    spec: ServiceSpec
    kept: bytes  # the body as it is kept: the routing key redacted
    content_type: str
    source: str | None  # the API log's "from": ?from=, else the event's client


def _open(engine, cache: SpecCache, parsed, raw: bytes, content_type: str | None, source: str | None,
          path: str, now: float) -> _Opened | Reply:
    """The event's service when its routing key names one; else the answer: 400 with the
    faults, or "Invalid routing key" (never the key)."""
    if parsed.routing_key is None:
        return reply(400, pagerduty.INVALID, parsed.errors)
    opened = open_routing(engine, cache, parsed.routing_key)
    if opened is None:
        log.warning("pagerduty %s -> 400: invalid routing key", path)
        return reply(400, pagerduty.INVALID, ["Invalid routing key"])
    token, spec = opened
    kept = pagerduty.redacted(raw, parsed.routing_key)
    kind, source = pagerduty.kept_type(content_type), source or parsed.client
    if not parsed.ok:
        call_id = record_refused(engine, token, kept, kind, source, now, parsed.errors)
        log.info("pagerduty %s -> 400 call=%s token_name=%s", path, call_id, token.name)
        return reply(400, pagerduty.INVALID, parsed.errors)
    return _Opened(token, spec, kept, kind, source)


def too_large(limit: int) -> Reply:
    return reply(413, pagerduty.INVALID, [f"The body is larger than {limit} bytes"])


def enqueue(engine, cache: SpecCache, raw: bytes | None, content_type: str | None, source: str | None,
            limit: int, path: str, now: float) -> Reply:
    """An alert event: trigger, acknowledge or resolve the incident of its ``dedup_key``.
    ``raw`` None: the body was over ``limit`` bytes (PagerDuty's own limit is 512 KB)."""
    if raw is None:
        return too_large(limit)
    parsed = pagerduty.parse_alert(raw)
    opened = _open(engine, cache, parsed, raw, content_type, source, path, now)
    if isinstance(opened, Reply):
        return opened
    result = process_event(engine, opened.token, opened.spec, parsed.event, opened.kept, opened.content_type,
                           opened.source, now, 202)
    log.info("pagerduty %s -> 202 call=%s token_name=%s", parsed.event.label, result.call_id, opened.token.name)
    return replace(reply(202, "Event processed", dedup_key=parsed.event.key), queued=result.queued)


def enqueue_change(engine, cache: SpecCache, raw: bytes | None, content_type: str | None, source: str | None,
                   limit: int, path: str, now: float) -> Reply:
    """A change event: stored on the service (a disabled service ignores it), pages nobody."""
    if raw is None:
        return too_large(limit)
    parsed = pagerduty.parse_change(raw, now)
    opened = _open(engine, cache, parsed, raw, content_type, source, path, now)
    if isinstance(opened, Reply):
        return opened
    if opened.spec.enabled:
        store_change(engine, opened.token, parsed.change, now)
    return reply(202, "Change event processed")


@dataclass(frozen=True)
class RecentChange:
    at: datetime
    summary: str
    source: str | None
    links: list
    details: str | None


def open_routing(engine, cache: SpecCache, key: str | None) -> tuple[TokenInfo, ServiceSpec] | None:
    """The service token a routing key names and its service's spec, in one short read; None
    for an unknown, revoked or global token, or a service that is gone (PagerDuty's "Invalid
    routing key"). :raises RuntimeError: the service's rules cannot be loaded (a bug: retry)."""
    found = open_with(engine, cache, lambda cursor: routing_key_token(cursor, key))
    if found is None or not found[1]:
        return None
    token, [spec] = found
    if isinstance(spec, Exception):
        raise RuntimeError(f"the service of token {token.name} cannot be loaded: {spec}")
    return token, spec


def record_refused(engine, token: TokenInfo, raw: bytes, content_type: str | None, source: str | None,
                   now: float, errors: tuple[str, ...]) -> str:
    """Keep an event refused with 400 (its faults) in the API log, with its body, so the sender's
    owner sees why: it was authenticated, so it is attributed (S33)."""
    call_id = new_call_id(now)
    payload = Payload.from_body(raw, content_type)

    def work(cursor):
        if payload.text:
            cursor.execute(STORE_PAYLOAD, {"digest": payload.digest, "text": payload.text})
        cursor.execute(INSERT_CALL, call_row(call_id, token, clock.to_db(now), source, content_type, len(raw),
                                            payload.digest if payload.text else None, 400, [],
                                            "invalid event: " + "; ".join(errors)))
    run_write(engine, work)
    return call_id


def store_change(engine, token: TokenInfo, change: Change, now: float) -> None:
    """Store one change event on the token's service."""
    def work(cursor):
        cursor.execute(INSERT_CHANGE, {
            "sid": token.service_id, "received_at": clock.to_db(now), "at": clock.to_db(change.at),
            "summary": change.summary, "source": change.source, "details": change.details,
            "links": json.dumps([list(link) for link in change.links]) if change.links else None,
            "token_name": token.name})
        touch_token(cursor, token, now)
    run_write(engine, work)


def recent_changes(engine, service_id: int, opened: datetime) -> list[RecentChange]:
    """The changes of a service in the 24 hours before an incident opened (newest first, at most 10)."""
    until = clock.from_db(opened)
    params = {"sid": service_id, "until": opened, "since": clock.to_db(until - RECENT_SECONDS), "n": RECENT_MAX}
    rows = run_read(engine, lambda cursor: cursor.execute(RECENT_CHANGES, params).fetchall())
    return [RecentChange(to_datetime(at), summary, source, _links(links), details)
            for at, summary, source, links, details in rows]


def _links(stored) -> list:
    try:
        found = from_json(stored)
    except ValueError:
        return []
    return [link for link in found or () if isinstance(link, list) and len(link) == 2]
