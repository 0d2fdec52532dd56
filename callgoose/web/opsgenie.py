"""Opsgenie's Alert API and heartbeat pings (issue 18), so a sender switches by changing its URL.

``Authorization: GenieKey <service token>``. Every answer is Opsgenie's shape: ``{"result",
"took", "requestId"}`` for an accepted request (202), ``{"message", "took", "requestId"}``
(``"errors"`` naming the fields at fault on a 422) for a refused one; the app-level error
handlers (web/errors.py) answer this API's 404, 405 and 500 the same way (:func:`error`).
"""

from __future__ import annotations

import logging
import time
import uuid

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import clock
from ..engine.opsgenie import ACTIONS, Refused
from ..extensions import db
from ..services import opsgenie
from ..services.tokens import INGEST, may, refusal
from .scope import declare
from .wake import wake_worker

bp = Blueprint("opsgenie", __name__)
log = logging.getLogger(__name__)
PREFIXES = ("/v2/alerts", "/v2/heartbeats")  # PagerDuty's /v2/enqueue is another API's
ACCEPTED = "Request will be processed"
PONG = "PONG - Heartbeat received"
UNAUTHENTICATED = ("Could not authenticate: send 'Authorization: GenieKey <token>' with a Callgoose token "
                   "of one service")


def is_opsgenie_path(path: str) -> bool:
    return path == PREFIXES[0] or path.startswith(tuple(p + "/" for p in PREFIXES))


def _reply(status: int, body: dict, started: float | None = None, request_id: str | None = None):
    request_id = request_id or str(uuid.uuid4())
    took = round(time.perf_counter() - started, 3) if started is not None else 0.0
    response = jsonify({**body, "took": took, "requestId": request_id})
    response.status_code = status
    response.headers["X-Request-ID"] = request_id
    if status == 401:
        response.headers["WWW-Authenticate"] = 'GenieKey realm="callgoose"'
    return response


def error(status: int, message: str, errors: dict | None = None, started: float | None = None,
          request_id: str | None = None):
    """Opsgenie's error answer; it never echoes the key."""
    return _reply(status, {"message": message, **({"errors": errors} if errors else {})}, started, request_id)


def _key() -> str | None:
    scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "geniekey" else None


def _open(started: float):
    """The key's (token, spec), or the answer refusing it: 401 for a missing, unknown, revoked or
    global key, 403 for an API token (issue 19: this API is ingestion)."""
    opened = opsgenie.open_key(db.engine, current_app.extensions["callgoose_specs"], _key())
    if opened is None:
        return None, error(401, UNAUTHENTICATED, started=started)
    if not may(opened[0].scope, INGEST):
        return None, error(403, refusal(opened[0].scope, INGEST), started=started)
    return opened, None


def _handle(work, result: str):
    """Authenticate, read the body within its limit, run ``work(token, spec, raw, content_type)``
    and answer 202 with ``result``, or the refusal."""
    started = time.perf_counter()
    opened, refused = _open(started)
    if refused is not None:
        return refused
    token, spec = opened
    request.max_content_length = limit = current_app.config["MAX_BODY_BYTES"]
    content_type = request.headers.get("Content-Type")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        answer = opsgenie.refuse(db.engine, token, Refused(413, f"The body is larger than {limit} bytes."),
                                 request.content_length or 0, content_type, clock.now())
    else:
        answer = work(token, spec, raw, content_type)
    log.info("opsgenie %s %s -> %d call=%s token_name=%s %.1fms", request.method, request.path, answer.status,
             answer.request_id, token.name, (time.perf_counter() - started) * 1000)
    if answer.queued:
        wake_worker()
    if answer.refused is not None:
        return error(answer.status, answer.refused.message, answer.refused.errors, started, answer.request_id)
    return _reply(answer.status, {"result": result}, started, answer.request_id)


@bp.post("/v2/alerts")
@declare(INGEST)
def create():
    """Create Alert: open an incident, or count a repeat on the open one of its alias (S26)."""
    return _handle(lambda token, spec, raw, ctype: opsgenie.alert(
        db.engine, token, spec, "create", raw, ctype, clock.now()), ACCEPTED)


@declare(INGEST)
def act(identifier: str, action: str):
    """Close, acknowledge, add a note to, retitle or redescribe the alert ``identifier`` names."""
    kind = request.args.get("identifierType")
    return _handle(lambda token, spec, raw, ctype: opsgenie.alert(
        db.engine, token, spec, action, raw, ctype, clock.now(), identifier, kind), ACCEPTED)


@bp.get("/v2/alerts/requests/<request_id>")
@declare(INGEST)
def request_status(request_id: str):
    """Get Request Status: what an Alert API request of this key's service did."""
    started = time.perf_counter()
    opened, refused = _open(started)
    if refused is not None:
        return refused
    data = opsgenie.request_status(db.engine, opened[0], request_id)
    if data is None:
        return error(404, "Request not found: no Alert API request of this key's service has that id",
                     started=started)
    return _reply(200, {"data": data}, started)


@declare(INGEST)
def ping(name: str):
    """Ping Heartbeat: the heartbeat ``name`` of this key's service got a call (the first creates it)."""
    return _handle(lambda token, spec, raw, ctype: opsgenie.ping(
        db.engine, token, spec, name, raw, ctype, clock.now()), PONG)


# close, acknowledge and notes are POSTs; Opsgenie documents message and description as PUTs
# (Alertmanager's update_alerts sends PUT), and POST is taken for them too.
for _action in ACTIONS:
    if _action != "create":
        bp.add_url_rule(f"/v2/alerts/<path:identifier>/{_action}", endpoint=f"alert_{_action}", view_func=act,
                        defaults={"action": _action},
                        methods=["POST", "PUT"] if _action in ("message", "description") else ["POST"])
bp.add_url_rule("/v2/heartbeats/<path:name>/ping", endpoint="ping", view_func=ping,
                methods=["GET", "POST", "PUT", "PATCH"])
