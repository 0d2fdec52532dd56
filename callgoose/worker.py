"""The background worker: exactly one process at a time runs the jobs, chosen by the database.

Every process that runs a worker ticks every ``WORKER_TICK_SECONDS``. On each tick it tries to
take or renew the lease: on SQLite a row with an expiry (``worker_leases``) that only its holder
or, once expired, anyone may take; on PostgreSQL a session advisory lock held on the worker's own
connection (it goes when the process dies) plus the same row for everyone to read. The leader
then runs the jobs that are due (their timers are rows) and records its heartbeat. Another
process takes over within one lease plus one tick when the leader dies.

A wake (:meth:`Worker.wake`: this process just queued a page, or a sender came free) runs only
the jobs that send (``jobs.HURRIED``), at once, while the lease is fresh: no lease renewal and
no timers, which the next regular tick does (issue 22: a tick on every new incident cost the
server 0.7 ms of CPU per call, ten commits each).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from . import clock
from .jobs import APP_JOBS, HURRIED, JOBS, deliver
from .store.database import CLOCK_SYNC_SECONDS, sync_clock
from .store.hotpath import Sql, read_cursor, to_datetime, write_cursor

log = logging.getLogger(__name__)
LEASE = "worker"
ADVISORY_CLASS = 0x4347_574B  # "CGWK", with the schema's hash as the lock's second key

INSERT_LEASE = Sql("INSERT INTO worker_leases (name) VALUES (:name) ON CONFLICT (name) DO NOTHING")
TAKE_LEASE = Sql("""
    UPDATE worker_leases SET holder = :me, expires_at = :expires, heartbeat_at = :now
    WHERE name = :name AND (:force OR holder = :me OR holder IS NULL OR expires_at IS NULL OR expires_at < :now)
