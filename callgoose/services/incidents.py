"""Incidents for people and scripts: listing, one incident, acknowledge and resolve."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import clock
from ..extensions import db
from ..store.database import begin_session_write
from ..store.models import ACTIVE, ApiCall, Incident, IncidentEvent, Service

STATUSES = ("triggered", "acknowledged", "resolved")


class IncidentStateError(ValueError):
    """An action that the incident's current status does not allow."""


@dataclass(frozen=True)
class Page:
    items: list[tuple[Incident, str]]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def to_dict(incident: Incident, service_name: str) -> dict:
    """The JSON shape of an incident (S36)."""
    return {"id": incident.id, "service": {"name": service_name}, "title": incident.title,
            "description": incident.full_description, "status": incident.status,
            "urgency": incident.urgency, "mapping_value": incident.mapping_value,
            "duplicate_count": incident.duplicate_count, "created_at": clock.iso(incident.created_at),
            "acknowledged_at": clock.iso(incident.acknowledged_at),
            "resolved_at": clock.iso(incident.resolved_at)}


def list_incidents(*, status: str | None = None, service_id: int | None = None, page: int = 1,
                   per_page: int = 50, urgency: str | None = None, text: str | None = None,
                   with_payload: bool = False) -> Page:
    """Incidents newest first, one page of them, with the total count."""
    query = select(Incident, Service.name).join(Service, Service.id == Incident.service_id)
    count = select(func.count()).select_from(Incident)
    conditions = []
    if status == "active":
        conditions.append(Incident.status.in_(ACTIVE))
    elif status:
        conditions.append(Incident.status == status)
    if service_id is not None:
        conditions.append(Incident.service_id == service_id)
    if urgency:
        conditions.append(Incident.urgency == urgency)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(Incident.title.ilike(pattern, escape="\\")
                          | Incident.mapping_value.ilike(pattern, escape="\\"))
    if conditions:
        query, count = query.where(*conditions), count.where(*conditions)
    total = db.session.execute(count).scalar_one()
    if with_payload:
        query = query.options(selectinload(Incident.stored_payload))
    rows = db.session.execute(query.order_by(Incident.created_at.desc(), Incident.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return Page([(row[0], row[1]) for row in rows], page, per_page, total)


def get_incident(incident_id: int, service_id: int | None = None) -> tuple[Incident, str] | None:
    """One incident and its service's name; None when absent or outside ``service_id``."""
    query = select(Incident, Service.name).join(Service, Service.id == Incident.service_id).where(
        Incident.id == incident_id)
    if service_id is not None:
        query = query.where(Incident.service_id == service_id)
    row = db.session.execute(query).first()
    return (row[0], row[1]) if row else None


def change_marker() -> str:
    """A short text that changes whenever any incident is created or changes (for polling)."""
    row = db.session.execute(select(
        func.count(Incident.id), func.max(Incident.id), func.max(Incident.last_seen_at),
        func.max(Incident.acknowledged_at), func.max(Incident.resolved_at),
        select(func.count(IncidentEvent.id)).scalar_subquery())).one()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16]


def incident_marker(incident_id: int) -> str:
    """A short text that changes whenever this incident or its timeline changes (for its page)."""
    row = db.session.execute(select(
        Incident.status, Incident.duplicate_count, Incident.last_seen_at,
        select(func.count(IncidentEvent.id)).where(IncidentEvent.incident_id == incident_id).scalar_subquery(),
    ).where(Incident.id == incident_id)).first()
    return hashlib.sha256(repr(tuple(row) if row else None).encode()).hexdigest()[:16]


def triggered_count() -> int:
    return db.session.execute(select(func.count(Incident.id)).where(
        Incident.status == "triggered")).scalar_one()


def timeline(incident_id: int) -> list[IncidentEvent]:
    return list(db.session.execute(select(IncidentEvent).where(
        IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.at, IncidentEvent.id)).scalars())


def creating_call(incident: Incident) -> ApiCall | None:
    """The API call that opened the incident, while retention keeps it."""
    if incident.created_by_call is None:
        return None
    return db.session.get(ApiCall, incident.created_by_call)


def _event(incident: Incident, kind: str, now: float, *, actor: str, user_id: int | None, note=None):
    db.session.add(IncidentEvent(incident_id=incident.id, at=clock.to_db(now), kind=kind,
                                 actor=actor, user_id=user_id, note=note))


def _begin_action(incident_id: int, service_id: int | None) -> tuple[Incident, str] | None:
    """Start a write and load the incident it acts on; None (nothing open) when absent."""
    begin_session_write()
    found = get_incident(incident_id, service_id)
    if found is None:
        db.session.rollback()
    return found


def acknowledge(incident_id: int, now: float, *, actor: str, user_id: int | None = None,
                service_id: int | None = None) -> tuple[Incident, str] | None:
    """Acknowledge a triggered incident; acknowledging twice changes nothing. Commits."""
    found = _begin_action(incident_id, service_id)
    if found is None:
        return None
    incident = found[0]
    if incident.status == "resolved":
        db.session.rollback()
        raise IncidentStateError("the incident is resolved; it cannot be acknowledged")
    if incident.status == "triggered":
        incident.status = "acknowledged"
        incident.acknowledged_at = clock.to_db(now)
        _event(incident, "acknowledged", now, actor=actor, user_id=user_id)
    db.session.commit()
    return found


def resolve(incident_id: int, now: float, *, actor: str, user_id: int | None = None,
            service_id: int | None = None) -> tuple[Incident, str] | None:
    """Resolve an active incident; resolving twice changes nothing. Commits."""
    found = _begin_action(incident_id, service_id)
    if found is None:
        return None
    incident = found[0]
    if incident.status in ACTIVE:
        incident.status = "resolved"
        incident.resolved_at = clock.to_db(now)
        _event(incident, "resolved", now, actor=actor, user_id=user_id)
    db.session.commit()
    return found


def unacknowledge(incident_id: int, now: float, *, actor: str, user_id: int | None = None
                  ) -> tuple[Incident, str] | None:
    """Put an acknowledged incident back to triggered. Commits."""
    found = _begin_action(incident_id, None)
    if found is None:
        return None
    incident = found[0]
    if incident.status == "acknowledged":
        incident.status = "triggered"
        incident.acknowledged_at = None
        _event(incident, "unacknowledged", now, actor=actor, user_id=user_id)
    db.session.commit()
    return found


def comment(incident_id: int, now: float, *, text: str, actor: str, user_id: int | None = None
            ) -> tuple[Incident, str] | None:
    """Add a comment to the timeline. Commits."""
    found = _begin_action(incident_id, None)
    if found is None:
        return None
    _event(found[0], "comment", now, actor=actor, user_id=user_id, note=text.strip())
    db.session.commit()
    return found
