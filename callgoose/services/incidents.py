"""Incidents for people and scripts: the list, one incident, and people's actions on them.

Every change goes through :mod:`callgoose.services.lifecycle` (the hot path uses the same
path), inside one write transaction of :func:`callgoose.store.transactions.write`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import clock
from ..engine.lifecycle import (
    ACTIVE,
    RULES,
    STATUSES,
    Action,
    Status,
    TransitionRefused,
    snooze_minutes,
)
from ..extensions import db
from ..store.models import ApiCall, ChangeCounter, Incident, IncidentEvent, Service
from ..store.transactions import session_cursor, write
from . import deliveries, drills, pagerduty, priorities, readiness, schedules, snapshot
from .catalog import live_services
from .lifecycle import By, Changes, NotFound

IncidentStateError = TransitionRefused  # the name the web layer catches
STATUS_FILTERS = {"active": "Open (" + " or ".join(ACTIVE) + ")", **{s: s.capitalize() for s in STATUSES},
                  "all": "All"}
__all__ = ["STATUSES", "STATUS_FILTERS", "IncidentStateError"]


@dataclass(frozen=True)
class Page:
    items: list[tuple[Incident, str]]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Query:
    """What the list shows: ``status`` is a status, ``active``, or None for all."""

    status: str | None = "active"
    service_id: int | None = None
    urgency: str | None = None
    text: str | None = None
    page: int = 1
    per_page: int = 50
    priority: str | None = None  # P1-P5 (issue 20)
    sort: str = "newest"  # or "priority": P1 first (none last), newest first within each


@dataclass(frozen=True)
class Screen:
    """The incident list as the dashboard shows it."""

    page: Page
    marker: str
    triggered: int
    services: list = field(default_factory=list)
    on_call: list = field(default_factory=list)  # schedules.NowAndNext: who is on call now and next
    readiness: list = field(default_factory=list)  # readiness.Finding: what would page nobody soon
    priorities: dict = field(default_factory=dict)  # engine.priorities.Priority by code: labels, colours
    due: dict = field(default_factory=dict)  # incident id -> when its acknowledge target runs out (triggered ones)


@dataclass(frozen=True)
class Entry:
    """One line of the timeline (a stored event, or one summarised from the incident row)."""

    at: datetime
    kind: str
    api_call_id: str | None = None
    actor: str | None = None
    note: str | None = None
    summary: str | None = None
    notification: object = None  # a Notification: the delivery ledger, in the timeline
    words: str | None = None  # the note's message id and values (engine.notes), worded when shown


@dataclass(frozen=True)
class Detail:
    incident: Incident
    service_name: str
    call: ApiCall | None
    events: list[Entry]
    marker: str
    paging: object = None  # deliveries.IncidentPaging: who was paged, who is next, and when
    drill: object = None  # a DrillRun: this incident is a fire drill (issue 17, item 6)
    changes: list = field(default_factory=list)  # pagerduty.RecentChange: its service's, the day before it opened
    priorities: dict = field(default_factory=dict)  # engine.priorities.Priority by code
    targets: dict = field(default_factory=dict)  # acknowledge | resolve -> (minutes, due at, missed at)


def to_dict(incident: Incident, service_name: str) -> dict:
    """The JSON shape of an incident (S36), with ``snoozed_until`` while it is snoozed."""
    found = snapshot.of_model(incident, service_name)
    if incident.snoozed_until is not None and incident.status == Status.ACKNOWLEDGED.value:
        found["snoozed_until"] = clock.iso(incident.snoozed_until)
    return found


def list_incidents(query: Query, *, with_payload: bool = False) -> Page:
    """Incidents newest first, one page of them, with the total count."""
    rows = select(Incident, Service.name).join(Service, Service.id == Incident.service_id)
    count = select(func.count()).select_from(Incident)
    conditions = []
    if query.status == "active":
        conditions.append(Incident.status.in_(ACTIVE))
    elif query.status:
        conditions.append(Incident.status == query.status)
    if query.service_id is not None:
        conditions.append(Incident.service_id == query.service_id)
    if query.urgency:
        conditions.append(Incident.urgency == query.urgency)
    if query.priority:
        conditions.append(Incident.priority == query.priority)
    if query.text:
        pattern = "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(Incident.title.ilike(pattern, escape="\\")
                          | Incident.mapping_value.ilike(pattern, escape="\\"))
    if conditions:
        rows, count = rows.where(*conditions), count.where(*conditions)
    total = db.session.execute(count).scalar_one()
    if with_payload:
        rows = rows.options(selectinload(Incident.stored_payload))
    order = (Incident.created_at.desc(), Incident.id.desc())
    if query.sort == "priority":  # no priority (opened before them) sorts last on either database
        order = (Incident.priority.is_(None), Incident.priority) + order
    found = db.session.execute(rows.order_by(*order)
                               .limit(query.per_page).offset((query.page - 1) * query.per_page)).all()
    return Page([(row[0], row[1]) for row in found], query.page, query.per_page, total)


def list_screen(query: Query, now: float | None = None) -> Screen:
    """The list page: one page of incidents, the poll marker, the triggered count, the services,
    and who is on call now and next (when ``now`` is given)."""
    table = priorities.by_code()
    page = list_incidents(query)
    if now is None:
        return Screen(page, change_marker(), triggered_count(), live_services(), priorities=table,
                      due=acknowledge_due(page, table))
    return Screen(page, change_marker(), triggered_count(), live_services(),
                  schedules.now_and_next(now), readiness.report(now), table, acknowledge_due(page, table))


def _due(incident: Incident, priority, target: str) -> datetime | None:
    minutes = getattr(priority, f"{target}_minutes", None) if priority is not None else None
    return None if minutes is None else incident.created_at + timedelta(minutes=minutes)


def acknowledge_due(page: Page, table: dict) -> dict:
    """When each triggered incident of the page runs out of its acknowledge target (issue 20)."""
    found = {}
    for incident, _name in page.items:
        due = _due(incident, table.get(incident.priority), "acknowledge")
        if incident.status == Status.TRIGGERED.value and due is not None:
            found[incident.id] = due
    return found


def targets_of(incident: Incident, table: dict) -> dict:
    """The incident page's response targets: (minutes, due at, missed at) by target."""
    priority = table.get(incident.priority)
    return {target: (getattr(priority, f"{target}_minutes"), _due(incident, priority, target),
                     getattr(incident, f"{target}_missed_at"))
            for target in ("acknowledge", "resolve") if _due(incident, priority, target) is not None}


