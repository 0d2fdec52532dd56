"""Who is paged and how: contact methods, notification rules, escalation policies, a
service's policy and webhooks, and the on-call part of the configuration document.

Each public function is one transaction (or one read). Verification codes and test
messages go through the outbox like every other notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select

from .. import clock
from ..delivery.webhook import warning as guard_warning
from ..engine.oncall import (
    MAX_LEVELS,
    MAX_METHODS,
    MAX_RULES,
    MAX_WEBHOOKS,
    OnCall,
    check_address,
    check_channel,
    check_events,
    check_format,
    check_method_name,
    check_minutes,
    check_policy_name,
    check_secret,
    check_urgencies,
    check_url,
)
from ..engine.paging import (
    URGENCIES,
    EscalationState,
    Kind,
    Policy,
    ServicePaging,
    describe_policy,
    person_name,
)
from ..engine.policy_form import LevelRow, PolicyForm, form_of_levels
from ..engine.rules import SpecError
from ..engine.words import Joined, Say, Word
from ..extensions import db
from ..store.models import (
    ContactMethod,
    EscalationPolicy,
    Incident,
    IncidentEscalation,
    Notification,
    NotificationRule,
    Service,
    ServiceWebhook,
    User,
)
from ..store.transactions import session_cursor, write
from . import people, schedules
from .paging import INSERT_NOTIFICATION, notification

DEFAULT_METHOD = "Email"


# ---- contact methods and rules ---------------------------------------------------------

@dataclass(frozen=True)
class MethodView:
    method: ContactMethod
    last: Notification | None  # its last delivery


@dataclass(frozen=True)
class Mine:
    """A user's "My notifications" page."""

    user: User
    methods: list[MethodView]
    rules: list[NotificationRule]
    shifts: list = ()  # (schedule name, Shift) in the next two weeks
    feeds: list = ()  # (CalendarFeed, schedule name or None)


def add_default_method(user: User, now: float) -> None:
    """A new user's default: their sign-in email, at 0 minutes for every urgency (unverified
    until they confirm the code or an admin marks it). The caller's transaction holds it."""
    db.session.flush()
    method = ContactMethod(user_id=user.id, name=DEFAULT_METHOD, channel="email", address=user.email,
                           created_at=clock.to_db(now))
    db.session.add(method)
    db.session.flush()
    db.session.add(NotificationRule(user_id=user.id, contact_method_id=method.id, after_minutes=0,
                                    urgencies=",".join(URGENCIES)))


def my_notifications(user_id: int, now: float | None = None) -> Mine | None:
    user = db.session.get(User, user_id)
    if user is None:
        return None
    methods = list(db.session.execute(select(ContactMethod).where(ContactMethod.user_id == user_id)
                                      .order_by(ContactMethod.id)).scalars())
    views = []
    for method in methods:
        last = db.session.execute(select(Notification).where(Notification.contact_method_id == method.id)
                                  .order_by(Notification.id.desc()).limit(1)).scalar()
        views.append(MethodView(method, last))
    rules = list(db.session.execute(select(NotificationRule).where(NotificationRule.user_id == user_id)
                                    .order_by(NotificationRule.after_minutes, NotificationRule.id)).scalars())
    shifts = schedules.my_shifts(user_id, now) if now is not None else []
    return Mine(user, views, rules, shifts, schedules.feeds_of(user_id))


def _method(user_id: int, method_id: int) -> ContactMethod | None:
    return db.session.execute(select(ContactMethod).where(ContactMethod.id == method_id,
                                                          ContactMethod.user_id == user_id)).scalar()


