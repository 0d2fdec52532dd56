"""Database engine settings and the one way to run a write transaction.

SQLite: WAL, ``synchronous=FULL``, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE``
for writes (a deferred BEGIN that reads then writes fails at once under contention).
Writers of one process also queue on a lock before BEGIN, so they do not spin in
SQLite's busy handler; other processes are still kept out by SQLite's own file lock.
PostgreSQL gets the same statements; unique constraints and row locks do the rest.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import contextmanager, nullcontext

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from .extensions import db

log = logging.getLogger(__name__)

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
    if mode != "NONE":  # NONE: autocommit, each statement is its own read (see read_connection)
        conn.exec_driver_sql("BEGIN " + mode)


def configure(engine: Engine) -> None:
    """Attach the SQLite settings to this app's engine (never to the global Engine class)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        engine.callgoose_write_lock = threading.Lock()


def _lock_for(engine: Engine):
    return getattr(engine, "callgoose_write_lock", None) or nullcontext()


@contextmanager
def read_connection(engine: Engine):
    """A connection for a few independent reads; on SQLite without BEGIN/ROLLBACK round trips."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="NONE")
        yield conn


@contextmanager
def write_transaction(engine: Engine):
    """Yield a connection inside one write transaction; commit on success."""
    with _lock_for(engine):
        with engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn


def run_write(engine: Engine, work, attempts: int = 4):
    """Run ``work(conn)`` in a write transaction, retrying transient failures.

    A unique-constraint race, a deadlock or a locked database rolls the whole
    transaction back, so a retry starts clean; after the last attempt it raises.
    """
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction(engine) as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt == attempts:
                raise
            log.warning("write transaction failed (attempt %d of %d), retrying: %s",
                        attempt, attempts, type(exc.orig).__name__)
            time.sleep(random.uniform(0.002, 0.02) * attempt)


def begin_session_write() -> None:
    """Start the request's ORM session transaction as a write (BEGIN IMMEDIATE on SQLite).

    Call it before the first statement of a unit of work that writes; a transaction the
    session already started is ended first, so the write sees fresh data.
    """
    session = db.session()  # the scoped session's current Session
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