def rows_if_changed(query: Query, marker: str | None) -> Screen | None:
    """The list body for a poll, or None while nothing changed since ``marker``."""
    current = change_marker()
    if marker == current:
        return None
    table = priorities.by_code()
    page = list_incidents(query)
    return Screen(page, current, triggered_count(), priorities=table, due=acknowledge_due(page, table))


def get_incident(incident_id: int, service_id: int | None = None) -> tuple[Incident, str] | None:
    """One incident and its service's name; None when absent or outside ``service_id``."""
    query = select(Incident, Service.name).join(Service, Service.id == Incident.service_id).where(
        Incident.id == incident_id)
    if service_id is not None:
        query = query.where(Incident.service_id == service_id)
    row = db.session.execute(query).first()
    return (row[0], row[1]) if row else None


def change_marker() -> str:
    """A short text that changes whenever any incident is opened or changes (for polling).

    It is the sum of the change counter's shards: one read of a few rows, whatever the
    number of incidents and events.
    """
    total = db.session.execute(select(func.coalesce(func.sum(ChangeCounter.value), 0))).scalar_one()
    return f"c{total}"


def incident_marker(incident_id: int) -> str:
    """A short text that changes whenever this incident or its timeline changes (for its page)."""
    version = db.session.execute(select(Incident.version).where(Incident.id == incident_id)).scalar()
    return f"v{version}"


def triggered_count() -> int:
    return db.session.execute(select(func.count(Incident.id)).where(
        Incident.status == Status.TRIGGERED.value)).scalar_one()


