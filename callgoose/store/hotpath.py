"""The ingestion path's SQL, run on the driver's cursor.

Measured (bench/, ``/tmp`` profiles in the commit message): SQLAlchemy's execution layer
cost 100 µs or more per statement here, against 5-10 µs for the driver itself, and a call
runs six or seven statements. So the few statements of ``POST /v1/process`` are written
once as plain SQL that SQLite and PostgreSQL both accept, and run on a pooled DBAPI
connection from SQLAlchemy's own pool. Everything else (dashboard, scripts API, CLI)
stays on SQLAlchemy.

Conventions: statements use ``:name`` placeholders (translated for psycopg); datetime
parameters are naive UTC and converted here; datetimes read back go through
:func:`to_datetime`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager, nullcontext
from datetime import datetime

from sqlalchemy.engine import Engine

from .database import is_stale_connection_error

_PLACEHOLDER = re.compile(r"(?<![:\w]):(\w+)")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format, so the ORM reads it too


class Sql:
    """One statement in both drivers' placeholder styles."""

    __slots__ = ("sqlite", "postgresql")

    def __init__(self, text: str):
        self.sqlite = " ".join(text.split())
        self.postgresql = _PLACEHOLDER.sub(r"%(\1)s", self.sqlite.replace("%", "%%"))


def to_datetime(value) -> datetime | None:
    """A datetime column as read from either driver (SQLite returns text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class Cursor:
    """A driver cursor that takes :class:`Sql` and converts datetime parameters."""

    def __init__(self, cursor, dialect: str):
        self._cursor = cursor
        self._sqlite = dialect == "sqlite"
        self._dialect = dialect

    def _params(self, params: dict) -> dict:
        if not self._sqlite:
            return params
        return {k: v.strftime(_SQLITE_TIME) if isinstance(v, datetime) else v for k, v in params.items()}

    def execute(self, sql: Sql, params: dict | None = None):
        self._cursor.execute(getattr(sql, self._dialect), self._params(params or {}))
        return self._cursor

    def executemany(self, sql: Sql, rows: list[dict]):
        self._cursor.executemany(getattr(sql, self._dialect), [self._params(r) for r in rows])


@contextmanager
def read_cursor(engine: Engine):
    """A cursor for a few independent reads (autocommit on SQLite: no BEGIN/ROLLBACK)."""
    with getattr(engine, "callgoose_lock", None) or nullcontext():
        raw = engine.raw_connection()
        cursor = raw.cursor()
        try:
            yield Cursor(cursor, engine.dialect.name)
        finally:
            cursor.close()  # no statement may outlive the read and pin a snapshot
            if engine.dialect.name != "sqlite":
                raw.rollback()
            raw.close()


@contextmanager
def write_cursor(engine: Engine):
    """A cursor inside one write transaction, committed when the block ends without error.

    SQLite: writers of this process queue on a lock, then ``BEGIN IMMEDIATE`` takes the
    database's write lock before the first read, so read-decide-write is one serial step
    across threads and processes. PostgreSQL: unique constraints and row locks decide.
    """
    sqlite = engine.dialect.name == "sqlite"
    with getattr(engine, "callgoose_lock", None) or nullcontext():
        raw = engine.raw_connection()
        cursor = raw.cursor()
        try:
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            yield Cursor(cursor, engine.dialect.name)
            cursor.close()
            raw.commit()
        except BaseException as exc:
            cursor.close()
            if is_stale_connection_error(exc):
                raw.invalidate()  # the pool opens a fresh connection for the next call
            else:
                raw.rollback()
            raise
        finally:
            raw.close()
