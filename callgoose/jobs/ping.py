"""The dead-man's switch: GET ``HEALTH_PING_URL`` once a ``HEALTH_PING_INTERVAL_SECONDS``
(default a minute) while paging works, so a pager that dies or stops paging pages someone
else (Healthchecks, another Callgoose's heartbeat, any URL that alerts when it stops).

It runs last in every tick and keeps its own timer row (``job_timers``, name ``ping``), so
the interval is a setting. "Paging works" is :meth:`services.health.PagingState.works`: no
job's last run failed (the every-tick jobs of this very tick included) and no due page has
waited longer than a minute; else the ping is skipped and the receiver alerts. A tick that
hangs never reaches this job, so the pings stop then too. The ping's own failure is
reported (``/healthz``) but does not stop the next one.

:func:`recorded` gives the every-tick jobs a ``job_timers`` row too, so ``/healthz`` can
show their last error.
"""

from __future__ import annotations

import logging

from ..delivery import TIMEOUT_SECONDS
from ..delivery import ping as http_ping
from ..services import health

log = logging.getLogger(__name__)
NAME = "ping"
RECORD_EVERY_SECONDS = 15  # an every-tick job's row is rewritten this often, and when its outcome changes


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    url = config.get("HEALTH_PING_URL")
    if not url:
        return None
    due, _, _ = health.job_row(engine, NAME)
    if due is not None and due > now:
        return None
    interval = config.get("HEALTH_PING_INTERVAL_SECONDS") or 60
    state = health.paging_state(engine, now)
    if not state.works(ignore=(NAME,)):
        health.record_timed_job(engine, NAME, now, now + interval, None)
        failed = ", ".join(sorted(state.failed_jobs(ignore=(NAME,))))
        waited = state.oldest_pending_seconds if state.pages_wait else None
        return f"ping skipped: failed jobs: {failed or 'none'}; oldest page waits {waited or 0:.0f} s"
    deadline = min(float(config.get("DELIVERY_TIMEOUT_SECONDS") or TIMEOUT_SECONDS), TIMEOUT_SECONDS)
    error = None
    try:
        http_ping.get(url, deadline)
    except Exception as exc:  # Temporary, Permanent: shown on /healthz; the next ping tries again
        error = f"{type(exc).__name__}: {exc}"[:1000]
    health.record_timed_job(engine, NAME, now, now + interval, error)
    if error:
        log.warning("health ping failed: %s", error)
    return None


def recorded(name: str, job):
    """``job`` (an every-tick job), recording its outcome in its ``job_timers`` row: at once
    when it changes, else every :data:`RECORD_EVERY_SECONDS` (not a write on every tick)."""
    def run_and_record(engine, config, now: float, keep_alive=lambda: None, **extra):
        error = None
        try:
            return job(engine, config, now, keep_alive, **extra)  # the deliver job's senders too
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            raise
        finally:
            try:
                health.record_job(engine, name, now, error, RECORD_EVERY_SECONDS)
            except Exception:  # the database may be away: the worker logs the job's own error
                log.warning("could not record the outcome of job %s", name)
    run_and_record.__name__ = f"recorded_{name}"
    return run_and_record
