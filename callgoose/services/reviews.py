"""Incident reviews (issue 20, item 5): what people write (saved with the audit log) and the
section Callgoose writes itself, gathered here as plain data for engine.review."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from .. import clock
from ..engine.outcome import short
from ..engine.paging import Kind
from ..engine.review import (
    SUMMARY_CHARS,
    CallFacts,
    EventFacts,
    Fact,
    FollowUp,
    IncidentFacts,
    PageFacts,
    Targets,
    WindowFacts,
    check_follow_ups,
    written_section,
)
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.models import (
    ApiCall,
    CallService,
    Incident,
    IncidentEvent,
    IncidentReview,
    Maintenance,
    Notification,
    User,
)
from ..store.transactions import write
from . import audit, people, priorities
from .incidents import get_incident

MOST_CALLS = 2_000  # calls of the service read for replays while it was open
MOST_PAGES = 500


@dataclass(frozen=True)
class ReviewPage:
    incident: Incident
    service_name: str
    review: IncidentReview | None
    follow_ups: list[FollowUp]
    facts: list[Fact]
    users: dict[int, str] = field(default_factory=dict)  # active users, for owners
    names: dict[int, str] = field(default_factory=dict)  # every user, for owners who left


def targets_for(incident: Incident) -> Targets | None:
    """The response targets of the incident's priority, in seconds (None: it has no priority)."""
    found = priorities.by_code().get(incident.priority) if incident.priority else None
    if found is None:
        return None
    return Targets(acknowledge=found.acknowledge_minutes * 60 if found.acknowledge_minutes else None,
                   resolve=found.resolve_minutes * 60 if found.resolve_minutes else None)


def _incident_facts(incident: Incident, service_name: str) -> IncidentFacts:
    return IncidentFacts(incident.id, incident.title, service_name, incident.status, incident.urgency,
                         incident.created_at, incident.acknowledged_at, incident.resolved_at,
                         incident.duplicate_count or 0, incident.first_repeat_at, incident.last_seen_at,
                         incident.mapping_value, incident.priority)


def _call(incident: Incident) -> CallFacts | None:
    if incident.created_by_call is None:
        return None
    call = db.session.get(ApiCall, incident.created_by_call)
    if call is None:
        return None
    mine = [o for o in call.outcomes if o.service_id == incident.service_id]
    outcome = next((o for o in mine if o.incident == incident.id), mine[0] if mine else None)
    return CallFacts(call.id, call.received_at, call.token_name, call.source, outcome)


def _replays(incident: Incident) -> list[datetime]:
    """Replays (S27) of its subject on its service while it was open: the stored outcomes say so."""
    if incident.mapping_value is None:
        return []
    until = incident.resolved_at or clock.to_db(clock.now())
    calls = db.session.execute(
        select(ApiCall).join(CallService, CallService.call_id == ApiCall.id)
        .where(CallService.service_id == incident.service_id, CallService.received_at > incident.created_at,
               CallService.received_at <= until, ApiCall.status == 208)
        .order_by(CallService.received_at).limit(MOST_CALLS)).scalars()
    value = short(incident.mapping_value)
    return [c.received_at for c in calls for o in c.outcomes if o.service_id == incident.service_id and o.replay
            and o.trigger is not None and o.trigger.mapping_value == value]


def _windows(incident: Incident) -> list[WindowFacts]:
    rows = db.session.execute(select(Maintenance).where(Maintenance.service_id == incident.service_id)
                              .order_by(Maintenance.id)).scalars()
    return [WindowFacts(w.starts_at, w.ends_at, list(w.tags or []), w.origin) for w in rows]


def _pages(incident: Incident, names: dict[int, str]) -> list[PageFacts]:
    rows = db.session.execute(select(Notification).where(
        Notification.incident_id == incident.id, Notification.kind == Kind.PAGE.value)
        .order_by(Notification.id).limit(MOST_PAGES)).scalars()
    return [PageFacts(names.get(n.user_id, n.target) if n.user_id else n.target, n.user_id, n.channel, n.level,
                      n.status, n.queued_at, n.sent_at, n.answer, n.error) for n in rows]


