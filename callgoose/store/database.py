"""Database engine settings, and starting ORM writes the SQLite-safe way.

SQLite: WAL, ``synchronous=FULL``, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE``
for writes (a deferred BEGIN that reads then writes fails at once under contention).
The ingestion path runs its transactions through :mod:`callgoose.hotpath`.
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

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
        options["pool_pre_ping"] = True
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


def configure(engine: Engine) -> None:
    """Attach the SQLite settings to this app's engine (never to the global Engine class)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _drop_stale_connections)
        # The ingestion path of one process takes its turn here (hotpath.read_cursor and
        # write_cursor): writers never spin in SQLite's busy handler, and the process's
        # threads touch SQLite one at a time. Measured with bench/ against reads without
        # the lock: p99 at concurrency 32 fell (new 178 -> 100 ms, resolve 515 -> 94 ms);
        # at concurrency 8 the difference was within noise. Other processes are kept out
        # by SQLite's own locks.
        engine.callgoose_lock = threading.Lock()


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
