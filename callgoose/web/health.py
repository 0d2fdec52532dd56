"""``GET /healthz`` (no login): is the database reachable, and is the background work done?
Also the admins' banner on every page (:func:`problems`, a template global)."""

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


def problems():
    """What the banner tells admins (a failed job, a page waiting), or None; never raises,
    so a database that does not answer cannot break every page (/healthz says so)."""
    try:
        return health.problems(db.engine, clock.now())
    except Exception:
        current_app.logger.warning("health banner: the database did not answer", exc_info=True)
        return None
