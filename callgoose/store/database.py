"""Database engine settings, and starting ORM writes the SQLite-safe way.

SQLite: WAL, ``synchronous=FULL``, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE``
for writes (a deferred BEGIN that reads then writes fails at once under contention).
The ingestion path runs its transactions through :mod:`callgoose.hotpath`.
"""

from __future__ import annotations

import fcntl
import os
import select
import threading
import time
from contextlib import nullcontext

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError

from .. import clock
from ..extensions import db


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def engine_options(url: str, threads: int) -> dict:
    """Pool settings: at least one connection per server thread."""
    if url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") == "sqlite:"):
        return {}
    options = {"pool_size": max(threads, 5), "max_overflow": 10, "pool_timeout": 10}
    if url.startswith("postgresql"):
        # No SELECT 1 on every checkout (pool_pre_ping): it is a round trip a call, two on
        # the hot path. A checkout looks at the socket instead (_postgres_checkout); a
        # connection lost without a word fails its statement, and the hot path then drops
        # the pool's connections and retries (store.transactions.run_read and run_write).
        options["pool_recycle"] = 3600
    return options


def _sqlite_connect(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, see _sqlite_begin
    cursor = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000", "foreign_keys=ON"):
        cursor.execute("PRAGMA " + pragma)
    cursor.close()


def _sqlite_begin(conn: Connection):
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql("BEGIN " + mode)


def is_stale_connection_error(exc: BaseException) -> bool:
    """An error that only a new connection cures.

    SQLite opens a file it cannot write read-only, silently, and that connection stays
    read-only after the file becomes writable again: such a connection must be dropped.
    """
    return "readonly database" in str(exc) or "disk I/O error" in str(exc)


def _drop_stale_connections(context) -> None:
    if is_stale_connection_error(context.original_exception):
        context.is_disconnect = True  # SQLAlchemy discards the connection and refreshes the pool


HOLD_WATCHERS: list = []  # opt-in (tests, bench/): each is called with the seconds a writer held the lock


class FileWriteLock:
    """One writer at a time across this machine's processes (and this process's threads).

    A thread lock (re-entrant: a write may nest another) and ``flock`` on a file beside the
    database. When the file cannot be opened the lock is only the thread lock, and SQLite's
    own locking still keeps writes apart.
    """

    def __init__(self, path: str):
        self._threads = threading.RLock()
        self._depth = 0
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            self._fd = None

    def __enter__(self):
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._since = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            held = time.perf_counter() - self._since
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            for watcher in HOLD_WATCHERS:
                watcher(held)
        self._threads.release()


def write_lock(engine: Engine):
    """The lock a write transaction takes first: the file lock on SQLite, else nothing."""
    return getattr(engine, "callgoose_write_lock", None) or nullcontext()


def _postgres_checkout(dbapi_conn, _record, _proxy) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed, without a round trip.

    A server that ends a connection (a restart, ``pg_terminate_backend``, an idle timeout)
    sends a message and closes it. Callgoose never LISTENs, so an idle pooled connection
    with something to read is such a one (at worst a notice: a new connection costs little).
    The pool then takes another (SQLAlchemy's DisconnectionError protocol). This replaces
    ``pool_pre_ping``, which cost a ``SELECT 1`` round trip on every checkout.
    """
    if dbapi_conn.closed or dbapi_conn.broken:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()  # not select(): a busy server has sockets past fd 1024
    try:
        poller.register(dbapi_conn.pgconn.socket, select.POLLIN)
        readable = poller.poll(0)
    except (OSError, ValueError):
        raise DisconnectionError("the connection's socket is gone") from None
    if readable:
        raise DisconnectionError("the server sent something to an idle connection: it closed it")


def configure(engine: Engine) -> None:
    """Attach the SQLite settings to this app's engine (never to the global Engine class)."""
    if engine.dialect.name == "postgresql" and not event.contains(engine, "checkout", _postgres_checkout):
        event.listen(engine, "checkout", _postgres_checkout)
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _drop_stale_connections)
        # The ingestion path of one process takes its turn here (hotpath.read_cursor and
        # write_cursor): writers never spin in SQLite's busy handler, and the process's
        # threads touch SQLite one at a time. Measured with bench/ against reads without
        # the lock: p99 at concurrency 32 fell (new 178 -> 100 ms, resolve 515 -> 94 ms);
        # at concurrency 8 the difference was within noise.
        engine.callgoose_lock = threading.Lock()
        # Writers of every process queue on one lock file before BEGIN IMMEDIATE. SQLite's
        # own busy handler sleeps 1, 2, 5, 10 ... ms between tries, so two processes that
        # wait for each other there lose most of their time asleep (bench/scale.py: two
        # processes gave 1.05 times one); the kernel wakes a waiter on a lock file at once.
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            engine.callgoose_write_lock = FileWriteLock(path + ".lock")
        # The ingestion path's writes commit in groups (store/batch.py): one lock, BEGIN and
        # fsync for the calls that queued behind one transaction.
        from .batch import GroupCommit
        from .transactions import run_write
        engine.callgoose_batch = GroupCommit(engine, lambda work: run_write(engine, work))


FIRST_REVISION = "0001"  # the schema of release 0.1, which made its tables without Alembic


def upgrade_database() -> tuple[str | None, str]:
    """Bring the database to the newest schema; return (revision before, revision after).

    An empty database is built by the migrations; one made by release 0.1 (tables, but no
    ``alembic_version``) is first marked as revision 0001, then upgraded. Running it again
    changes nothing.
    """
    import flask_migrate
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    def current() -> str | None:
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    before = current()
    inspector = inspect(db.engine)
    if before is None and inspector.has_table("services"):
        # Tables made without Alembic: by release 0.1, or by create_all of these models.
        made_by_0_1 = "payload" in {c["name"] for c in inspector.get_columns("api_calls")}
        flask_migrate.stamp(revision=FIRST_REVISION if made_by_0_1 else "head")
        before = current()
    flask_migrate.upgrade()
    return before, current()


CLOCK_SYNC_SECONDS = 60  # how often a process that runs timers reads the database's clock again


def sync_clock(engine: Engine) -> float:
    """Make ``clock.now()`` read the database server's clock (PostgreSQL): processes on hosts
    whose clocks differ then agree on every timer (escalations, the outbox, heartbeats). SQLite
    lives on this machine's clock: nothing to do. Returns the offset applied, in seconds."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        before = time.time()
        server = float(conn.exec_driver_sql("SELECT extract(epoch FROM clock_timestamp())").scalar())
        after = time.time()
    offset = server - (before + after) / 2
    clock.set_offset(offset)
    return offset

