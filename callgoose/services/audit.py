"""The audit log (issue 19, item 5): the one place its entries are written, read, checked and pruned.

An entry is written inside the write transaction of the change it records (:func:`record`), so
nothing is lost and nothing is recorded that did not happen. Who acts comes from the entry point:
the web layer installs a resolver (the signed-in user, the API token), and a CLI command, an
import or a signed link says it with ``with acting(Actor(...))``; without either it is ``system``.

The chain: entries get ids 1, 2, 3… in order, under the lock of the one-row ``audit_head``
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock already serializes writers), and each
carries the hash of the one before (engine.audit).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select

from .. import clock
from ..engine import audit as chain
from ..engine.words import Say
from ..extensions import db
from ..store.hotpath import Cursor, Sql, from_json, to_datetime
from ..store.models import AuditEntry, AuditHead
from ..store.transactions import run_write, session_cursor, write

ACTOR_KINDS = ("user", "token", "link", "keypress", "push", "import", "system", "cli", "sso")
DAY = 86400
MIN_RETENTION_DAYS = 365


@dataclass(frozen=True)
class Actor:
    kind: str  # one of ACTOR_KINDS
    id: int | None = None  # the user's or the token's
    name: str | None = None  # an email, a token's name: never a secret
    address: str | None = None  # the request's remote address; None for the CLI and the worker


SYSTEM = Actor("system")
_acting: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)
_resolver: list[Callable[[], Actor | None]] = []


@contextmanager
def acting(actor: Actor):
    """Say who acts for the changes made inside the block (a command, an import, a link)."""
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


@contextmanager
def acting_as(kind: str, actor_id: int | None = None, name: str | None = None):
    """Act as ``kind`` (a mail link, a keypress, an import) from the address the entry point knew."""
    with acting(Actor(kind, actor_id, name, current_actor().address)) as actor:
        yield actor


def resolve_with(resolver: Callable[[], Actor | None]) -> None:
    """Install the entry point's way of telling who acts (the web layer's: user or token)."""
    _resolver[:] = [resolver]


def current_actor() -> Actor:
    found = _acting.get()
    if found is None and _resolver:
        found = _resolver[0]()
    return found or SYSTEM


HEAD = Sql("SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE")
HEAD.sqlite = HEAD.sqlite.replace(" FOR UPDATE", "")  # SQLite's write lock is already held
NEW_HEAD = Sql("INSERT INTO audit_head (id, last_id, last_hash, first_id, anchor_hash) "
               "VALUES (1, 0, :genesis, 1, :genesis)")
MOVE_HEAD = Sql("UPDATE audit_head SET last_id = :id, last_hash = :hash WHERE id = 1")
INSERT = Sql("""
    INSERT INTO audit_entries (id, at, actor_kind, actor_id, actor_name, address, subject_kind, subject_id,
                               subject_name, action, changes, reverts, previous_hash, hash)
    VALUES (:id, :at, :actor_kind, :actor_id, :actor_name, :address, :subject_kind, :subject_id,
            :subject_name, :action, :changes, :reverts, :previous_hash, :hash)
