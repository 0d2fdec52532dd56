"""Whether the database answers and whether the background work is being done: the worker's
heartbeat, each job's last run and error (``job_timers``), and how long the oldest due page
has waited in the outbox. ``/healthz``, the admins' banner and the dead-man's ping
(``jobs/ping.py``) all read :func:`paging_state`, so they never disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from .. import clock
from ..engine.paging import State
from ..store.hotpath import Sql, to_datetime
from ..store.transactions import run_read, run_write

HEARTBEAT = Sql("SELECT heartbeat_at FROM worker_leases WHERE name = 'worker'")
JOB_ROWS = Sql("SELECT name, last_run_at, last_error FROM job_timers ORDER BY name")
# What the worker should already have sent: pending and due (a retry or a rate limit moves
# ``due_at`` on, so a page held on purpose does not count as waiting).
OLDEST_DUE = Sql(f"SELECT min(due_at) FROM notifications WHERE status = '{State.PENDING}' AND due_at <= :now")
RECORD_JOB = Sql("""
    INSERT INTO job_timers (name, next_run_at, last_run_at, last_error) VALUES (:name, :next, :now, :error)
    ON CONFLICT (name) DO UPDATE SET next_run_at = excluded.next_run_at, last_run_at = excluded.last_run_at,
                                     last_error = excluded.last_error
""")
JOB_ROW = Sql("SELECT next_run_at, last_run_at, last_error FROM job_timers WHERE name = :name")
MAX_WAIT_SECONDS = 60  # a due page waiting longer than this: paging does not work


@dataclass(frozen=True)
class PagingState:
    """What the worker's rows say: each job's last run and error, the oldest due page's wait."""

    heartbeat_at: float | None
    jobs: dict = field(default_factory=dict)  # name -> (last_run_at epoch or None, last_error or None)
    oldest_pending_seconds: float | None = None

    def failed_jobs(self, ignore: tuple[str, ...] = ()) -> dict:
        return {name: error for name, (_, error) in self.jobs.items() if error and name not in ignore}

    @property
    def pages_wait(self) -> bool:
        return self.oldest_pending_seconds is not None and self.oldest_pending_seconds > MAX_WAIT_SECONDS

    def works(self, ignore: tuple[str, ...] = ()) -> bool:
        """No job's last run failed and no due page waits longer than a minute."""
        return not self.failed_jobs(ignore) and not self.pages_wait


def _epoch(value) -> float | None:
    value = to_datetime(value)
    return clock.from_db(value) if value is not None else None


def paging_state(engine, now: float) -> PagingState:
    """Read the worker's heartbeat, the job rows and the outbox's oldest due page (three reads)."""
    def read(cursor):
        beat = cursor.execute(HEARTBEAT).fetchone()
        jobs = {name: (_epoch(at), error) for name, at, error in cursor.execute(JOB_ROWS).fetchall()}
        oldest = cursor.execute(OLDEST_DUE, {"now": clock.to_db(now)}).fetchone()[0]
        return beat[0] if beat else None, jobs, oldest
    beat, jobs, oldest = run_read(engine, read)
    oldest = _epoch(oldest)
    return PagingState(_epoch(beat), jobs, None if oldest is None else round(max(0.0, now - oldest), 3))


def problems(engine, now: float) -> PagingState | None:
    """The state when an admin should be told (a job failed, a page waits): else None."""
    state = paging_state(engine, now)
    return None if state.works() else state


def job_row(engine, name: str) -> tuple[float | None, float | None, str | None]:
    """A job's (next run, last run, last error) from its timer row (all None: no row yet)."""
    row = run_read(engine, lambda cursor: cursor.execute(JOB_ROW, {"name": name}).fetchone())
    return (_epoch(row[0]), _epoch(row[1]), row[2]) if row else (None, None, None)


def record_job(engine, name: str, now: float, error: str | None, every: float) -> None:
    """Record an every-tick job's run (the worker keeps timer rows only for periodic jobs):
    a write when its outcome changed or its row is ``every`` seconds old, else only a read."""
    _, last_run, last_error = job_row(engine, name)
    if last_run is None or last_error != error or not 0 <= now - last_run < every:
        record_timed_job(engine, name, now, now, error)


def record_timed_job(engine, name: str, now: float, next_at: float, error: str | None) -> None:
    """Record a run of a job that keeps its own timer, and when it runs next."""
    run_write(engine, lambda cursor: cursor.execute(RECORD_JOB, {
        "name": name, "now": clock.to_db(now), "next": clock.to_db(next_at), "error": error}))


def _version() -> str:
    try:
        return version("callgoose")
    except PackageNotFoundError:
        return "unknown"


def report(engine, worker, now: float, lease_seconds: int) -> tuple[dict, int]:
    """The health document and its status: 503 when the database cannot be read.

    "degraded": the database answers, but no worker (in any process) has ticked within three
    leases, a job's last run failed, or a due page has waited longer than a minute.
    """
    doc = {"status": "ok", "database": "ok",
           "worker": {"leader": bool(worker and worker.leader),
                      "last_tick_at": clock.iso(clock.to_db(worker.last_tick_at)) if worker and worker.last_tick_at else None},
           "version": _version(), "jobs": {}, "outbox": {"oldest_pending_seconds": None}}
    try:
        state = paging_state(engine, now)
    except Exception:
        doc.update(status="error", database="error")
        return doc, 503
    doc["jobs"] = {name: {"last_run_at": clock.iso(clock.to_db(at)), "last_error": error}
                   for name, (at, error) in state.jobs.items()}
    doc["outbox"]["oldest_pending_seconds"] = state.oldest_pending_seconds
    beat = state.heartbeat_at
    if beat is None or now - beat > 3 * lease_seconds or not state.works():
        doc["status"] = "degraded"
    return doc, 200
