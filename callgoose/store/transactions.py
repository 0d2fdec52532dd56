"""The one way to run a write transaction, for the hot path's cursor and for the ORM.

Both take the write lock first (``BEGIN IMMEDIATE`` on SQLite), commit when the work
returns, roll back when it raises, and run the whole work again when the failure is one
a retry may cure (a lock, a unique-constraint race, a deadlock). The work must therefore
be a function that can run twice: it reads what it decides on inside the transaction.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..extensions import db
from .database import write_lock
from .hotpath import Cursor, read_cursor, write_cursor

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 4


def transient_errors(engine: Engine) -> tuple:
    """The errors a retry of the whole transaction may cure (locks, races, deadlocks)."""
    dbapi = engine.dialect.dbapi
    return (DBAPIError, dbapi.OperationalError, dbapi.IntegrityError)


def retrying(engine: Engine, once: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Call ``once()`` (one whole transaction) until it succeeds or fails for good."""
    transient = transient_errors(engine)
    for attempt in range(1, attempts + 1):
        try:
            return once()
        except transient as exc:
            if attempt == attempts:
                raise
            log.warning("write transaction failed (attempt %d of %d), retrying: %s",
                        attempt, attempts, type(exc).__name__)
            time.sleep(random.uniform(0.002, 0.02) * attempt)
    raise AssertionError("unreachable")


def run_write(engine: Engine, work: Callable[[Cursor], T], attempts: int = ATTEMPTS) -> T:
    """Run ``work(cursor)`` in one write transaction on the driver's cursor (the hot path)."""
    def once() -> T:
        with write_cursor(engine) as cursor:
            return work(cursor)
    return retrying(engine, once, attempts)


def run_shared(engine: Engine, work: Callable[[Cursor], T]) -> T:
    """:func:`run_write`, in a transaction that concurrent calls may share where the engine
    commits in groups (SQLite: store/batch.py); the work is committed when this returns."""
    batch = getattr(engine, "callgoose_batch", None)
    return batch.run(work) if batch is not None else run_write(engine, work)


def begin_session_write() -> None:
    """Start the ORM session's transaction as a write (BEGIN IMMEDIATE on SQLite).

    A transaction the session already started is ended first, so the write sees fresh data.
    """
    session = db.session()  # the scoped session's current Session
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def write(work: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run ``work()`` as one write transaction of the ORM session, and commit it."""
    def once() -> T:
        with write_lock(db.engine):
            begin_session_write()
            try:
                result = work()
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
        return result
    return retrying(db.engine, once, attempts)


def session_cursor() -> Cursor:
    """A driver cursor on the ORM session's own connection, inside its transaction.

    The lifecycle's statements are the hot path's; a person's action runs them here, within
    :func:`write`, so one transaction holds both the ORM's writes and the lifecycle's.
    """
    conn = db.session.connection()
    return Cursor(conn.connection.cursor(), conn.dialect.name)


def run_read(engine: Engine, work: Callable[[Cursor], T], attempts: int = 2) -> T:
    """Run ``work(cursor)`` as a few reads outside any transaction (the hot path's reads).

    A connection lost since its last use (a PostgreSQL restart: the pool does not ping on
    every checkout) fails the first try; the pool then drops its connections and the
    second try gets a fresh one.
    """
    def once() -> T:
        with read_cursor(engine) as cursor:
            return work(cursor)
    return retrying(engine, once, attempts)