def _events(incident: Incident) -> list[EventFacts]:
    rows = db.session.execute(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                              .order_by(IncidentEvent.at, IncidentEvent.id)).scalars()
    return [EventFacts(e.at, e.kind, e.actor, e.user_id, e.note) for e in rows]


def facts(incident: Incident, service_name: str, zone: str, names: dict[int, str]) -> list[Fact]:
    """The section Callgoose writes, with times worded in ``zone``."""
    return written_section(_incident_facts(incident, service_name), _call(incident), incident.created_by_call,
                           _replays(incident), _windows(incident), _pages(incident, names), _events(incident),
                           zone, targets_for(incident))


def _follow_ups(review: IncidentReview | None) -> list[FollowUp]:
    if review is None:
        return []
    return [FollowUp(f.get("text", ""), f.get("owner_id"), f.get("link"), bool(f.get("done")))
            for f in review.follow_ups or [] if isinstance(f, dict)]


def review_page(incident_id: int, zone: str, service_id: int | None = None) -> ReviewPage | None:
    """Everything the review shows, or None when there is no such incident (within ``service_id``)."""
    found = get_incident(incident_id, service_id)
    if found is None:
        return None
    incident, service_name = found
    names = people.names()
    active = {u.id: people.display_name(u) for u in db.session.execute(
        select(User).where(User.active).order_by(User.email)).scalars()}
    review = db.session.get(IncidentReview, incident_id)
    return ReviewPage(incident, service_name, review, _follow_ups(review),
                      facts(incident, service_name, zone, names), active, names)


def _doc(review: IncidentReview | None) -> dict | None:
    """The audited sub-document of a review."""
    if review is None:
        return None
    return {"summary": review.summary, "root_cause": review.root_cause,
            "follow_ups": [f.to_json() for f in _follow_ups(review)]}


def save(incident_id: int, summary: str, root_cause: str, rows: list[tuple], now: float, *,
         user_id: int | None, email: str | None) -> IncidentReview | None:
    """Save what people wrote (audited); None when there is no such incident.

    :raises SpecError: a text too long, an owner who is not an active user, a link that is not http(s)."""
    summary, root_cause = (summary or "").strip(), (root_cause or "").strip()
    for path, value in (("summary", summary), ("root cause", root_cause)):
        if len(value) > SUMMARY_CHARS:
            raise SpecError(path, Plural("at most %(num)s character", "at most %(num)s characters", SUMMARY_CHARS, num=SUMMARY_CHARS))

    def work():
        if db.session.get(Incident, incident_id) is None:
            return None
        users = set(db.session.execute(select(User.id).where(User.active)).scalars())
        follow_ups = check_follow_ups(rows, users)
        review = db.session.get(IncidentReview, incident_id)
        before = _doc(review)
        if review is None:
            review = IncidentReview(incident_id=incident_id)
            db.session.add(review)
        review.summary, review.root_cause = summary, root_cause
        review.follow_ups = [f.to_json() for f in follow_ups]
        review.updated_at, review.updated_by_id, review.updated_by = clock.to_db(now), user_id, email
        db.session.flush()
        audit.record_change("incident review", incident_id, f"#{incident_id}", before, _doc(review))
        return review
    return write(work)


def _plain(value):
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(page: ReviewPage) -> dict:
    """The review as JSON (the export and ``GET /v1/incidents/<id>/review``): English texts,
    times in ISO 8601 UTC."""
    incident, review = page.incident, page.review
    return {
        "incident": {"id": incident.id, "title": incident.title, "service": page.service_name,
                     "status": incident.status, "urgency": incident.urgency,
                     "created_at": clock.iso(incident.created_at)},
        "summary": review.summary if review else "", "root_cause": review.root_cause if review else "",
        "follow_ups": [{**f.to_json(), "owner": page.names.get(f.owner_id) if f.owner_id else None}
                       for f in page.follow_ups],
        "updated_at": clock.iso(review.updated_at) if review else None,
        "updated_by": review.updated_by if review else None,
        "facts": [{"kind": f.kind, "at": clock.iso(f.at), "words": str(f.text), **_plain(f.data)} for f in page.facts],
    }


def document(incident_id: int, service_id: int | None = None) -> dict | None:
    """The JSON review of one incident (times in UTC), or None outside ``service_id``."""
    page = review_page(incident_id, "UTC", service_id)
    return to_json(page) if page is not None else None
