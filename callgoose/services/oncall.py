"""The on-call part of the configuration document: users with their contact methods and rules,
schedules, escalation policies, each service's policy and webhooks, saved in the caller's
transaction and exported back."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from .. import channels, clock
from ..engine.oncall import OnCall
from ..engine.rules import SpecError
from ..engine.words import Say
from ..extensions import db
from ..store.models import ContactMethod, EscalationPolicy, NotificationRule, Service, ServiceWebhook, User
from . import audit, people, schedules
from .policies import services_changed


def _upsert_user(doc, now: float) -> User:
    user = db.session.execute(select(User).where(User.email == doc.email)).scalar()
    if user is None:
        user = User(email=doc.email, password_hash="", role=doc.role, active=True,
                    created_at=clock.to_db(now))
        db.session.add(user)
    else:
        user.role = doc.role
    user.name, user.time_zone = doc.name, doc.time_zone
    db.session.flush()
    existing = {m.name: m for m in db.session.execute(select(ContactMethod).where(
        ContactMethod.user_id == user.id)).scalars()}
    # The document names only what it may export: a browser's Web Push devices, and their
    # rules, stay as they are (a document's method of the same name replaces one).
    wanted = {m.name for m in doc.methods}
    kept = {m.id for name, m in existing.items() if name not in wanted and not _exported(m.channel)}
    db.session.execute(delete(NotificationRule).where(NotificationRule.user_id == user.id,
                                                      NotificationRule.contact_method_id.not_in(kept)))
    for name, method in existing.items():
        if name not in wanted and method.id not in kept:
            db.session.delete(method)
    by_name = {}
    for m in doc.methods:
        method = existing.get(m.name)
        if method is None:
            method = ContactMethod(user_id=user.id, name=m.name, created_at=clock.to_db(now))
            db.session.add(method)
        if (method.channel, method.address, method.options or {}) != (m.channel, m.address, m.options):
            method.channel, method.address, method.options = m.channel, m.address, m.options or None
        method.format = m.format
        if method.verified_at is None:
            method.verified_at = clock.to_db(now)  # the file is an admin's word
        by_name[m.name] = method
    db.session.flush()
    for r in doc.rules:
        db.session.add(NotificationRule(user_id=user.id, contact_method_id=by_name[r.contact_method].id,
                                        after_minutes=r.after_minutes, urgencies=",".join(r.urgencies)))
    return user


def _active_admins() -> int:
    return db.session.execute(select(func.count(User.id)).where(User.is_admin, User.active)).scalar_one()


def _exported(channel: str) -> bool:
    found = channels.get(channel)
    return found is None or found.exported


def existing_emails() -> set[str]:
    return set(db.session.execute(select(User.email)).scalars())


def save_oncall(oncall: OnCall, now: float) -> None:
    """Write the document's on-call part, in the caller's transaction (services saved first).

    :raises SpecError: the document would leave no active admin (the caller rolls back)."""
    admins_before = _active_admins()
    for user in oncall.users:
        _upsert_user(user, now)
    db.session.flush()
    if admins_before and not _active_admins():
        raise SpecError("users", Say("would leave no active admin: keep at least one user with the role admin"))
    schedule_ids = schedules.save_all(oncall.schedules, now)
    ids = {u.email: u.id for u in db.session.execute(select(User)).scalars()}
    saved = {}
    for p in oncall.policies:
        found = db.session.execute(select(EscalationPolicy).where(EscalationPolicy.name == p.name)).scalar()
        if found is None:
            found = EscalationPolicy(name=p.name, created_at=clock.to_db(now))
            db.session.add(found)
        found.repeat = p.repeat
        found.levels = [{"escalate_after_minutes": lv.escalate_after_minutes,
                         "targets": [{"user": ids[e]} for e in lv.users]
                         + [{"schedule": schedule_ids[n]} for n in lv.schedules]} for lv in p.levels]
        found.updated_at = clock.to_db(now)
        db.session.flush()
        services_changed(Service.escalation_policy_id == found.id)
        saved[p.name] = found.id
    for name, part in oncall.services.items():
        service = db.session.execute(select(Service).where(Service.name == name, Service.live())).scalar()
        if service is None:
            continue
        service.escalation_policy_id = saved.get(part.escalation_policy) if part.escalation_policy else None
        service.version += 1
        db.session.execute(delete(ServiceWebhook).where(ServiceWebhook.service_id == service.id))
        for hook in part.webhooks:
            db.session.add(ServiceWebhook(service_id=service.id, url=hook.url, secret=hook.secret,
                                          events=",".join(hook.events), format=hook.format,
                                          created_at=clock.to_db(now)))


def tracked_policies(part: OnCall) -> list:
    """The document's policies, tracked for the audit log before they are saved."""
    tracked = []
    for p in part.policies:
        found = db.session.execute(select(EscalationPolicy.id).where(EscalationPolicy.name == p.name)).scalar()
        tracked.append(audit.track("policy", found))
        tracked[-1].policy_name = p.name
    return tracked


def policy_id(tracked) -> int | None:
    return db.session.execute(select(EscalationPolicy.id).where(
        EscalationPolicy.name == tracked.policy_name)).scalar()


def export_oncall(service_names: list[str]) -> dict:
    """The on-call part of the document: users (never passwords), policies, each service's part."""
    users = []
    for user in db.session.execute(select(User).order_by(User.email)).scalars():
        methods = list(db.session.execute(select(ContactMethod).where(ContactMethod.user_id == user.id)
                                          .order_by(ContactMethod.id)).scalars())
        rules = list(db.session.execute(select(NotificationRule).where(NotificationRule.user_id == user.id)
                                        .order_by(NotificationRule.after_minutes, NotificationRule.id)).scalars())
        users.append({
            "email": user.email, "name": user.name or user.email, "role": user.role,
            "time_zone": user.time_zone or "UTC",
            "contact_methods": [{"name": m.name, "type": m.channel,
                                 **channels.REGISTRY[m.channel].document(m.address, m.format, m.options)}
                                for m in methods if m.channel in channels.REGISTRY
                                and channels.REGISTRY[m.channel].exported],
            "notification_rules": [{"contact_method": r.method.name, "after_minutes": r.after_minutes,
                                    "urgency": r.urgencies.split(",")} for r in rules
                                   if _exported(r.method.channel)]})
    emails = people.emails()
    by_id = schedules.schedule_names()
    policies_doc = []
    names = {}
    for p in db.session.execute(select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars():
        names[p.id] = p.name
        policies_doc.append({"name": p.name, "repeat": p.repeat, "levels": [
            {"escalate_after_minutes": lv["escalate_after_minutes"],
             "targets": [{"user": emails[t["user"]]} for t in lv["targets"] if t.get("user") in emails]
             + [{"schedule": by_id[t["schedule"]]} for t in lv["targets"] if t.get("schedule") in by_id]}
            for lv in p.levels]})
    services = {}
    for service in db.session.execute(select(Service).where(Service.live())).scalars():
        hooks = list(db.session.execute(select(ServiceWebhook).where(ServiceWebhook.service_id == service.id)
                                        .order_by(ServiceWebhook.id)).scalars())
        services[service.name] = {
            "escalation_policy": names.get(service.escalation_policy_id),
            "webhooks": [{"url": h.url, "secret": h.secret, "events": h.events.split(","), "format": h.format}
                         for h in hooks]}
    return {"users": users, "schedules": schedules.export_all(), "escalation_policies": policies_doc,
            "services": services}
