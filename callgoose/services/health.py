"""Whether the database answers and whether the background work is being done."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .. import clock
from ..store.hotpath import Sql, to_datetime
from ..store.transactions import run_read

HEARTBEAT = Sql("SELECT heartbeat_at FROM worker_leases WHERE name = 'worker'")


def _version() -> str:
    try:
        return version("callgoose")
    except PackageNotFoundError:
        return "unknown"


def report(engine, worker, now: float, lease_seconds: int) -> tuple[dict, int]:
    """The health document and its status: 503 when the database cannot be read.

    "degraded": the database answers, but no worker (in any process) has ticked within three
    leases, so retention and timers are not running.
    """
    doc = {"status": "ok", "database": "ok",
           "worker": {"leader": bool(worker and worker.leader),
                      "last_tick_at": clock.iso(clock.to_db(worker.last_tick_at)) if worker and worker.last_tick_at else None},
           "version": _version()}
    try:
        row = run_read(engine, lambda cursor: cursor.execute(HEARTBEAT).fetchone())
    except Exception:
        doc.update(status="error", database="error")
        return doc, 503
    beat = clock.from_db(to_datetime(row[0])) if row and row[0] is not None else None
    if beat is None or now - beat > 3 * lease_seconds:
        doc["status"] = "degraded"
    return doc, 200