def add_method(user_id: int, name: str, channel: str, address: str, fmt: str | None, now: float) -> ContactMethod:
    """Add a contact method (unverified). :raises SpecError: what is wrong, by field."""
    channel = check_channel(channel, "type")
    name = check_method_name(name, "name")
    address = check_address(channel, address, "address")
    fmt = check_format(fmt or "json", "format") if channel == "webhook" else None

    def work():
        count = db.session.execute(select(func.count(ContactMethod.id)).where(
            ContactMethod.user_id == user_id)).scalar_one()
        if count >= MAX_METHODS:
            raise SpecError("name", Say("a user has at most %(num)s contact methods", num=MAX_METHODS))
        if db.session.execute(select(ContactMethod.id).where(ContactMethod.user_id == user_id,
                                                             ContactMethod.name == name)).first():
            raise SpecError("name", Say("you have a contact method called %(name)s already", name=repr(name)))
        method = ContactMethod(user_id=user_id, name=name, channel=channel, address=address, format=fmt,
                               created_at=clock.to_db(now))
        db.session.add(method)
        db.session.flush()
        if not db.session.execute(select(NotificationRule.id).where(NotificationRule.user_id == user_id)).first():
            db.session.add(NotificationRule(user_id=user_id, contact_method_id=method.id, after_minutes=0,
                                            urgencies=",".join(URGENCIES)))
        return method
    return write(work)


def add_method_warned(user_id: int, name: str, channel: str, address: str, fmt: str | None, now: float,
                      allowed_hosts: str = "") -> tuple[ContactMethod, str | None]:
    """:func:`add_method`, and for a webhook what the SSRF guard would say of its URL now (the
    guard acts when delivering, as for a service's webhooks). :raises SpecError:"""
    method = add_method(user_id, name, channel, address, fmt, now)
    if method.channel != "webhook":
        return method, None
    allowed = frozenset(h.strip().lower() for h in (allowed_hosts or "").split(",") if h.strip())
    return method, guard_warning(method.address, allowed)


def delete_method(user_id: int, method_id: int) -> bool:
    def work():
        method = _method(user_id, method_id)
        if method is None:
            return False
        db.session.delete(method)
        return True
    return write(work)


def mark_verified(method_id: int, now: float) -> ContactMethod | None:
    """An admin's word that a method works."""
    def work():
        method = db.session.get(ContactMethod, method_id)
        if method is not None and method.verified_at is None:
            method.verified_at = clock.to_db(now)
        return method
    return write(work)


def add_rule(user_id: int, method_id: int, after_minutes, urgencies) -> NotificationRule:
    """:raises SpecError:"""
    after = check_minutes(after_minutes, "after_minutes")
    chosen = check_urgencies(list(urgencies), "urgency")

    def work():
        if _method(user_id, method_id) is None:
            raise SpecError("contact_method", Say("choose one of your contact methods"))
        count = db.session.execute(select(func.count(NotificationRule.id)).where(
            NotificationRule.user_id == user_id)).scalar_one()
        if count >= MAX_RULES:
            raise SpecError("after_minutes", Say("a user has at most %(num)s rules", num=MAX_RULES))
        rule = NotificationRule(user_id=user_id, contact_method_id=method_id, after_minutes=after,
                                urgencies=",".join(chosen))
        db.session.add(rule)
        return rule
    return write(work)


def delete_rule(user_id: int, rule_id: int) -> bool:
    def work():
        rule = db.session.execute(select(NotificationRule).where(NotificationRule.id == rule_id,
                                                                 NotificationRule.user_id == user_id)).scalar()
        if rule is None:
            return False
        db.session.delete(rule)
        return True
    return write(work)


def reachable_users() -> set[int]:
    """Users with at least one verified method that a rule of theirs uses."""
    return set(db.session.execute(
        select(NotificationRule.user_id).join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
        .join(User, User.id == NotificationRule.user_id)
        .where(ContactMethod.verified_at.is_not(None), User.active)).scalars())


# ---- escalation policies ----------------------------------------------------------------

@dataclass(frozen=True)
class PolicyView:
    policy: EscalationPolicy
    preview: str
    unreachable: list[str]  # targets with no verified contact method
    services: list[str]


def policy_of(policy: EscalationPolicy) -> Policy:
    """A stored policy as the engine reads it (what a new incident pins)."""
    return Policy.from_json({"name": policy.name, "repeat": policy.repeat, "levels": policy.levels})


