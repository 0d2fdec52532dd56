"""``GET /healthz`` (no login): is the database reachable, and is the background work done?"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .. import clock
from ..extensions import db
from ..services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    doc, status = health.report(db.engine, current_app.extensions.get("callgoose_worker"), clock.now(),
                                current_app.config["WORKER_LEASE_SECONDS"])
    return jsonify(doc), status
