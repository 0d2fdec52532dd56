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

import json
import re
from contextlib import contextmanager, nullcontext
from datetime import datetime

from sqlalchemy.engine import Engine

from .database import is_stale_connection_error, write_lock

_PLACEHOLDER = re.compile(r"(?<![:\w]):(\w+)")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format, so the ORM reads it too


class Sql:
    """One statement in both drivers' placeholder styles."""

    __slots__ = ("sqlite", "postgresql")

    def __init__(self, text: str):
        self.sqlite = " ".join(text.split())
        self.postgresql = _PLACEHOLDER.sub(r"%(\1)s", self.sqlite.replace("%", "%%"))


def from_json(value):
    """A JSON column as read from either driver (SQLite returns text, psycopg the value)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def to_datetime(value) -> datetime | None:
    """A datetime column as read from either driver (SQLite returns text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class Cursor:
    """A driver cursor that takes :class:`Sql` and converts datetime parameters."""

    def __init__(self, cursor, dialect: str, pipeline=None):
        self._cursor = cursor
        self._sqlite = dialect == "sqlite"
        self._dialect = dialect
        self._pipeline = pipeline
        self._time = (None, None)  # the last datetime converted: a call passes one ``now`` many times

    def _text(self, value: datetime) -> str:
        last, text = self._time
        if value is not last:
            text = value.strftime(_SQLITE_TIME)
            self._time = (value, text)
        return text

    def _params(self, params: dict) -> dict:
        if not self._sqlite:
            return params
        return {k: self._text(v) if isinstance(v, datetime) else v for k, v in params.items()}

    def execute(self, sql: Sql, params: dict | None = None):
        self._cursor.execute(getattr(sql, self._dialect), self._params(params or {}))
        return self._cursor

    def changed(self, sql: Sql, params: dict | None = None) -> int:
        """Run a statement and return how many rows it changed (in pipeline mode the count
        only arrives after a sync)."""
        self.execute(sql, params)
        if self._pipeline is not None:
            self._pipeline.sync()
        return self._cursor.rowcount

    def each_first_row(self, sql: Sql, rows: list[dict]) -> list:
        """Run ``sql`` once per row, in order, and return each run's first row (or None). On
        PostgreSQL the runs share one round trip (a split payload's thousands of elements);
        SQLite has no round trips to save."""
        if self._sqlite or len(rows) < 2:
            return [self.execute(sql, row).fetchone() for row in rows]
        with self._cursor.connection.cursor() as own:  # its own results, apart from the pipeline's others
            own.executemany(sql.postgresql, rows, returning=True)
            found = [own.fetchone()]
            while own.nextset():
                found.append(own.fetchone())
        return found

    def executemany(self, sql: Sql, rows: list[dict]):
        self._cursor.executemany(getattr(sql, self._dialect), [self._params(r) for r in rows])


def _lost(raw, exc: BaseException) -> bool:
    """Whether the connection is unusable (SQLite gone read-only, a PostgreSQL connection
    lost): the pool must not hand it out again."""
    conn = raw.dbapi_connection
    return is_stale_connection_error(exc) or conn is None or bool(getattr(conn, "broken", False))


def _discard(engine: Engine, raw, exc: BaseException) -> None:
    # A lost PostgreSQL connection usually means every pooled one is lost (a restart):
    # the pool recycles them all on their next checkout, as SQLAlchemy itself does.
    if engine.dialect.name == "postgresql":
        engine.pool._invalidate(raw, exc)
    else:
        raw.invalidate(exc)


@contextmanager
def read_cursor(engine: Engine):
    """A cursor for a few independent reads, with no transaction around them (autocommit):
    no BEGIN and ROLLBACK round trips, and no snapshot held."""
    with getattr(engine, "callgoose_lock", None) or nullcontext():
        raw = engine.raw_connection()
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            raw.dbapi_connection.autocommit = True
        cursor = raw.cursor()
        try:
            yield Cursor(cursor, engine.dialect.name)
        except BaseException as exc:
            if _lost(raw, exc):
                _discard(engine, raw, exc)
            raise
        finally:
            cursor.close()  # no statement may outlive the read and pin a snapshot
            conn = raw.dbapi_connection  # None once discarded
            if postgres and conn is not None and not conn.closed:
                conn.autocommit = False
            raw.close()


@contextmanager
def write_cursor(engine: Engine):
    """A cursor inside one write transaction, committed when the block ends without error.

    SQLite: writers queue on the engine's write lock, then ``BEGIN IMMEDIATE`` takes the
    database's write lock before the first read, so read-decide-write is one serial step
    across threads and processes. PostgreSQL: unique constraints and row locks decide, and
    the statements go in pipeline mode: those whose result nobody reads share a round trip
    with the next one that is read, and with the COMMIT (measured: 11 round trips a new
    incident became 5).
    """
    sqlite = engine.dialect.name == "sqlite"
    with write_lock(engine), getattr(engine, "callgoose_lock", None) or nullcontext():
        raw = engine.raw_connection()
        pipeline = raw.dbapi_connection.pipeline() if engine.dialect.name == "postgresql" else nullcontext()
        cursor = raw.cursor()
        try:
            with pipeline as in_pipeline:
                if sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                yield Cursor(cursor, engine.dialect.name, in_pipeline)
                cursor.close()
                raw.commit()
        except BaseException as exc:
            cursor.close()
            if _lost(raw, exc):
                _discard(engine, raw, exc)  # the pool opens a fresh connection for the next call
            else:
                raw.rollback()
            raise
        finally:
            raw.close()
