"""``POST /v1/process`` and its aliases (S1): authenticate, read the body, process, answer."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import clock
from .bearer import require_token
from .errors import json_error
from .extensions import db
from .pipeline import process_call, record_rejected

bp = Blueprint("ingest", __name__)
log = logging.getLogger(__name__)
PATHS = ("/v1/process", "/api/v1/process", "/sqibs-api/v1/process")


@require_token
def process():
    """Process one call from a monitoring tool and answer with its outcome (S30, S31)."""
    started = time.perf_counter()
    token = g.api_token
    source = request.args.get("from") or None
    content_type = request.headers.get("Content-Type")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        limit = current_app.config["MAX_BODY_BYTES"]
        call_id = record_rejected(db.engine, token, 413, content_type, request.content_length or 0,
                                  source, clock.now(), f"body larger than {limit} bytes")
        log.warning("ingest %s -> 413 call=%s token_name=%s", request.full_path, call_id, token.name)
        return json_error(413, f"The body is larger than {limit} bytes; nothing was processed.")
    result = process_call(db.engine, current_app.extensions["callgoose_specs"], token, raw,
                          content_type, source, clock.now(),
                          current_app.config["DUPLICATE_WINDOW_SECONDS"])
    log.info("ingest %s -> %d call=%s token_name=%s %.1fms", request.full_path, result.status,
             result.call_id, token.name, (time.perf_counter() - started) * 1000)
    return jsonify(result.body), result.status


for _path in PATHS:
    bp.add_url_rule(_path, endpoint="process" if _path == PATHS[0] else _path.strip("/").replace("/", "_"),
                    view_func=process, methods=["POST"], provide_automatic_options=False)
