"""Backups of a SQLite database: a consistent copy while the server runs, and putting one back.

``backup`` uses SQLite's online backup API in one step: it reads one snapshot (WAL readers
never block the server's writers), so the copy holds every transaction committed before it
began and none half. The copy is written beside its destination under a temporary name,
checked, switched to a rollback journal (one self-contained file) and then renamed into place.

``restore`` checks a copy (SQLite's ``integrity_check``; a Callgoose database, its schema a
migration this code knows) and puts it in place of the configured database, but never while a
process has that database open: every connection to a WAL database holds a shared lock on a
byte of its ``-shm`` file, so an exclusive lock there succeeds only when nobody else uses it.
PostgreSQL has its own tools (``pg_dump``, ``pg_restore``).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SHM_DMS_BYTE = 128  # SQLite's unix VFS: the "dead man switch" byte every connection locks shared
CALLGOOSE_TABLES = {"alembic_version", "services", "api_tokens", "incidents", "users"}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is one line saying why."""


@dataclass(frozen=True)
class Copy:
    path: str
    revision: str
    size: int


def sqlite_path(url) -> str:
    """The file of a SQLite URL (an SQLAlchemy URL), or BackupError for anything else."""
    if url.get_backend_name() != "sqlite":
        raise BackupError("not a SQLite database")
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise BackupError("the database is not a file")
    return path


def known_revisions() -> set[str]:
    """The revisions of this code's migrations."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def _check(path: str) -> str:
    """Check a database file; return its schema revision or raise BackupError."""
    if not os.path.isfile(path):
        raise BackupError(f"no such file: {path}")
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None
    try:
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            raise BackupError(f"{path} is not a SQLite database") from None
        if not CALLGOOSE_TABLES <= tables:
            raise BackupError(f"{path} is not a Callgoose database (tables missing: "
                              f"{', '.join(sorted(CALLGOOSE_TABLES - tables))})")
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} failed the integrity check: {exc}") from None
    finally:
        conn.close()
    if problems != ["ok"]:
        raise BackupError(f"{path} failed the integrity check: {'; '.join(problems)[:300]}")
    if revision is None or revision[0] not in known_revisions():
        raise BackupError(f"{path} has schema {revision[0] if revision else 'none'}, which this version of "
                          "Callgoose does not know (made by a newer one?)")
    return revision[0]


def in_use(path: str) -> bool:
    """Whether another process has the database at ``path`` open."""
    try:
        fd = os.open(path + "-shm", os.O_RDWR)
    except FileNotFoundError:
        return False  # the last connection to close removes it
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing the file drops the lock we may have taken
    return False


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def backup(source: str, target: str) -> Copy:
    """Copy the live database ``source`` to the new file ``target``, consistently."""
    target = os.path.abspath(target)
    if os.path.exists(target):
        raise BackupError(f"{target} exists: give a new file name")
    if not os.path.isfile(source):
        raise BackupError(f"no database at {source}")
    if not os.path.isdir(os.path.dirname(target)):
        raise BackupError(f"no such folder: {os.path.dirname(target)}")
    partial = target + ".partial"
    _remove(partial)
    try:
        src = sqlite3.connect(source, timeout=30)  # it only reads
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # one step: one read snapshot, however busy the server is
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
            src.close()
        revision = _check(partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        _remove(partial)
        raise BackupError(f"the copy failed: {exc}") from None
    except BaseException:
        _remove(partial)
        raise
    return Copy(target, revision, os.path.getsize(target))


def restore(copy: str, target: str) -> Copy:
    """Check ``copy`` and put it in place of the database ``target`` (no process may use it)."""
    revision = _check(os.path.abspath(copy))
    if in_use(target):
        raise BackupError(f"{target} is in use: stop every Callgoose process (serve, worker) first")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise BackupError(f"no such folder: {folder}")
    partial = target + ".restoring"
    try:
        with open(copy, "rb") as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        _check(partial)
        # The replaced database's WAL belongs to it: applied to the copy it would corrupt it.
        for leftover in (target + "-wal", target + "-shm"):
            _remove(leftover)
        os.replace(partial, target)
    except OSError as exc:
        _remove(partial)
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(partial)
        raise
    return Copy(os.path.abspath(target), revision, os.path.getsize(target))
