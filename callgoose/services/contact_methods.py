"""A user's contact methods (where a page can go) and their "My notifications" page.

Each public function is one transaction (or one read). Verification codes and test
messages go through the outbox like every other notification (``checks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from .. import channels, clock
from ..delivery import Settings
from ..delivery.webhook import warning as guard_warning
from ..channels.base import Address
from ..engine.oncall import MAX_METHODS, check_channel, check_method_name
from ..engine.paging import URGENCIES
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.models import ContactMethod, Notification, NotificationRule, User
from ..store.transactions import write
from . import audit, checks, schedules, user_audit  # noqa: F401 (user_audit registers)

DEFAULT_METHOD = "Email"


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


def owned_method(user_id: int, method_id: int) -> ContactMethod | None:
    """The method if it is this user's (a user names only their own)."""
    return db.session.execute(select(ContactMethod).where(ContactMethod.id == method_id,
                                                          ContactMethod.user_id == user_id)).scalar()


def add_method(user_id: int, name: str, channel: str, values: dict, now: float) -> ContactMethod:
    """Add a contact method (unverified) of ``channel`` with its fields ``values`` (a form's:
    the first field as ``address``, the others by their keys). :raises SpecError: what is
    wrong, by field."""
    found, name, fields = check_method(name, channel, values)
    return write(audit.tracking("user", user_id, lambda: _insert(user_id, name, found, fields, now)))


def check_method(name: str, channel: str, values: dict) -> tuple:
    """A new method's channel, name and fields, checked (no I/O). :raises SpecError:"""
    found = check_channel(channel, "type", channels.REGISTRY)
    return found, check_method_name(name, "name"), found.check(found.from_form(values))


def insert_method(user_id: int, checked: tuple, now: float) -> ContactMethod:
    """Insert a :func:`check_method` result in the caller's transaction (a name taken gets a number)."""
    found, name, fields = checked
    return _insert(user_id, name, found, fields, now, numbered=True)


def _insert(user_id: int, name: str, found, fields: Address, now: float, numbered: bool = False) -> ContactMethod:
    """Insert the method in the caller's transaction (``numbered``: a name taken gets " 2",
    " 3", ... instead of a refusal); the user's first method gets the first rule."""
    count = db.session.execute(select(func.count(ContactMethod.id)).where(
        ContactMethod.user_id == user_id)).scalar_one()
    if count >= MAX_METHODS:
        raise SpecError("name", Plural("a user has at most %(num)s contact method", "a user has at most %(num)s contact methods", MAX_METHODS, num=MAX_METHODS))
    taken = set(db.session.execute(select(ContactMethod.name).where(ContactMethod.user_id == user_id)).scalars())
    if numbered:
        name = next(n for n in (name, *(f"{name[:60]} {i}" for i in range(2, MAX_METHODS + 2))) if n not in taken)
    elif name in taken:
        raise SpecError("name", Say("you have a contact method called %(name)s already", name=repr(name)))
    method = ContactMethod(user_id=user_id, name=name, channel=found.name, address=fields.address,
                           format=fields.format, options=fields.options or None, created_at=clock.to_db(now))
    db.session.add(method)
    db.session.flush()
    if not db.session.execute(select(NotificationRule.id).where(NotificationRule.user_id == user_id)).first():
        db.session.add(NotificationRule(user_id=user_id, contact_method_id=method.id, after_minutes=0,
                                        urgencies=",".join(URGENCIES)))
    return method


def add_device(user_id: int, name: str, channel: str, values: dict, now: float) -> ContactMethod:
    """A method the browser adds (a Web Push subscription), which neither the form nor the
    document may. The same device again keeps its method; new keys for it replace the old
    ones and want a new code; a name taken gets a number. :raises SpecError:"""
    found = channels.get(channel)
    if found is None or found.form or found.exported:
        raise SpecError("type", Say("must be a channel a browser adds"))
    name = check_method_name(name, "name")
    fields = found.check(values)

    def work():
        same = db.session.execute(select(ContactMethod).where(
            ContactMethod.user_id == user_id, ContactMethod.channel == found.name,
            ContactMethod.address == fields.address)).scalar()
        if same is None:
            return _insert(user_id, name, found, fields, now, numbered=True)
        if (same.options or {}) != fields.options:
            same.options, same.verified_at = fields.options, None
        return same
    return write(audit.tracking("user", user_id, work))


def subscribe_device(user_id: int, name: str, channel: str, values: dict, now: float,
                     key: str) -> tuple[ContactMethod, Say | None]:
    """:func:`add_device`, and a code to it at once unless it is verified (its person holds
    it): the method, and why no code went (a rate limit) or None. :raises SpecError:"""
    method = add_device(user_id, name, channel, values, now)
    if method.verified_at is not None:
        return method, None
    sent = checks.send_code(user_id, method.id, now, key)
    return method, sent.refused if sent is not None else None


def add_method_warned(user_id: int, name: str, channel: str, values: dict, now: float,
                      allowed_hosts: str = "") -> tuple[ContactMethod, str | None]:
    """:func:`add_method`, and for a channel whose URL the user gives what the SSRF guard would
    say of it now (the guard acts when delivering, as for a service's webhooks). :raises SpecError:"""
    method = add_method(user_id, name, channel, values, now)
    found = channels.get(method.channel)
    if found is None or found.url_field is None:
        return method, None
    url = Address(method.address, method.format, method.options or {}).value(found.url_field, found.fields)
    allowed = frozenset(h.strip().lower() for h in (allowed_hosts or "").split(",") if h.strip())
    return method, guard_warning(url, allowed) if url else None


def offered(config) -> list[dict]:
    """The channels My notifications offers to add, and whether this server can send each."""
    settings = Settings.from_config(config)
    return [{"channel": c, "ready": c.ready(settings)} for c in channels.REGISTRY.values() if c.form]


def shown(method: ContactMethod) -> str:
    """A method's address as its page shows it (a channel may mask part of it)."""
    found = channels.get(method.channel)
    return found.shown(method.address, method.options) if found is not None else method.address


def delete_method(user_id: int, method_id: int) -> bool:
    def work():
        method = owned_method(user_id, method_id)
        if method is None:
            return False
        db.session.delete(method)
        return True
    return write(audit.tracking("user", user_id, work))


def mark_verified(method_id: int, now: float) -> ContactMethod | None:
    """An admin's word that a method works."""
    def work():
        method = db.session.get(ContactMethod, method_id)
        if method is not None and method.verified_at is None:
            tracked = audit.track("user", method.user_id)
            method.verified_at = clock.to_db(now)
            tracked.done()
        return method
    return write(work)


def reachable_users() -> set[int]:
    """Users with at least one verified method that a rule of theirs uses."""
    return set(db.session.execute(
        select(NotificationRule.user_id).join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
        .join(User, User.id == NotificationRule.user_id)
        .where(ContactMethod.verified_at.is_not(None), User.active)).scalars())
