"""Priorities P1-P5 (issue 20): the table as configured (defaults where an admin changed
nothing), changed from the Priorities page or the S34 document, audited; and a person's change
of an incident's priority."""

from __future__ import annotations

from sqlalchemy import select

from .. import clock
from ..engine.priorities import CODES, DEFAULTS, Priority, build_priorities, build_priority, check_code
from ..extensions import db
from ..store.hotpath import Sql
from ..store.models import PriorityRow, Service
from ..store.transactions import session_cursor, write
from . import audit
from .lifecycle import By, Changes

_table = PriorityRow.__table__
COLUMNS = ("priority", "label", "colour", "description", "urgency", "acknowledge_minutes", "resolve_minutes",
           "on_missed_target")
SET_PRIORITY = Sql("UPDATE incidents SET priority = :priority, version = version + 1 WHERE id = :id")
PRIORITY_OF = Sql("SELECT priority, status FROM incidents WHERE id = :id")


def table(conn=None) -> tuple[Priority, ...]:
    """P1-P5 as configured, in order (``conn``: a connection, else the session)."""
    rows = (conn or db.session).execute(select(*[_table.c[name] for name in COLUMNS])).all()
    saved = {row.priority: Priority(*row) for row in rows}
    return tuple(saved.get(code, DEFAULTS[code]) for code in CODES)


TABLE = Sql("SELECT " + ", ".join(COLUMNS) + " FROM priorities")


def by_code_cursor(cursor) -> dict[str, Priority]:
    """:func:`by_code` on the hot path's cursor (the targets job)."""
    saved = {row[0]: Priority(*row) for row in cursor.execute(TABLE).fetchall()}
    return {code: saved.get(code, DEFAULTS[code]) for code in CODES}


def by_code(conn=None) -> dict[str, Priority]:
    return {p.priority: p for p in table(conn)}


def urgencies(conn) -> dict[str, str]:
    """Each priority's urgency: part of every service's cached spec (catalog)."""
    return {p.priority: p.urgency for p in table(conn)}


def document() -> list[dict]:
    """The S34 document's ``priorities``: all five, as configured."""
    return [p.as_dict() for p in table()]


def store(changed: tuple[Priority, ...]) -> None:
    """Save these priorities (the others stay) in the caller's transaction, audited; every
    service's spec is rebuilt, since a priority's urgency is part of it."""
    before = {p.priority: p for p in table()}
    for priority in changed:
        old = before[priority.priority]
        if old == priority:
            continue
        row = db.session.get(PriorityRow, priority.priority) or PriorityRow(priority=priority.priority)
        for name, value in priority.as_dict().items():
            setattr(row, name, value)
        db.session.add(row)
        audit.record_change("priority", None, priority.priority, old.as_dict(), priority.as_dict())
    db.session.flush()
    db.session.execute(Service.__table__.update().values(version=Service.version + 1))


def save(docs: list) -> tuple[Priority, ...]:
    """Save the Priorities page's (or a script's) list. :raises SpecError: with the field's path."""
    changed = build_priorities(docs)
    write(lambda: store(changed))
    return changed


def change_incident(incident_id: int, code: str, now: float, *, actor: str,
                    user_id: int | None = None) -> bool | None:
    """A person sets an incident's priority: a timeline entry and an audit entry; False when it
    already had it, None when there is no such incident. :raises SpecError: not P1-P5."""
    check_code(code, "priority")
    by = By(actor=actor, user_id=user_id)

    def work():
        cursor = session_cursor()
        row = cursor.execute(PRIORITY_OF, {"id": incident_id}).fetchone()
        if row is None:
            return None
        if row[0] == code:
            return False
        changes = Changes(cursor, clock.to_db(now))
        cursor.execute(SET_PRIORITY, {"id": incident_id, "priority": code})
        changes.note(incident_id, "reprioritized", f"{row[0] or '-'} → {code}", by)
        changes.audit(incident_id, "priority", [{"path": ["priority"], "old": row[0], "new": code}], by)
        changes.finish()
        return True
    return write(work)




def _minutes(text: str | None):
    text = (text or "").strip()
    return None if not text else int(text) if text.isdigit() and len(text) < 7 else text


def save_form(values) -> None:
    """Save the Priorities page: fields ``P1-label``, ``P1-colour``, ... for each priority.
    :raises SpecError: its path names the priority and the field (``P3.acknowledge_minutes``)."""
    changed = tuple(build_priority({
        "priority": code, "label": values.get(f"{code}-label", ""), "colour": values.get(f"{code}-colour", ""),
        "description": values.get(f"{code}-description", ""), "urgency": values.get(f"{code}-urgency"),
        "acknowledge_minutes": _minutes(values.get(f"{code}-acknowledge_minutes")),
        "resolve_minutes": _minutes(values.get(f"{code}-resolve_minutes")),
        "on_missed_target": values.get(f"{code}-on_missed_target")}, code) for code in CODES)
    write(lambda: store(changed))
