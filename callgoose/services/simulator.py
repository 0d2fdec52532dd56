"""The simulator's reads: a service's current policy, everyone's rules, the schedules, then
the engine's :func:`~callgoose.engine.simulate.simulate`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..engine.paging import PersonalRule
from ..engine.schedules import on_call
from ..engine.simulate import Step, simulate
from ..extensions import db
from ..store.models import (
    ContactMethod,
    EscalationPolicy,
    NotificationRule,
    Service,
    User,
)
from ..store.transactions import session_cursor
from . import people, policies, schedules
from .catalog import reachable_service

HORIZON = 40 * 86400  # overrides loaded this far ahead of the moment simulated


@dataclass(frozen=True)
class Simulation:
    service: Service
    policy: str | None
    urgency: str
    at: float
    steps: list[Step]
    names: dict


def run(service: Service | None, urgency: str, at: float) -> Simulation | None:
    """Who would be paged for ``service``'s incident of ``urgency`` opened at ``at``."""
    if service is None:
        return None
    row = db.session.get(EscalationPolicy, service.escalation_policy_id) if service.escalation_policy_id else None
    if row is None:
        return Simulation(service, None, urgency, at, [], {})
    policy = policies.policy_of(row)
    rules = [PersonalRule(r.user_id, r.contact_method_id, r.after_minutes, tuple(r.urgencies.split(",")),
                          m.channel, m.verified_at is not None)
             for r, m in db.session.execute(select(NotificationRule, ContactMethod).join(
                 ContactMethod, ContactMethod.id == NotificationRule.contact_method_id).join(
                 User, User.id == NotificationRule.user_id).where(User.active)).all()]
    loaded = {}

    def who(schedule_id: int, instant: float) -> tuple:
        if schedule_id not in loaded:
            loaded[schedule_id] = schedules.load(session_cursor(), schedule_id, at - 1, at + HORIZON)
        found = loaded[schedule_id]
        return on_call(found, instant).users if found is not None else ()
    names = people.names()
    by_id = schedules.schedule_names()
    steps = simulate(policy, urgency, at, rules, who, lambda u: names.get(u, f"user {u}"),
                     lambda s: by_id.get(s, f"schedule {s}"))
    return Simulation(service, row.name, urgency, at, steps, names)


def for_service_id(service_id: int, urgency: str, at: float) -> Simulation | None:
    service = db.session.get(Service, service_id)
    return run(service if service is not None and service.deleted_at is None else None, urgency, at)


def paged_at_once(service_id: int | None, now: float, limit: int = 50) -> list[str]:
    """Who a new high-urgency incident would page at once (its policy's first level, through
    their rules), on the service, or (None: a global token) on every live service with a
    policy: what the token tab's test call warns of before it sends."""
    ids = [service_id] if service_id is not None else list(db.session.execute(
        select(Service.id).where(Service.live(), Service.escalation_policy_id.is_not(None))
        .order_by(Service.id).limit(limit)).scalars())
    who: dict[str, None] = {}
    for sid in ids:
        found = for_service_id(sid, "high", now)
        for step in found.steps if found is not None else ():
            if step.level == 0 and step.round == 0 and step.user is not None and step.channel:
                who.setdefault(found.names.get(step.user, f"user {step.user}"), None)
    return list(who)


def for_token(name: str, scope: int | None, urgency: str, at: float) -> tuple[Simulation, dict] | None:
    """The API's simulation for a service the token reaches, with user ids as emails."""
    found = run(reachable_service(name, scope), urgency, at)
    if found is None:
        return None
    return found, people.emails()
