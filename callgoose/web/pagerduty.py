"""PagerDuty's Events API v2 (issue 18): ``POST /v2/enqueue`` and ``POST /v2/change/enqueue``,
answered as PagerDuty answers, so a sender switches by changing its URL.

The credential is the body's ``routing_key`` (a service token): an unknown, revoked or global
one is refused as PagerDuty refuses an unknown key (400, "Invalid routing key"), nothing stored.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import clock
from ..engine import pagerduty
from ..extensions import db
from ..services.events import process_event
from ..services.pagerduty import open_routing, record_refused, store_change
from ..services.tokens import INGEST
from .scope import declare
from .wake import wake_worker

bp = Blueprint("pagerduty", __name__)
log = logging.getLogger(__name__)


class Opened(NamedTuple):
    """An event whose routing key names a service: what it is applied with."""

    token: object  # services.tokens.TokenInfo
    spec: object  # its service's engine.ServiceSpec
    kept: bytes  # the body as it is kept: the routing key redacted
    content_type: str
    source: str | None  # the API log's "from": ?from=, else the event's client


def _answer(status: int, message: str, errors=(), **extra):
    """PagerDuty's answer: ``{"status": "success", "message", ...}`` or ``{"status": "invalid
    event", "message", "errors": [...]}``."""
    body = {"status": "success" if status == 202 else "invalid event", "message": message, **extra}
    if errors:
        body["errors"] = list(errors)
    response = jsonify(body)
    response.status_code = status
    return response


def _body() -> bytes | None:
    """The raw body, or None when it is over ``MAX_BODY_BYTES`` (PagerDuty's limit is 512 KB)."""
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        return None


def _too_large():
    limit = current_app.config["MAX_BODY_BYTES"]
    return _answer(413, pagerduty.INVALID, [f"The body is larger than {limit} bytes"])


def _open(parsed: pagerduty.Parsed, raw: bytes, now: float):
    """The event :class:`Opened` when its routing key names a service; else the answer: 400
    with the faults, or "Invalid routing key" (never the key)."""
    if parsed.routing_key is None:
        return _answer(400, pagerduty.INVALID, parsed.errors)
    opened = open_routing(db.engine, current_app.extensions["callgoose_specs"], parsed.routing_key)
    if opened is None:
        log.warning("pagerduty %s -> 400: invalid routing key", request.path)
        return _answer(400, pagerduty.INVALID, ["Invalid routing key"])
    token, spec = opened
    kept = pagerduty.redacted(raw, parsed.routing_key)
    kind, source = pagerduty.kept_type(request.headers.get("Content-Type")), request.args.get("from") or parsed.client
    if not parsed.ok:
        call_id = record_refused(db.engine, token, kept, kind, source, now, parsed.errors)
        log.info("pagerduty %s -> 400 call=%s token_name=%s", request.path, call_id, token.name)
        return _answer(400, pagerduty.INVALID, parsed.errors)
    return Opened(token, spec, kept, kind, source)


@bp.post("/v2/enqueue")
@declare(INGEST)
def enqueue():
    """An alert event: trigger, acknowledge or resolve the incident of its ``dedup_key``."""
    raw, now = _body(), clock.now()
    if raw is None:
        return _too_large()
    parsed = pagerduty.parse_alert(raw)
    opened = _open(parsed, raw, now)
    if not isinstance(opened, Opened):
        return opened
    result = process_event(db.engine, opened.token, opened.spec, parsed.event, opened.kept, opened.content_type,
                           opened.source, now, 202)
    log.info("pagerduty %s -> 202 call=%s token_name=%s", parsed.event.label, result.call_id, opened.token.name)
    if result.queued:
        wake_worker()
    return _answer(202, "Event processed", dedup_key=parsed.event.key)


@bp.post("/v2/change/enqueue")
@declare(INGEST)
def change_enqueue():
    """A change event: stored on the service (a disabled service ignores it), pages nobody."""
    raw, now = _body(), clock.now()
    if raw is None:
        return _too_large()
    parsed = pagerduty.parse_change(raw, now)
    opened = _open(parsed, raw, now)
    if not isinstance(opened, Opened):
        return opened
    if opened.spec.enabled:
        store_change(db.engine, opened.token, parsed.change, now)
    return _answer(202, "Change event processed")
