"""The ingestion routes without the dashboard's machinery (issue 22, item 3).

``POST /v1/process`` (and its aliases), and PagerDuty's ``POST /v2/enqueue`` and
``/v2/change/enqueue``, need none of what a dashboard request goes through:
no session cookie to open and save, no login loader, CSRF, locale selection, templates or
``before_request`` hooks (each of which only concerns a browser). This WSGI middleware,
in front of the Flask app, answers those POSTs itself with the same services the Flask view
calls (authenticate, read the body, process, answer): the same statuses, bodies, headers and
log line, in about a fifth less server CPU per call (README, "Benchmark"). Every other request,
including an OPTIONS or a GET on those paths, goes to Flask as before; the Flask view stays
registered (the URL map, the OpenAPI document and ``app.test_client`` with a non-WSGI call
path all see it) and behaves the same.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from .. import clock
from ..services import pagerduty
from ..services.ingestion import body_limit, open_call, process_call, record_rejected
from ..services.tokens import INGEST, may, refusal
from .bearer import UNAUTHORIZED, presented_token
from .errors import SECURITY_HEADERS, TEMPORARY, UNAUTHORIZED_HEADERS
from .wake import wake_worker

log = logging.getLogger("callgoose.web.ingest")  # the Flask view's logger: one log line, one name
PATHS = frozenset(("/v1/process", "/api/v1/process", "/sqibs-api/v1/process"))
EVENTS = {"/v2/enqueue": pagerduty.enqueue, "/v2/change/enqueue": pagerduty.enqueue_change}  # PagerDuty's API


def answer(body: dict, status: int, headers: dict | None = None) -> Response:
    """A JSON answer as Flask's ``jsonify`` writes it (sorted keys, compact, a final newline),
    with the headers every answer carries (web.errors.security_headers)."""
    text = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":")) + "\n"
    response = Response(text, status, mimetype="application/json")
    for name, value in SECURITY_HEADERS:
        response.headers[name] = value
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error(status: int, message: str, kind: str) -> Response:
    """web.errors.json_error's envelope: ``{"error", "message"}`` (a 401 names its scheme)."""
    return answer({"error": kind, "message": message}, status, UNAUTHORIZED_HEADERS if status == 401 else None)


class Lean:
    """WSGI middleware: ingestion POSTs answered here, the rest by ``inner`` (Flask)."""

    def __init__(self, app, inner):
        self.app = app
        self.inner = inner
        self._engine = None

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            path = environ.get("PATH_INFO")
            if path in PATHS:
                return self.ingest(Request(environ))(environ, start_response)
            handle = EVENTS.get(path)
            if handle is not None:
                return self.guarded(Request(environ), self.event, handle)(environ, start_response)
        return self.inner(environ, start_response)

    @property
    def engine(self):
        if self._engine is None:
            from ..extensions import db
            with self.app.app_context():
                self._engine = db.engine
        return self._engine

    def ingest(self, request: Request) -> Response:
        return self.guarded(request, self.process)

    def guarded(self, request: Request, answer_it, *args) -> Response:
        try:
            return answer_it(request, *args)
        except Exception as exc:  # as web.errors does for any view: logged, nothing stored, retry
            log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
            return error(500, TEMPORARY, "temporary")

    def event(self, request: Request, handle) -> Response:
        """web/pagerduty.py's views, without Flask: PagerDuty's Events API v2."""
        limit = request.max_content_length = self.app.config["MAX_BODY_BYTES"]
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            raw = None
        reply = handle(self.engine, self.app.extensions["callgoose_specs"], raw, request.headers.get("Content-Type"),
                       request.args.get("from") or None, limit, request.path, clock.now())
        if reply.queued:
            wake_worker(self.app)
        return answer(reply.body, reply.status)

    def process(self, request: Request) -> Response:
        """web.ingest.process, without Flask: the same steps, statuses and log line."""
        started = time.perf_counter()
        config, engine = self.app.config, self.engine
        opened = open_call(engine, self.app.extensions["callgoose_specs"], presented_token(request))
        if opened is None:
            return error(401, UNAUTHORIZED, "unauthorized")
        token, specs = opened
        if not may(token.scope, INGEST):
            return error(403, refusal(token.scope, INGEST), "insufficient_scope")
        request.max_content_length = body_limit(specs, config["MAX_BODY_BYTES"], config["SPLIT_MAX_BODY_BYTES"])
        source = request.args.get("from") or None
        content_type = request.headers.get("Content-Type")
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            limit = request.max_content_length
            call_id = record_rejected(engine, token, 413, content_type, request.content_length or 0, source,
                                      clock.now(), f"body larger than {limit} bytes")
            log.warning("ingest %s -> 413 call=%s token_name=%s", logged_url(request), call_id, token.name)
            return error(413, f"The body is larger than {limit} bytes; nothing was processed.", "payload_too_large")
        result = process_call(engine, token, specs, raw, content_type, source, clock.now(),
                              config["DUPLICATE_WINDOW_SECONDS"], max_elements=config["SPLIT_MAX_ELEMENTS"])
        log.log(logging.WARNING if result.status == 413 else logging.INFO, "ingest %s -> %d call=%s token_name=%s "
                "%.1fms", logged_url(request), result.status, result.call_id, token.name,
                (time.perf_counter() - started) * 1000)
        if result.queued:
            wake_worker(self.app)
        return answer(result.body, result.status)


def logged_url(request) -> str:
    """Path and query for the log, as decoded, with the token's value redacted (S4).

    Redacting the decoded names catches ``?tok%65n=%63%67...``, which authenticates as well.
    """
    args = [(name, "[REDACTED]" if name == "token" else value) for name, value in request.args.items(multi=True)]
    return f"{request.path}?{urlencode(args, safe='[]')}" if args else request.path
