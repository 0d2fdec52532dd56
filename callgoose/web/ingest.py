"""``POST /v1/process`` and its aliases (S1): authenticate, read the body, process, answer."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import clock
from ..extensions import db
from ..services.ingestion import body_limit, open_call, process_call, record_rejected
from ..services.tokens import INGEST
from .bearer import declare, presented_token, refused, unauthorized
from .errors import json_error
from .wake import wake_worker

bp = Blueprint("ingest", __name__)
log = logging.getLogger(__name__)
PATHS = ("/v1/process", "/api/v1/process", "/sqibs-api/v1/process")


def _logged_url() -> str:
    """Path and query for the log, as the app decoded them, with the token's value redacted (S4).

    Redacting the decoded names catches ``?tok%65n=%63%67...``, which authenticates as well.
    """
    args = [(name, "[REDACTED]" if name == "token" else value)
            for name, value in request.args.items(multi=True)]
    return f"{request.path}?{urlencode(args, safe='[]')}" if args else request.path


@declare(INGEST)
def process():
    """Process one call from a monitoring tool and answer with its outcome (S30, S31); an API
    token (issue 19) sends no alerts: 403, naming the scope needed."""
    started = time.perf_counter()
    opened = open_call(db.engine, current_app.extensions["callgoose_specs"], presented_token(request))
    if opened is None:
        return unauthorized()
    token, specs = opened
    if (refusal := refused(token, INGEST)) is not None:
        return refusal
    config = current_app.config
    request.max_content_length = body_limit(specs, config["MAX_BODY_BYTES"], config["SPLIT_MAX_BODY_BYTES"])
    source = request.args.get("from") or None
    content_type = request.headers.get("Content-Type")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        limit = request.max_content_length
        call_id = record_rejected(db.engine, token, 413, content_type, request.content_length or 0,
                                  source, clock.now(), f"body larger than {limit} bytes")
        log.warning("ingest %s -> 413 call=%s token_name=%s", _logged_url(), call_id, token.name)
        return json_error(413, f"The body is larger than {limit} bytes; nothing was processed.")
    result = process_call(db.engine, token, specs, raw, content_type, source, clock.now(),
                          config["DUPLICATE_WINDOW_SECONDS"], max_elements=config["SPLIT_MAX_ELEMENTS"])
    log.log(logging.WARNING if result.status == 413 else logging.INFO, "ingest %s -> %d call=%s token_name=%s %.1fms",
            _logged_url(), result.status, result.call_id, token.name, (time.perf_counter() - started) * 1000)
    if result.status in (200, 201):
        wake_worker()
    return jsonify(result.body), result.status


for _path in PATHS:
    bp.add_url_rule(_path, endpoint="process" if _path == PATHS[0] else _path.strip("/").replace("/", "_"),
                    view_func=process, methods=["POST"], provide_automatic_options=False)