""")


def _at_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _cut(text: str | None, most: int) -> str | None:
    """A name as its column holds it (a longer one would fail the change it records)."""
    return None if text is None else str(text).replace("\x00", "")[:most]


def record(subject_kind: str, subject_id: int | None, subject_name: str | None, action: str,
           changes: list | None = None, *, reverts: int | None = None, now: float | None = None,
           cursor: Cursor | None = None, actor: Actor | None = None) -> int:
    """Write one entry in the caller's write transaction (the ORM session's, or ``cursor``'s);
    return its id."""
    cursor = cursor or session_cursor()
    actor = actor or current_actor()
    row = cursor.execute(HEAD).fetchone()
    if row is None:  # a database made by create_all, not the migration
        cursor.execute(NEW_HEAD, {"genesis": chain.GENESIS})
        row = cursor.execute(HEAD).fetchone()
    last_id, previous = row
    at = clock.to_db(clock.now() if now is None else now)
    fields = {"id": last_id + 1, "at": _at_text(at), "actor_kind": actor.kind, "actor_id": actor.id,
              "actor_name": _cut(actor.name, 254), "address": _cut(actor.address, 64), "subject_kind": subject_kind,
              "subject_id": subject_id, "subject_name": _cut(subject_name, 254), "action": action,
              "changes": changes, "reverts": reverts}
    digest = chain.entry_hash(fields, previous)
    cursor.execute(INSERT, {**fields, "at": at, "changes": None if changes is None else json.dumps(changes),
                            "previous_hash": previous, "hash": digest})
    cursor.execute(MOVE_HEAD, {"id": last_id + 1, "hash": digest})
    return last_id + 1


def record_change(subject_kind: str, subject_id: int | None, subject_name: str | None,
                  before: dict | None, after: dict | None, action: str | None = None, *,
                  reverts: int | None = None) -> int | None:
    """Record the structural difference of a sub-document before and after a change (nothing
    when it did not change); the action says added, removed or changed unless given."""
    changes = chain.diff(before, after)
    if not changes:
        return None
    action = action or ("added" if before is None else "removed" if after is None else "changed")
    return record(subject_kind, subject_id, subject_name, action, changes, reverts=reverts)


# kind -> snapshot(subject id) -> its sub-document, or None when there is no such thing
_SNAPSHOTS: dict[str, Callable] = {}


def trackable(kind: str, snapshot: Callable) -> None:
    """Name the sub-document that entries of ``kind`` diff (a service's own, small one)."""
    _SNAPSHOTS[kind] = snapshot


class Tracked:
    """One thing's sub-document before a change; :meth:`done` records the difference after it."""

    def __init__(self, kind: str, subject_id: int | None):
        self.kind, self.id = kind, subject_id
        self.before = _SNAPSHOTS[kind](subject_id) if subject_id is not None else None

    def done(self, subject_id: int | None = None) -> int | None:
        if subject_id is not None:
            self.id = subject_id
        db.session.flush()
        after = _SNAPSHOTS[self.kind](self.id) if self.id is not None else None
        doc = after or self.before or {}
        return record_change(self.kind, self.id, doc.get("name") or doc.get("email"), self.before, after)


def track(kind: str, subject_id: int | None) -> Tracked:
    """Start tracking a change of one thing (``subject_id`` None: one about to be made), inside
    the write transaction that makes it."""
    return Tracked(kind, subject_id)


def tracking(kind: str, subject_id: int, work: Callable):
    """``work`` with the change it makes to one thing recorded: ``write(tracking("user", id, work))``."""
    def tracked():
        found = track(kind, subject_id)
        result = work()
        found.done()
        return result
    return tracked


# ---- reverting ----

# kind -> apply(subject id, document | None, now) -> id | None
_REVERTERS: dict[str, tuple[Callable, Callable]] = {}


def revertible(kind: str, snapshot: Callable, apply: Callable) -> None:
    """Let entries of ``kind`` be reverted: the service's own snapshot and its own (validating)
    way of making the thing what a document says, in the caller's transaction."""
    _REVERTERS[kind] = (snapshot, apply)
    trackable(kind, snapshot)


def can_revert(found: AuditEntry) -> bool:
    return bool(found.changes) and found.subject_kind in _REVERTERS


def revert(entry_id: int, now: float) -> int:
    """Put back what entry ``entry_id`` changed, only at the paths it changed, through the
    subject's own service; the revert is an entry of its own that names ``entry_id``.

    :raises engine.audit.NotRevertible: no such entry, nothing to revert, a secret, or the
        paths changed again since. :raises SpecError: the service refuses the result."""
    def work() -> int:
        found = db.session.get(AuditEntry, entry_id)
        if found is None or not can_revert(found):
            raise chain.NotRevertible(Say("this entry changes nothing that can be reverted"))
        snapshot, apply = _REVERTERS[found.subject_kind]
        current = snapshot(found.subject_id) if found.subject_id is not None else None
        target = chain.revert(current, from_json(found.changes))
        subject_id = apply(found.subject_id if current is not None else None, target, now)
        after = snapshot(subject_id) if subject_id is not None else None
        name = (after or current or {}).get("name", found.subject_name)
        written = record_change(found.subject_kind, subject_id if subject_id is not None else found.subject_id,
                                name, current, after, "reverted", reverts=entry_id)
        if written is None:
            raise chain.NotRevertible(Say("this entry changes nothing that can be reverted"))
        return written
    return write(work)


# ---- reading ----

def _fields(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": _at_text(entry.at), "actor_kind": entry.actor_kind, "actor_id": entry.actor_id,
            "actor_name": entry.actor_name, "address": entry.address, "subject_kind": entry.subject_kind,
            "subject_id": entry.subject_id, "subject_name": entry.subject_name, "action": entry.action,
            "changes": from_json(entry.changes), "reverts": entry.reverts,
            "previous_hash": entry.previous_hash, "hash": entry.hash}


@dataclass
class EntriesPage:
    items: list[AuditEntry]
    page: int
    per_page: int
    total: int
    reverted: set[int] = field(default_factory=set)  # ids of shown entries a later entry reverted

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def entries(*, page: int = 1, per_page: int = 50, since: float | None = None, actor: str | None = None,
            subject: str | None = None) -> EntriesPage:
    """Entries newest first; ``actor``: an actor kind or a name; ``subject``: a subject kind."""
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.at >= clock.to_db(since))
    if actor:
        query = query.where((AuditEntry.actor_kind == actor) | (AuditEntry.actor_name == actor))
    if subject:
        query = query.where(AuditEntry.subject_kind == subject)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    items = list(db.session.execute(query.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page)
                                    .limit(per_page)).scalars())
    ids = [e.id for e in items]
    reverted = set(db.session.execute(select(AuditEntry.reverts).where(AuditEntry.reverts.in_(ids))).scalars()) \
        if ids else set()
    return EntriesPage(items, page, per_page, total, reverted)


