"""PagerDuty's Events API v2 (issue 18): ``POST /v2/enqueue`` and ``POST /v2/change/enqueue``,
answered as PagerDuty answers, so a sender switches by changing its URL.

The work is services/pagerduty.py's and the answer web.lean's: its middleware takes these POSTs
before Flask's request machinery (issue 22). The routes stay registered here, so the URL map, a
GET's 405 and the OpenAPI document's scope (``declare``) see them; should a request reach them,
it is answered the same way.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ..services import pagerduty
from ..services.tokens import INGEST
from .scope import declare

bp = Blueprint("pagerduty", __name__)


def _answer(handle):
    lean = current_app.extensions["callgoose_lean"]
    return lean.guarded(request, lean.event, handle)


@bp.post("/v2/enqueue")
@declare(INGEST)
def enqueue():
    """An alert event: trigger, acknowledge or resolve the incident of its ``dedup_key``."""
    return _answer(pagerduty.enqueue)


@bp.post("/v2/change/enqueue")
@declare(INGEST)
def change_enqueue():
    """A change event: stored on the service (a disabled service ignores it), pages nobody."""
    return _answer(pagerduty.enqueue_change)
