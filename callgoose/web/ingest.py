"""``POST /v1/process`` and its aliases (S1): authenticate, read the body, process, answer.

The answer is web.lean's: its middleware takes these POSTs before Flask's request machinery
(issue 22). The route stays registered here, so the URL map, a GET's 405 and the OpenAPI
document's scope (``declare``) see it; should a request reach it, it is answered the same way.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ..services.tokens import INGEST
from .lean import PATHS
from .scope import declare

bp = Blueprint("ingest", __name__)


@declare(INGEST)
def process():
    """Process one call from a monitoring tool and answer with its outcome (S30, S31); an API
    token (issue 19) sends no alerts: 403, naming the scope needed."""
    return current_app.extensions["callgoose_lean"].ingest(request)


for _path in sorted(PATHS, key=len):
    bp.add_url_rule(_path, endpoint="process" if _path == "/v1/process" else _path.strip("/").replace("/", "_"),
                    view_func=process, methods=["POST"], provide_automatic_options=False)
