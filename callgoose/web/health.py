"""``GET /healthz`` (no login): is the database reachable, and is the background work done?"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, current_app, jsonify

from .. import clock
from ..extensions import db
from ..store.hotpath import Sql, read_cursor, to_datetime

bp = Blueprint("health", __name__)
HEARTBEAT = Sql("SELECT heartbeat_at FROM worker_leases WHERE name = 'worker'")


def _version() -> str:
    try:
        return version("callgoose")
    except PackageNotFoundError:
        return "unknown"


def report(worker, now: float) -> tuple[dict, int]:
    """The health document and its status: 503 when the database cannot be read.

    "degraded": the database answers, but no worker (in any process) has ticked within three
    leases, so retention and timers are not running.
    """
    doc = {"status": "ok", "database": "ok",
           "worker": {"leader": bool(worker and worker.leader),
                      "last_tick_at": clock.iso(clock.to_db(worker.last_tick_at)) if worker and worker.last_tick_at else None},
           "version": _version()}
    try:
        with read_cursor(db.engine) as cursor:
            row = cursor.execute(HEARTBEAT).fetchone()
    except Exception:
        doc.update(status="error", database="error")
        return doc, 503
    beat = clock.from_db(to_datetime(row[0])) if row and row[0] is not None else None
    if beat is None or now - beat > 3 * current_app.config["WORKER_LEASE_SECONDS"]:
        doc["status"] = "degraded"
    return doc, 200


@bp.get("/healthz")
def healthz():
    doc, status = report(current_app.extensions.get("callgoose_worker"), clock.now())
    return jsonify(doc), status