def _methods_by_user() -> dict[int, str]:
    """How each user is paged first, in words ("call", "SMS", "email"), for previews."""
    words = {"voice": "call", "sms": "SMS", "email": "email", "webhook": "webhook"}
    first = {}
    for rule in db.session.execute(select(NotificationRule).order_by(NotificationRule.after_minutes,
                                                                     NotificationRule.id)).scalars():
        if rule.method.verified_at is not None:
            first.setdefault(rule.user_id, words.get(rule.method.channel, rule.method.channel))
    return first


def policy_view(policy: EscalationPolicy, names=None, methods=None, reachable=None) -> PolicyView:
    names = people.names() if names is None else names
    methods = _methods_by_user() if methods is None else methods
    reachable = reachable_users() if reachable is None else reachable
    pinned = policy_of(policy)
    targets = dict.fromkeys(u for lv in pinned.levels for u in lv.users)
    services = list(db.session.execute(select(Service.name).where(
        Service.escalation_policy_id == policy.id, Service.live()).order_by(Service.name)).scalars())
    return PolicyView(policy, describe_policy(pinned, names, methods, schedules.schedule_names()),
                      [names.get(u, f"user {u}") for u in targets if u not in reachable], services)


def policies() -> list[PolicyView]:
    names, methods, reachable = people.names(), _methods_by_user(), reachable_users()
    return [policy_view(p, names, methods, reachable)
            for p in db.session.execute(select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars()]


def policy(policy_id: int) -> EscalationPolicy | None:
    return db.session.get(EscalationPolicy, policy_id)


def policy_choices() -> list[tuple[int, str]]:
    return [(p.id, p.name) for p in db.session.execute(select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars()]


def _levels_doc(levels: list[tuple]) -> list[dict]:
    """Each level as ``(minutes, user ids)`` or ``(minutes, user ids, schedule ids)``, checked:
    a fault's path counts targets users first, then schedules, as the form lists them."""
    if not levels:
        raise SpecError("levels", Say("needs at least one level"))
    if len(levels) > MAX_LEVELS:
        raise SpecError("levels", Say("at most %(num)s levels", num=MAX_LEVELS))
    known = set(db.session.execute(select(User.id)).scalars())
    known_schedules = schedules.schedule_names()
    doc = []
    for i, (delay, users, *more) in enumerate(levels):
        users, rotas = list(dict.fromkeys(users)), list(dict.fromkeys(more[0] if more else ()))
        check_minutes(delay, f"levels[{i}].escalate_after_minutes", low=1)
        if not users and not rotas:
            raise SpecError(f"levels[{i}].targets", Say("needs at least one target: a person or a schedule"))
        for j, u in enumerate(users):
            if u not in known:
                raise SpecError(f"levels[{i}].targets[{j}]", Say("user %(u)s does not exist", u=u))
        for j, s in enumerate(rotas, start=len(users)):
            if s not in known_schedules:
                raise SpecError(f"levels[{i}].targets[{j}]", Say("schedule %(s)s does not exist", s=s))
        doc.append({"escalate_after_minutes": delay,
                    "targets": [{"user": u} for u in users] + [{"schedule": s} for s in rotas]})
    return doc


@dataclass(frozen=True)
class PolicyPage:
    """The policy's page: the stored policy (None for a new one), the form as it shows, and what
    a level can page: active users, and schedules (whoever is on call in them), by id."""

    policy: EscalationPolicy | None
    view: PolicyView | None
    form: PolicyForm
    people: list[User]
    schedules: dict[int, str]


def policy_page(policy_id: int | None, form: PolicyForm | None = None) -> PolicyPage | None:
    """The page, with ``form`` (a refused one, as typed) or the stored policy's; None: no such policy."""
    found = db.session.get(EscalationPolicy, policy_id) if policy_id is not None else None
    if policy_id is not None and found is None:
        return None
    if form is None:
        form = form_of_levels(found.name, found.repeat, found.levels) if found else PolicyForm(levels=(LevelRow("5"),))
    chosen = {u for row in form.levels for u in row.users}  # a deactivated target stays, so a save keeps it
    shown = list(db.session.execute(select(User).where(or_(User.active, User.id.in_(chosen)))
                                    .order_by(User.email)).scalars())
    rotas = dict(sorted(schedules.schedule_names().items(), key=lambda item: item[1]))
    return PolicyPage(found, policy_view(found) if found else None, form, shown, rotas)


def save_policy(policy_id: int | None, name: str, repeat, levels: list[tuple],
                now: float) -> EscalationPolicy | None:
    """Create or change a policy; incidents already open keep the one they pinned.

    :raises SpecError:"""
    name = check_policy_name(name, "name")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= 10:
        raise SpecError("repeat", Say("must be a whole number from 0 to 10"))

    def work():
        doc = _levels_doc(levels)
        clash = db.session.execute(select(EscalationPolicy.id).where(EscalationPolicy.name == name)).scalar()
        if clash is not None and clash != policy_id:
            raise SpecError("name", Say("a policy called %(name)s exists already", name=repr(name)))
        if policy_id is None:
            found = EscalationPolicy(name=name, created_at=clock.to_db(now))
            db.session.add(found)
        else:
            found = db.session.get(EscalationPolicy, policy_id)
            if found is None:
                return None
        found.name, found.repeat, found.levels, found.updated_at = name, repeat, doc, clock.to_db(now)
        db.session.flush()
        _services_changed(Service.escalation_policy_id == found.id)
        return found
    return write(work)


def save_policy_form(policy_id: int | None, form: PolicyForm, now: float) -> EscalationPolicy | None:
    """Save the posted form. :raises SpecError: its path counts levels and targets as the form shows them."""
    return save_policy(policy_id, form.name, form.repeat_count,
                       [(row.minutes, list(row.users), list(row.schedules)) for row in form.levels], now)


def delete_policy(policy_id: int) -> str | None:
    """Delete a policy (its services then page nobody); open incidents keep the copy they pinned."""
    def work():
        found = db.session.get(EscalationPolicy, policy_id)
        if found is None:
            return None
        name = found.name
        db.session.execute(Service.__table__.update().where(Service.escalation_policy_id == policy_id)
                           .values(escalation_policy_id=None, version=Service.version + 1))
        db.session.delete(found)
        return name
    return write(work)


# ---- a service's paging -------------------------------------------------------------------

def paging_of(conn, service_ids: list[int]) -> dict[int, ServicePaging]:
    """For the spec cache: each service's policy and number of webhooks. Whatever changes these
    bumps the service's version (:func:`_services_changed`)."""
    policies = {sid: Policy.from_json({"name": name, "repeat": repeat, "levels": levels})
                for sid, name, repeat, levels in conn.execute(
                    select(Service.id, EscalationPolicy.name, EscalationPolicy.repeat, EscalationPolicy.levels)
                    .join(EscalationPolicy, EscalationPolicy.id == Service.escalation_policy_id)
                    .where(Service.id.in_(service_ids))).all()}
    hooks = dict(conn.execute(select(ServiceWebhook.service_id, func.count(ServiceWebhook.id))
                              .where(ServiceWebhook.service_id.in_(service_ids))
                              .group_by(ServiceWebhook.service_id)).all())
    return {sid: ServicePaging(policies.get(sid), hooks.get(sid, 0)) for sid in service_ids}


def _services_changed(*conditions) -> None:
    """Bump the version of the services that match, so every process reloads their spec."""
    db.session.execute(Service.__table__.update().where(*conditions).values(version=Service.version + 1))


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
    return write(work)


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
            raise SpecError("url", Say("a service has at most %(num)s webhooks", num=MAX_WEBHOOKS))
        hook = ServiceWebhook(service_id=service_id, url=url, secret=secret, events=",".join(chosen), format=fmt,
                              created_at=clock.to_db(now))
        db.session.add(hook)
        _services_changed(Service.id == service_id)
        return hook
    hook = write(work)
    if hook is None:
        return None
    allowed = frozenset(h.strip().lower() for h in (allowed_hosts or "").split(",") if h.strip())
    return hook, guard_warning(url, allowed)


def delete_webhook(service_id: int, hook_id: int) -> bool:
    def work():
        gone = db.session.execute(delete(ServiceWebhook).where(
            ServiceWebhook.id == hook_id, ServiceWebhook.service_id == service_id)).rowcount == 1
        _services_changed(Service.id == service_id)
        return gone
    return write(work)


# ---- an incident's paging, and the ledger -----------------------------------------------------

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
        if old is None or old.status not in ("failed", "unknown"):
            return False
        session_cursor().execute(INSERT_NOTIFICATION, notification(
            clock.to_db(now), kind=old.kind, channel=old.channel, target=old.target, incident_id=old.incident_id,
            user_id=old.user_id, contact_method_id=old.contact_method_id, webhook_id=old.webhook_id,
            event=old.event, level=old.level, body=old.body if old.kind != Kind.VERIFY.value else None))
        return True
    return write(work)


# ---- the configuration document --------------------------------------------------------------

def _upsert_user(doc, now: float) -> User:
    user = db.session.execute(select(User).where(User.email == doc.email)).scalar()
    if user is None:
        user = User(email=doc.email, password_hash="", is_admin=doc.role == "admin", active=True,
                    created_at=clock.to_db(now))
        db.session.add(user)
    else:
        user.is_admin = doc.role == "admin"
    user.name, user.time_zone = doc.name, doc.time_zone
    db.session.flush()
    existing = {m.name: m for m in db.session.execute(select(ContactMethod).where(
        ContactMethod.user_id == user.id)).scalars()}
    db.session.execute(delete(NotificationRule).where(NotificationRule.user_id == user.id))
    wanted = {m.name for m in doc.methods}
    for name, method in existing.items():
        if name not in wanted:
            db.session.delete(method)
    by_name = {}
    for m in doc.methods:
        method = existing.get(m.name)
        if method is None:
            method = ContactMethod(user_id=user.id, name=m.name, created_at=clock.to_db(now))
            db.session.add(method)
        if (method.channel, method.address) != (m.channel, m.address):
            method.channel, method.address = m.channel, m.address
        method.format = m.format
        if method.verified_at is None:
            method.verified_at = clock.to_db(now)  # the file is an admin's word
        by_name[m.name] = method
    db.session.flush()
    for r in doc.rules:
        db.session.add(NotificationRule(user_id=user.id, contact_method_id=by_name[r.contact_method].id,
                                        after_minutes=r.after_minutes, urgencies=",".join(r.urgencies)))
    return user


def existing_emails() -> set[str]:
    return set(db.session.execute(select(User.email)).scalars())


def save_oncall(oncall: OnCall, now: float) -> None:
    """Write the document's on-call part, in the caller's transaction (services saved first)."""
    for user in oncall.users:
        _upsert_user(user, now)
    db.session.flush()
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
        _services_changed(Service.escalation_policy_id == found.id)
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


def export_oncall(service_names: list[str]) -> dict:
    """The on-call part of the document: users (never passwords), policies, each service's part."""
    users = []
    for user in db.session.execute(select(User).order_by(User.email)).scalars():
        methods = list(db.session.execute(select(ContactMethod).where(ContactMethod.user_id == user.id)
                                          .order_by(ContactMethod.id)).scalars())
        rules = list(db.session.execute(select(NotificationRule).where(NotificationRule.user_id == user.id)
                                        .order_by(NotificationRule.after_minutes, NotificationRule.id)).scalars())
        users.append({
            "email": user.email, "name": user.name or user.email, "role": "admin" if user.is_admin else "responder",
            "time_zone": user.time_zone or "UTC",
            "contact_methods": [{"name": m.name, "type": m.channel,
                                 **({"url": m.address, "format": m.format or "json"} if m.channel == "webhook"
                                    else {"address": m.address})} for m in methods],
            "notification_rules": [{"contact_method": r.method.name, "after_minutes": r.after_minutes,
                                    "urgency": r.urgencies.split(",")} for r in rules]})
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