def entry(entry_id: int) -> AuditEntry | None:
    return db.session.get(AuditEntry, entry_id)


def to_dict(entry: AuditEntry) -> dict:
    """An entry for the JSON API: its fields, and its difference in (English) words."""
    data = _fields(entry)
    data["at"] = clock.iso(entry.at)
    data["words"] = [str(s) for s in chain.describe_all(entry.subject_kind, entry.subject_name,
                                                        data["changes"]).parts]
    return data


# ---- checking and pruning ----

def verify(engine, batch: int = 1000) -> tuple[int, list[chain.Fault]]:
    """Check the whole chain, in id order, a batch at a time."""
    with engine.connect() as conn:
        head = conn.execute(select(AuditHead)).first()
        entries_table = AuditEntry.__table__

        def rows():
            after = -1
            while True:
                found = conn.execute(select(entries_table).where(entries_table.c.id > after)
                                     .order_by(entries_table.c.id).limit(batch)).mappings().all()
                for r in found:
                    row = dict(r)
                    row["at"] = _at_text(to_datetime(row["at"]))
                    row["changes"] = from_json(row["changes"])
                    yield row
                if len(found) < batch:
                    return
                after = found[-1]["id"]
        anchor = (head.first_id, head.anchor_hash) if head is not None else None
        last = (head.last_id, head.last_hash) if head is not None and head.last_id else None
        return chain.verify(rows(), anchor, last)


PRUNE = Sql("DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < :cutoff "
            "AND id < (SELECT last_id FROM audit_head WHERE id = 1) ORDER BY id LIMIT :n)")
NEW_ANCHOR = Sql("""
    UPDATE audit_head SET first_id = (SELECT MIN(id) FROM audit_entries),
        anchor_hash = (SELECT previous_hash FROM audit_entries WHERE id = (SELECT MIN(id) FROM audit_entries))
    WHERE id = 1 AND EXISTS (SELECT 1 FROM audit_entries)
""")


def prune(engine, now: float, retention_days: int, batch: int = 500) -> int:
    """Delete entries older than the retention, oldest first (the newest entry always stays),
    and move the chain's anchor to the first kept entry in the same transaction."""
    cutoff, total = clock.to_db(now - retention_days * DAY), 0

    def step(cursor: Cursor) -> int:
        cursor.execute(HEAD).fetchone()  # the head's lock, as writers take it
        deleted = cursor.changed(PRUNE, {"cutoff": cutoff, "n": batch})
        if deleted:
            cursor.execute(NEW_ANCHOR)
        return deleted
    while True:
        deleted = run_write(engine, step)
        total += deleted
        if deleted < batch:
            return total