""")
TIMERS = Sql("SELECT name, next_run_at FROM job_timers")
INSERT_TIMER = Sql("INSERT INTO job_timers (name, next_run_at) VALUES (:name, :now) ON CONFLICT (name) DO NOTHING")
SET_TIMER = Sql("UPDATE job_timers SET next_run_at = :next, last_run_at = :now, last_error = :error WHERE name = :name")
RELEASE_LEASE = Sql("UPDATE worker_leases SET holder = NULL, expires_at = NULL WHERE name = :name AND holder = :me")


class Worker:
    """One process's worker; :meth:`tick` is one turn (tests drive it with their own ``now``)."""

    def __init__(self, app):
        self.app = app
        self.engine = None
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.leader = False
        self.last_tick_at: float | None = None
        self._lock_conn = None  # PostgreSQL: the connection holding the advisory lock
        self._renewed_at: float | None = None
        self._job_clock = (0.0, 0.0)  # (the tick's now, time.monotonic() then)
        self._synced_at: float | None = None  # time.monotonic() of the last read of the database's clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders = None  # the delivery job's sender threads: sends outlive a tick
        self._progress_at: float | None = None  # time.monotonic() of the running tick's start or last keep_alive
        self._gave_up = False  # the watchdog gave the lease up during this tick

    @property
    def tick_seconds(self) -> float:
        return self.app.config["WORKER_TICK_SECONDS"]

    @property
    def lease_seconds(self) -> float:
        return self.app.config["WORKER_LEASE_SECONDS"]

    def _engine(self):
        if self.engine is None:
            from .extensions import db

            with self.app.app_context():
                self.engine = db.engine
        return self.engine

    def _advisory(self) -> bool:
        """PostgreSQL: hold (or take) the session advisory lock on a connection of our own."""
        engine = self._engine()
        try:
            if self._lock_conn is None:
                self._lock_conn = engine.raw_connection()
                self._lock_conn.autocommit = True
            cursor = self._lock_conn.cursor()
            # keyed by the install's schema too: two installs in one database each have a leader
            cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (ADVISORY_CLASS,))
            held = bool(cursor.fetchone()[0])
            cursor.close()
            return held
        except Exception:
            self._drop_lock_connection()
            raise

    def _drop_lock_connection(self):
        """Close the advisory lock's connection (PostgreSQL then releases the lock)."""
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        driver = conn.driver_connection
        try:
            conn.invalidate()
        except Exception:  # the connection is already gone
            pass
        try:
            driver.close()
        except Exception:
            pass

    def _take_lease(self, now: float) -> bool:
        engine = self._engine()
        postgresql = engine.dialect.name == "postgresql"
        if postgresql and not self._advisory():
            return False
        with write_cursor(engine) as cursor:
            cursor.execute(INSERT_LEASE, {"name": LEASE})
            # On PostgreSQL the advisory lock is the lease: its holder writes the row whatever it says.
            taken = cursor.changed(TAKE_LEASE, {"name": LEASE, "me": self.me, "now": clock.to_db(now),
                                                "expires": clock.to_db(now + self.lease_seconds),
                                                "force": postgresql})
        return taken == 1

    def _run_due_jobs(self, now: float) -> None:
        engine = self._engine()
        self._job_clock, self._renewed_at = (now, time.monotonic()), now
        with read_cursor(engine) as cursor:  # every timer in one read; only the leader writes them
            timers = dict(cursor.execute(TIMERS).fetchall())
        for name, (job, interval) in JOBS.items():
            if interval == 0:  # every tick: what is due is in the job's own rows (the outbox, timers)
                self._run_job(name, job, now)
                continue
            due = timers.get(name)
            if due is None:  # a job's first run ever: its row, due now
                with write_cursor(engine) as cursor:
                    cursor.execute(INSERT_TIMER, {"name": name, "now": clock.to_db(now)})
            elif clock.from_db(to_datetime(due)) > now:
                continue
            error = self._run_job(name, job, now)
            with write_cursor(engine) as cursor:
                cursor.execute(SET_TIMER, {"name": name, "next": clock.to_db(now + interval),
                                           "now": clock.to_db(now), "error": error})

    def _run_job(self, name: str, job, now: float) -> str | None:
        """Run one job; return its error (a failing job is logged and retried at its next turn)."""
        extra = {}
        if name == "deliver":  # its sends go on in threads of their own while the worker ticks
            self._senders = self._senders or deliver.senders_for(self.app.config, self.wake)
            extra["senders"] = self._senders
        if name in APP_JOBS:  # it acts through the services, in an app context of its own
            extra["app"] = self.app
        try:
            said = job(self._engine(), self.app.config, now, self._keep_alive, **extra)
            if said:
                log.info("job %s: %s", name, said)
        except Exception as exc:
            log.exception("job %s failed", name)
            return f"{type(exc).__name__}: {exc}"[:1000]
        return None

    def hurry(self, now: float | None = None) -> bool:
        """After a wake: run the jobs that send (``HURRIED``) now, if this process leads and its
        lease was renewed within half a lease; else do nothing and leave it to the next tick.
        Returns whether they ran. Never raises."""
        now = clock.now() if now is None else now
        renewed = self._renewed_at
        if not self.leader or self._gave_up or renewed is None or not 0 <= now - renewed < self.lease_seconds / 2:
            return False
        self._job_clock = (now, time.monotonic())
        self._progress_at = time.monotonic()
        try:
            for name in HURRIED:
                self._run_job(name, JOBS[name][0], now)
        finally:
            self._progress_at = None
        return True

    def _keep_alive(self) -> None:
        """Renew the lease during a long job, at most once a tick (the tick's ``now`` plus the
        time the job has taken, so a test's clock and the real one agree)."""
        if self._gave_up:
            raise RuntimeError("the tick ran past the lease and gave the worker lease up")
        self._progress_at = time.monotonic()
        base, started = self._job_clock
        now = base + (time.monotonic() - started)
        if now - (self._renewed_at or base) >= self.tick_seconds:
            self._renewed_at = now
            if not self._take_lease(now):
                raise RuntimeError("the worker lease was lost during a job")

    def tick(self, now: float | None = None) -> bool:
        """Take or renew the lease and, as the leader, run the jobs that are due. Never raises."""
        now = clock.now() if now is None else now
        self._gave_up, self._progress_at = False, time.monotonic()
        try:
            self.leader = self._take_lease(now)
            if self.leader:
                self._run_due_jobs(now)
        except Exception:  # the database may be away: try again next tick
            log.exception("worker tick failed")
            self.leader = False
        finally:
            self._progress_at = None
        self.last_tick_at = now
        return self.leader and not self._gave_up

    def _watch(self) -> None:
        """A leader whose tick makes no progress (starts, or a job's keep_alive) for a lease (a
        hung statement, a bug) lets go:
        on PostgreSQL its advisory lock goes with the lock's connection, so a standby takes
        over within a tick; on SQLite the lease row, no longer renewed, lapses by itself."""
        while not self._stop.wait(self.tick_seconds):
            began = self._progress_at
            if began is None or time.monotonic() - began < self.lease_seconds or self._gave_up:
                continue
            log.error("a worker tick made no progress for %.0f s: giving up the worker lease",
                      time.monotonic() - began)
            self._gave_up, self.leader = True, False
            if self._lock_conn is not None:
                self._drop_lock_connection()

    def _sync_clock(self) -> None:
        """Read the database's clock again at most once a minute (timers are compared with it)."""
        if self._synced_at is not None and time.monotonic() - self._synced_at < CLOCK_SYNC_SECONDS:
            return
        try:
            offset = sync_clock(self._engine())
            if abs(offset) > 5:
                log.warning("this host's clock is %.1f s %s the database's; timers follow the database's",
                            abs(offset), "behind" if offset > 0 else "ahead of")
            self._synced_at = time.monotonic()
        except Exception:  # the database may be away: the tick says so; try again next turn
            log.warning("could not read the database's clock", exc_info=True)

    def _loop(self):
        woken, next_tick = False, 0.0
        while not self._stop.is_set():
            self._wake.clear()
            if woken and time.monotonic() < next_tick:
                self.hurry()  # a process that does not lead leaves it to the leader's tick
            else:
                self._sync_clock()
                self.tick()
                next_tick = time.monotonic() + self.tick_seconds  # wakes do not postpone the ticks
            woken = self._wake.wait(max(0.0, next_tick - time.monotonic()))

    def wake(self) -> None:
        """Send now rather than at the next tick (this process just queued notifications, or a
        sender came free): :meth:`hurry`. A hint only; the rows are what counts, and any
        process's worker finds them."""
        self._wake.set()

    def start(self) -> "Worker":
        """Run the worker in a daemon thread of this process."""
        self._thread = threading.Thread(target=self._loop, name="callgoose-worker", daemon=True)
        self._thread.start()
        threading.Thread(target=self._watch, name="callgoose-worker-watchdog", daemon=True).start()
        return self

    def run_forever(self) -> None:
        """Run in the foreground until :meth:`stop` (the ``worker`` command)."""
        threading.Thread(target=self._watch, name="callgoose-worker-watchdog", daemon=True).start()
        self._loop()

    def stop(self) -> None:
        """Stop ticking and hand the lease back, so another process takes over at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.tick_seconds + 5)
        try:
            with write_cursor(self._engine()) as cursor:
                cursor.execute(RELEASE_LEASE, {"name": LEASE, "me": self.me})
        except Exception:
            log.warning("could not release the worker lease; it expires by itself")
        if self._lock_conn is not None:  # PostgreSQL: unlock now; closing alone frees it only once
            try:                          # the server has noticed, a moment later
                cursor = self._lock_conn.cursor()
                cursor.execute("SELECT pg_advisory_unlock_all()")
                cursor.close()
            except Exception:
                pass
        self._drop_lock_connection()
        if self._senders is not None:
            self._senders.shutdown()
        self.leader = False
