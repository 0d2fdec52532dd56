"""Deliveries: an incident's paging (who was paged, who is next, and when) and the
Notifications ledger, with a person's resend. Each public function is one transaction (or one
read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from .. import clock
from ..engine.paging import EscalationState, Kind, Policy, describe_policy, person_name
from ..engine.words import Joined, Say, Word
from ..extensions import db
from ..store.models import Incident, IncidentEscalation, Notification
from ..store.transactions import session_cursor, write
from . import people, schedules
from .paging import INSERT_NOTIFICATION, notification


@dataclass(frozen=True)
class Next:
    at: datetime
    what: str


@dataclass(frozen=True)
class IncidentPaging:
    escalation: IncidentEscalation | None
    notifications: list[Notification]
    names: dict[int, str]
    next: Next | None
    first_delivery_seconds: float | None
    policy_preview: str | None
    state_text: str


def incident_paging(incident: Incident) -> IncidentPaging:
    escalation = db.session.get(IncidentEscalation, incident.id)
    rows = list(db.session.execute(select(Notification).where(Notification.incident_id == incident.id)
                                   .order_by(Notification.id).limit(500)).scalars())
    names = people.names()
    sent = [n.sent_at for n in rows if n.sent_at is not None and n.kind == Kind.PAGE.value]
    first = (min(sent) - incident.created_at).total_seconds() if sent else None
    upcoming = None
    preview = None
    if escalation is None:
        text = Say("Nobody is paged for this incident: its service had no escalation policy when it opened.")
    else:
        pinned = Policy.from_json(escalation.policy)
        preview = describe_policy(pinned, names, schedules=schedules.schedule_names())
        state = escalation.state
        if state == EscalationState.STOPPED.value:
            text = Say("Escalation stopped: the incident was %(status)s.", status=Word(incident.status))
        elif state == EscalationState.FINISHED.value:
            text = Say("Escalation finished, nobody acknowledged.")
        else:
            text = Say("Escalating with %(policy)s (level %(level)s of %(levels)s notified).", policy=pinned.name,
                       level=escalation.level + 1, levels=len(pinned.levels))
            from ..engine.paging import next_step
            step = next_step(pinned, escalation.level, escalation.round) if pinned.levels else None
            if escalation.next_at is not None:
                if step is None:
                    upcoming = Next(escalation.next_at, Say("escalation finishes (nobody acknowledged)"))
                else:
                    target = pinned.levels[step.level]
                    by_id = schedules.schedule_names()
                    who = Joined([person_name(names, u) for u in target.users]
                                 + [Say("on call in %(schedule)s", schedule=by_id.get(s, s)) for s in target.schedules],
                                 ", ")
                    upcoming = Next(escalation.next_at, Say("level %(num)s: %(who)s", num=step.level + 1, who=who))
        pending = [n for n in rows if n.status == "pending" and n.kind == Kind.PAGE.value]
        if pending and upcoming is None:
            soonest = min(pending, key=lambda n: n.due_at)
            upcoming = Next(soonest.due_at, Say("%(name)s by %(method)s", name=names.get(soonest.user_id, "?"),
                                                method=Word(soonest.channel)))
    return IncidentPaging(escalation, rows, names, upcoming, first, preview, text)


@dataclass(frozen=True)
class Ledger:
    items: list[Notification]
    names: dict[int, str]
    page: int
    pages: int
    total: int


def ledger(*, status: str | None = None, channel: str | None = None, user_id: int | None = None,
           incident_id: int | None = None, page: int = 1, per_page: int = 50) -> Ledger:
    query = select(Notification)
    count = select(func.count(Notification.id))
    conditions = []
    if status:
        conditions.append(Notification.status == status)
    if channel:
        conditions.append(Notification.channel == channel)
    if user_id:
        conditions.append(Notification.user_id == user_id)
    if incident_id:
        conditions.append(Notification.incident_id == incident_id)
    if conditions:
        query, count = query.where(*conditions), count.where(*conditions)
    total = min(db.session.execute(count).scalar_one(), 100_000)
    items = list(db.session.execute(query.order_by(Notification.id.desc()).limit(per_page)
                                    .offset((page - 1) * per_page)).scalars())
    return Ledger(items, people.names(), page, max(1, -(-total // per_page)), total)


def resend(notification_id: int, now: float) -> bool:
    """Queue a failed or unknown notification again, as a new delivery (a person's choice)."""
    def work():
        old = db.session.get(Notification, notification_id)
        if old is None or old.status not in ("failed", "unknown") or old.kind == Kind.ACCESS.value:
            return False  # a sign-in link's text is not kept: its person asks for a new one
        session_cursor().execute(INSERT_NOTIFICATION, notification(
            clock.to_db(now), kind=old.kind, channel=old.channel, target=old.target, incident_id=old.incident_id,
            user_id=old.user_id, contact_method_id=old.contact_method_id, webhook_id=old.webhook_id,
            event=old.event, level=old.level, body=old.body if old.kind != Kind.VERIFY.value else None))
        return True
    return write(work)
