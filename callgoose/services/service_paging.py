"""A service's paging: its escalation policy and webhooks, as the spec cache reads them and as
its page shows and changes them. Each public function is one transaction (or one read)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from .. import clock
from ..delivery.webhook import warning as guard_warning
from ..channels.base import check_url
from ..engine.oncall import MAX_WEBHOOKS, check_events, check_format, check_secret
from ..engine.paging import Policy, ServicePaging
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.models import EscalationPolicy, Service, ServiceWebhook
from ..store.transactions import write
from . import audit, schedules
from .policies import PolicyView, policy_choices, policy_view, services_changed


def paging_of(conn, service_ids: list[int], shadow: set[int] = frozenset()) -> dict[int, ServicePaging]:
    """For the spec cache: each service's policy and number of webhooks, and whether it runs
    in shadow mode (``shadow``: those that do). Whatever changes these bumps the service's
    version (:func:`services_changed`)."""
    policies = {sid: Policy.from_json({"name": name, "repeat": repeat, "levels": levels})
                for sid, name, repeat, levels in conn.execute(
                    select(Service.id, EscalationPolicy.name, EscalationPolicy.repeat, EscalationPolicy.levels)
                    .join(EscalationPolicy, EscalationPolicy.id == Service.escalation_policy_id)
                    .where(Service.id.in_(service_ids))).all()}
    hooks = dict(conn.execute(select(ServiceWebhook.service_id, func.count(ServiceWebhook.id))
                              .where(ServiceWebhook.service_id.in_(service_ids))
                              .group_by(ServiceWebhook.service_id)).all())
    return {sid: ServicePaging(policies.get(sid), hooks.get(sid, 0), sid in shadow) for sid in service_ids}


@dataclass(frozen=True)
class PagingSection:
    policy: PolicyView | None
    webhooks: list[ServiceWebhook]
    choices: list[tuple[int, str]]
    on_call: list = ()  # schedules.NowAndNext of the schedules its policy pages through


def service_paging(service_id: int, now: float | None = None) -> PagingSection:
    service = db.session.get(Service, service_id)
    found = db.session.get(EscalationPolicy, service.escalation_policy_id) if service and service.escalation_policy_id else None
    hooks = list(db.session.execute(select(ServiceWebhook).where(ServiceWebhook.service_id == service_id)
                                    .order_by(ServiceWebhook.id)).scalars())
    used = {t["schedule"] for lv in (found.levels if found else []) for t in lv["targets"] if "schedule" in t}
    on_call = [r for r in schedules.now_and_next(now) if r.row.id in used] if used and now is not None else []
    return PagingSection(policy_view(found) if found else None, hooks, policy_choices(), on_call)


def paged_services() -> dict[int, str]:
    """Service id -> its policy's name, for the Services list."""
    rows = db.session.execute(select(Service.id, EscalationPolicy.name).join(
        EscalationPolicy, EscalationPolicy.id == Service.escalation_policy_id)).all()
    return {sid: name for sid, name in rows}


def paging_doc(service_id: int) -> dict | None:
    """A service's paging part of the S34 document, for the audit log (a webhook's secret is
    marked changed, never kept)."""
    service = db.session.get(Service, service_id)
    if service is None:
        return None
    policy = db.session.get(EscalationPolicy, service.escalation_policy_id) if service.escalation_policy_id else None
    hooks = db.session.execute(select(ServiceWebhook).where(ServiceWebhook.service_id == service_id)
                               .order_by(ServiceWebhook.id)).scalars()
    return {"name": service.name, "escalation_policy": policy.name if policy else None,
            "webhooks": [{"url": h.url, "secret": h.secret, "events": h.events.split(","), "format": h.format}
                         for h in hooks]}


audit.trackable("service paging", paging_doc)


def set_service_policy(service_id: int, policy_id: int | None) -> bool:
    def work():
        service = db.session.get(Service, service_id)
        if service is None or service.deleted_at is not None:
            return False
        if policy_id is not None and db.session.get(EscalationPolicy, policy_id) is None:
            raise SpecError("policy", Say("no such escalation policy"))
        service.escalation_policy_id = policy_id
        service.version += 1
        return True
    return write(audit.tracking("service paging", service_id, work))


def add_webhook(service_id: int, url: str, secret: str, events, fmt: str, now: float,
                allowed_hosts: str = "") -> tuple[ServiceWebhook, str | None] | None:
    """Add a webhook; return it and what the SSRF guard would say of its URL now (a warning:
    the guard acts when delivering). :raises SpecError:"""
    url = check_url(url, "url")
    secret = check_secret(secret, "secret")
    chosen = check_events(list(events), "events")
    fmt = check_format(fmt or "json", "format")

    def work():
        if db.session.get(Service, service_id) is None:
            return None
        count = db.session.execute(select(func.count(ServiceWebhook.id)).where(
            ServiceWebhook.service_id == service_id)).scalar_one()
        if count >= MAX_WEBHOOKS:
            raise SpecError("url", Plural("a service has at most %(num)s webhook", "a service has at most %(num)s webhooks", MAX_WEBHOOKS, num=MAX_WEBHOOKS))
        hook = ServiceWebhook(service_id=service_id, url=url, secret=secret, events=",".join(chosen), format=fmt,
                              created_at=clock.to_db(now))
        db.session.add(hook)
        services_changed(Service.id == service_id)
        return hook
    hook = write(audit.tracking("service paging", service_id, work))
    if hook is None:
        return None
    allowed = frozenset(h.strip().lower() for h in (allowed_hosts or "").split(",") if h.strip())
    return hook, guard_warning(url, allowed)


def delete_webhook(service_id: int, hook_id: int) -> bool:
    def work():
        gone = db.session.execute(delete(ServiceWebhook).where(
            ServiceWebhook.id == hook_id, ServiceWebhook.service_id == service_id)).rowcount == 1
        services_changed(Service.id == service_id)
        return gone
    return write(audit.tracking("service paging", service_id, work))