def timeline(incident: Incident) -> list[Entry]:
    """The incident's timeline: its events, its repeats as one line, and what retention pruned
    (the events a call made go with the call; the incident row still says when it opened)."""
    events = [Entry(e.at, e.kind, e.api_call_id, e.actor, e.note, words=e.note_words) for e in db.session.execute(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.at, IncidentEvent.id)).scalars()]
    kinds = {e.kind for e in events}
    pruned = "(its entry went with the call, by retention)"
    opened, resolved = RULES[Action.OPEN].event, RULES[Action.RESOLVE].event
    if opened not in kinds:
        events.insert(0, Entry(incident.created_at, opened, summary=pruned))
    if incident.resolved_at is not None and resolved not in kinds:
        events.append(Entry(incident.resolved_at, resolved, summary=pruned))
    if incident.duplicate_count:
        first = incident.first_repeat_at or incident.last_seen_at
        when = (f"at {first:%Y-%m-%d %H:%M:%S}" if first == incident.last_seen_at else
                f"between {first:%Y-%m-%d %H:%M:%S} and {incident.last_seen_at:%Y-%m-%d %H:%M:%S}")
        word = "repeat" if incident.duplicate_count == 1 else "repeats"
        events.append(Entry(first, "repeated", summary=f"{incident.duplicate_count} {word} {when} UTC"))
    events.sort(key=lambda e: e.at)  # stable: stored entries keep their order
    return events


def creating_call(incident: Incident) -> ApiCall | None:
    """The API call that opened the incident, while retention keeps it."""
    if incident.created_by_call is None:
        return None
    return db.session.get(ApiCall, incident.created_by_call)


def detail(incident_id: int) -> Detail | None:
    """Everything the incident page shows, or None when there is no such incident."""
    found = get_incident(incident_id)
    if found is None:
        return None
    incident, service_name = found
    table = priorities.by_code()
    paging = deliveries.incident_paging(incident)
    events = timeline(incident) + [Entry(n.queued_at, "notification", notification=n) for n in paging.notifications]
    events.sort(key=lambda e: e.at)
    return Detail(incident, service_name, creating_call(incident), events, incident_marker(incident_id), paging,
                  drills.run_of_incident(incident_id),
                  pagerduty.recent_changes(db.engine, incident.service_id, incident.created_at),
                  table, targets_of(incident, table))


def act(action: Action, incident_id: int, now: float, *, actor: str, user_id: int | None = None,
        service_id: int | None = None, note: str | None = None, until: float | None = None
        ) -> tuple[Incident, str] | None:
    """Apply a person's or a script's action to one incident, in one transaction.

    Acknowledging or resolving twice changes nothing. Returns the incident after the change,
    or None when there is no such incident within ``service_id``.

    :raises IncidentStateError: when the incident's status does not allow the action.
    """
    def work():
        changes = Changes(session_cursor(), clock.to_db(now))
        changes.act(action, incident_id, By(actor=actor, user_id=user_id), service_id=service_id, note=note,
                    until=clock.to_db(until))
        changes.finish()
    try:
        write(work)
    except NotFound:
        return None
    return get_incident(incident_id, service_id)


def acknowledge(incident_id: int, now: float, **who) -> tuple[Incident, str] | None:
    return act(Action.ACKNOWLEDGE, incident_id, now, **who)


def unacknowledge(incident_id: int, now: float, **who) -> tuple[Incident, str] | None:
    return act(Action.UNACKNOWLEDGE, incident_id, now, **who)


def resolve(incident_id: int, now: float, **who) -> tuple[Incident, str] | None:
    return act(Action.RESOLVE, incident_id, now, **who)


def snooze(incident_id: int, now: float, minutes, **who) -> tuple[Incident, str] | None:
    """Snooze an acknowledged incident for ``minutes`` (15 to 1440): at that time the snooze job
    makes it triggered again and its policy pages from level 1. Snoozing again sets a new time.

    :raises ValueError: ``minutes`` is out of bounds (the message says which).
    :raises IncidentStateError: the incident is not acknowledged."""
    return act(Action.SNOOZE, incident_id, now, until=now + 60 * snooze_minutes(minutes), **who)


def comment(incident_id: int, now: float, *, text: str, **who) -> tuple[Incident, str] | None:
    """Add a comment to the timeline."""
    return act(Action.COMMENT, incident_id, now, note=text.strip(), **who)


def bulk(action: Action, ids: list[int], now: float, *, actor: str, user_id: int | None) -> int:
    """Apply one action to several incidents in one transaction; return how many it changed.

    An incident that is gone or whose status does not allow the action is left as it is.
    """
    def work() -> int:
        changes = Changes(session_cursor(), clock.to_db(now))
        done = 0
        for incident_id in dict.fromkeys(ids):
            try:
                changes.act(action, incident_id, By(actor=actor, user_id=user_id))
                done += 1
            except (NotFound, TransitionRefused):
                pass
        changes.finish()
        return done
    return write(work)
