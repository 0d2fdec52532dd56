"""The on-call part of the configuration document (S34 grows, issue 8 item 9), and the checks
a contact method, a rule, a policy and a webhook must pass wherever they come from.

Users, policies and webhooks are read here into plain values (by email and by name); the
services resolve names to rows. Faults raise :class:`SpecError` with their path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time

from .config import parse_time
from .paging import (
    EVENTS,
    MAX_DELAY_MINUTES,
    MAX_LEVELS,
    MAX_REPEAT,
    MAX_TARGETS,
    URGENCIES,
    WEBHOOK_FORMATS,
)
from .rules import SpecError, check_fields
from .schedules import (
    DAYS,
    UNITS,
    Layer,
    Override,
    Schedule,
    Window,
    known_zone,
    overlapping,
)
from .words import Plural, Say

EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]+")
METHOD_NAME = re.compile(r"\S.{0,63}", re.S)
POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
ROLES = ("admin", "responder", "viewer")  # a viewer reads and changes nothing (issue 19)
MAX_METHODS = 20  # per user
MAX_RULES = 50  # per user
MAX_WEBHOOKS = 20  # per service


def check_email(value, path: str) -> str:
    if not isinstance(value, str) or len(value) > 254 or not EMAIL.fullmatch(value.strip()):
        raise SpecError(path, Say("must be an email address (name@example.com)"))
    return value.strip().lower()


def check_url(value, path: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value.strip()) or len(value) > 2000:
        raise SpecError(path, Say("must be an http:// or https:// URL"))
    return value.strip()


def check_channel(value, path: str, registry: dict):
    """A contact method's type: a channel of ``registry`` (callgoose.channels.REGISTRY, which
    the caller passes: the engine imports no channel) that the document may name."""
    found = registry.get(value) if isinstance(value, str) else None
    if found is None or not found.exported:
        names = [name for name, c in registry.items() if c.exported]
        raise SpecError(path, Say("must be one of %(choices)s", choices=", ".join(names)))
    return found


def check_format(value, path: str) -> str:
    if value not in WEBHOOK_FORMATS:
        raise SpecError(path, Say("must be one of %(choices)s", choices=", ".join(WEBHOOK_FORMATS)))
    return value


def check_minutes(value, path: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_DELAY_MINUTES:
        raise SpecError(path, Say(
                "must be a whole number of minutes from %(low)s to %(high)s", low=low, high=MAX_DELAY_MINUTES))
    return value


def check_urgencies(value, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(u not in URGENCIES for u in value):
        raise SpecError(path, Say('must be a non-empty list of "high" and "low"'))
    return tuple(u for u in URGENCIES if u in value)


def check_events(value, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(e not in EVENTS for e in value):
        raise SpecError(path, Say("must be a non-empty list of %(choices)s", choices=", ".join(EVENTS)))
    return tuple(e for e in EVENTS if e in value)


def check_policy_name(value, path: str) -> str:
    if not isinstance(value, str) or not POLICY_NAME.fullmatch(value.strip()):
        raise SpecError(path, Say("must be 1-64 letters, digits, spaces, '.', '_' or '-'"))
    return value.strip()


def check_method_name(value, path: str) -> str:
    if not isinstance(value, str) or not METHOD_NAME.fullmatch(value.strip()):
        raise SpecError(path, Say("must be 1-64 characters"))
    return value.strip()


def check_time_zone(value, path: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise SpecError(path, Say("must be an IANA time zone name, e.g. Europe/Berlin"))
    if not known_zone(value):
        raise SpecError(path, Say("%(value)s is not an IANA time zone name (e.g. Europe/Berlin)", value=repr(value)))
    return value


def check_secret(value, path: str) -> str:
    if not isinstance(value, str) or not 16 <= len(value) <= 200:
        raise SpecError(path, Say("is required: a secret of 16 to 200 characters"))
    return value


@dataclass(frozen=True)
class MethodDoc:
    name: str
    channel: str
    address: str
    format: str | None
    options: dict = field(default_factory=dict)  # the channel's fields beyond its address


@dataclass(frozen=True)
class RuleDoc:
    contact_method: str
    after_minutes: int
    urgencies: tuple[str, ...]


@dataclass(frozen=True)
class UserDoc:
    email: str
    name: str
    role: str
    time_zone: str
    methods: tuple[MethodDoc, ...]
    rules: tuple[RuleDoc, ...]


@dataclass(frozen=True)
class LevelDoc:
    escalate_after_minutes: int
    users: tuple[str, ...]  # emails
    schedules: tuple[str, ...] = ()  # schedule names: whoever is on call when the level is notified


@dataclass(frozen=True)
class PolicyDoc:
    name: str
    repeat: int
    levels: tuple[LevelDoc, ...]


@dataclass(frozen=True)
class WebhookDoc:
    url: str
    secret: str
    events: tuple[str, ...]
    format: str = "json"


@dataclass(frozen=True)
class ServicePagingDoc:
    escalation_policy: str | None
    webhooks: tuple[WebhookDoc, ...] = field(default_factory=tuple)


def _list(doc: dict, key: str, path: str, limit: int) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise SpecError(f"{path}.{key}" if path else key, Say("must be a list"))
    if len(value) > limit:
        raise SpecError(f"{path}.{key}" if path else key, Say("more than %(limit)s entries", limit=limit))
    return value


def build_user(doc, path: str, registry: dict) -> UserDoc:
    check_fields(doc, path, {"email", "name", "role", "time_zone", "contact_methods", "notification_rules"},
                 {"email"})
    email = check_email(doc["email"], f"{path}.email")
    name = doc.get("name", email)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise SpecError(f"{path}.name", Say("must be 1-100 characters"))
    role = doc.get("role", "responder")
    if role not in ROLES:
        raise SpecError(f"{path}.role", Say("must be admin, responder or viewer"))
    zone = check_time_zone(doc.get("time_zone", "UTC"), f"{path}.time_zone")
    methods = []
    names = set()
    for i, m in enumerate(_list(doc, "contact_methods", path, MAX_METHODS)):
        mpath = f"{path}.contact_methods[{i}]"
        channel = check_channel(m.get("type") if isinstance(m, dict) else None, f"{mpath}.type", registry)
        check_fields(m, mpath, {"name", "type"} | {f.key for f in channel.fields}, {"name"})
        mname = check_method_name(m["name"], f"{mpath}.name")
        if mname in names:
            raise SpecError(f"{mpath}.name", Say("%(mname)s appears twice", mname=repr(mname)))
        names.add(mname)
        fields = channel.check(m, mpath)
        methods.append(MethodDoc(mname, channel.name, fields.address, fields.format, fields.options))
    rules = []
    for i, r in enumerate(_list(doc, "notification_rules", path, MAX_RULES)):
        rpath = f"{path}.notification_rules[{i}]"
        check_fields(r, rpath, {"contact_method", "after_minutes", "urgency"}, {"contact_method"})
        if r["contact_method"] not in names:
            raise SpecError(f"{rpath}.contact_method", Say(
                    "%(value)s is not one of this user's contact methods", value=repr(r['contact_method'])))
        rules.append(RuleDoc(r["contact_method"], check_minutes(r.get("after_minutes", 0), f"{rpath}.after_minutes"),
                             check_urgencies(r.get("urgency", list(URGENCIES)), f"{rpath}.urgency")))
    if methods and not rules:
        first_email = next((m for m in methods if m.channel == "email"), None)
        if first_email is not None:
            rules.append(RuleDoc(first_email.name, 0, URGENCIES))
    return UserDoc(email, name.strip(), role, zone, tuple(methods), tuple(rules))


def build_policy(doc, path: str, known_users: set[str], known_schedules: set[str] = frozenset()) -> PolicyDoc:
    check_fields(doc, path, {"name", "repeat", "levels"}, {"name", "levels"})
    name = check_policy_name(doc["name"], f"{path}.name")
    repeat = doc.get("repeat", 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        raise SpecError(f"{path}.repeat", Say("must be a whole number from 0 to %(num)s", num=MAX_REPEAT))
    levels = []
    raw_levels = _list(doc, "levels", path, MAX_LEVELS)
    if not raw_levels:
        raise SpecError(f"{path}.levels", Say("needs at least one level"))
    for i, lv in enumerate(raw_levels):
        lpath = f"{path}.levels[{i}]"
        check_fields(lv, lpath, {"escalate_after_minutes", "targets"}, {"escalate_after_minutes", "targets"})
        delay = check_minutes(lv["escalate_after_minutes"], f"{lpath}.escalate_after_minutes", low=1)
        targets = _list(lv, "targets", lpath, MAX_TARGETS)
        if not targets:
            raise SpecError(f"{lpath}.targets", Say("needs at least one target"))
        users, schedules = [], []
        for j, t in enumerate(targets):
            tpath = f"{lpath}.targets[{j}]"
            if isinstance(t, dict) and "schedule" in t:
                check_fields(t, tpath, {"schedule"}, {"schedule"})
                if t["schedule"] not in known_schedules:
                    raise SpecError(f"{tpath}.schedule", Say(
                            '%(value)s is not a schedule (list it under "schedules" or add it first)',
                             value=repr(t['schedule'])))
                schedules.append(t["schedule"])
                continue
            check_fields(t, tpath, {"user"}, {"user"})
            email = check_email(t["user"], f"{tpath}.user")
            if email not in known_users:
                raise SpecError(f"{tpath}.user", Say(
                        '%(email)s is not a user (list them under "users" or add them first)', email=email))
            users.append(email)
        levels.append(LevelDoc(delay, tuple(users), tuple(schedules)))
    return PolicyDoc(name, repeat, tuple(levels))


def build_webhook(doc, path: str) -> WebhookDoc:
    check_fields(doc, path, {"url", "secret", "events", "format"}, {"url", "secret"})
    return WebhookDoc(check_url(doc["url"], f"{path}.url"), check_secret(doc["secret"], f"{path}.secret"),
                      check_events(doc.get("events", list(EVENTS)), f"{path}.events"),
                      check_format(doc.get("format", "json"), f"{path}.format"))


MAX_SCHEDULES = 200
MAX_LAYERS = 20
MAX_OVERRIDES = 500
HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def _hhmm(value, path: str) -> time:
    if not isinstance(value, str) or not HHMM.fullmatch(value):
        raise SpecError(path, Say("must be a time of day HH:MM (00:00 to 23:59)"))
    return time(int(value[:2]), int(value[3:]))


def build_window(doc, path: str) -> Window:
    check_fields(doc, path, {"days", "from", "to"}, {"days", "from", "to"})
    days = doc["days"]
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        raise SpecError(f"{path}.days", Say("must be a non-empty list of %(choices)s", choices=", ".join(DAYS)))
    start, end = _hhmm(doc["from"], f"{path}.from"), _hhmm(doc["to"], f"{path}.to")
    return Window(frozenset(DAYS.index(d) for d in days), start, end)


def build_layer(doc, path: str, known_users: set[str]) -> Layer:
    check_fields(doc, path, {"name", "users", "start", "shift", "restrictions"}, {"name", "users", "start", "shift"})
    name = check_method_name(doc["name"], f"{path}.name")
    users = doc["users"]
    if not isinstance(users, list) or not users or len(users) > MAX_TARGETS:
        raise SpecError(f"{path}.users", Plural("must be a list of 1 to %(num)s user email", "must be a list of 1 to %(num)s user emails", MAX_TARGETS, num=MAX_TARGETS))
    emails = []
    for j, u in enumerate(users):
        email = check_email(u, f"{path}.users[{j}]")
        if email not in known_users:
            raise SpecError(f"{path}.users[{j}]", Say(
                    '%(email)s is not a user (list them under "users" or add them first)', email=email))
        emails.append(email)
    start = doc["start"]
    try:
        if not isinstance(start, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", start):
            raise ValueError
        local = datetime.fromisoformat(start)
        if not 1971 <= local.year <= 9000:
            raise ValueError
    except ValueError:
        raise SpecError(f"{path}.start", Say("must be a local date and time YYYY-MM-DDTHH:MM (no offset: the "
                                         "schedule's time zone applies)")) from None
    shift = doc["shift"]
    check_fields(shift, f"{path}.shift", {"unit", "count"}, {"unit", "count"})
    if shift["unit"] not in UNITS:
        raise SpecError(f"{path}.shift.unit", Say("must be hours, days or weeks"))
    count = shift["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise SpecError(f"{path}.shift.count", Say("must be a whole number from 1 to 1000"))
    windows = tuple(build_window(w, f"{path}.restrictions[{k}]")
                    for k, w in enumerate(_list(doc, "restrictions", path, 50)))
    return Layer(name, tuple(emails), local, shift["unit"], count, windows)


def build_schedule(doc, path: str, known_users: set[str]) -> Schedule:
    """A schedule of the document, by user email; faults name their path."""
    check_fields(doc, path, {"name", "time_zone", "layers", "overrides"}, {"name", "time_zone", "layers"})
    name = check_policy_name(doc["name"], f"{path}.name")
    zone_name = check_time_zone(doc["time_zone"], f"{path}.time_zone")
    layers = []
    names = set()
    for i, lv in enumerate(_list(doc, "layers", path, MAX_LAYERS)):
        layer = build_layer(lv, f"{path}.layers[{i}]", known_users)
        if layer.name in names:
            raise SpecError(f"{path}.layers[{i}].name", Say(
                    "%(name)s appears twice in this schedule", name=repr(layer.name)))
        names.add(layer.name)
        layers.append(layer)
    overrides = []
    for i, o in enumerate(_list(doc, "overrides", path, MAX_OVERRIDES)):
        opath = f"{path}.overrides[{i}]"
        check_fields(o, opath, {"user", "start", "end"}, {"user", "start", "end"})
        email = check_email(o["user"], f"{opath}.user")
        if email not in known_users:
            raise SpecError(f"{opath}.user", Say(
                    '%(email)s is not a user (list them under "users" or add them first)', email=email))
        for key in ("start", "end"):
            if not isinstance(o[key], str) or not re.search(r"(Z|[+-]\d\d:?\d\d)$", o[key].strip()):
                raise SpecError(f"{opath}.{key}", Say("must be an ISO 8601 time with an offset or Z"))
        start, end = parse_time(o["start"], f"{opath}.start"), parse_time(o["end"], f"{opath}.end")
        if end <= start:
            raise SpecError(f"{opath}.end", Say("must be after start"))
        overrides.append(Override(email, start, end))
    clash = overlapping(overrides)
    if clash is not None:
        raise SpecError(f"{path}.overrides[{max(clash)}]", Say("overlaps overrides[%(clash)s]", clash=min(clash)))
    return Schedule(name, zone_name, tuple(layers), tuple(overrides))


@dataclass(frozen=True)
class OnCall:
    users: tuple[UserDoc, ...]
    policies: tuple[PolicyDoc, ...]
    services: dict  # service name -> ServicePagingDoc
    schedules: tuple[Schedule, ...] = ()


def parse_oncall(doc: dict, existing_users: set[str], existing_schedules: set[str] = frozenset(),
                 registry: dict | None = None) -> OnCall:
    """The document's users, schedules, escalation policies and each service's paging part;
    contact methods are checked by ``registry`` (callgoose.channels.REGISTRY)."""
    users = []
    seen = set()
    for i, u in enumerate(_list(doc, "users", "", 1000)):
        user = build_user(u, f"users[{i}]", registry or {})
        if user.email in seen:
            raise SpecError(f"users[{i}].email", Say("%(email)s appears twice", email=user.email))
        seen.add(user.email)
        users.append(user)
    known = existing_users | seen
    schedules = []
    schedule_names = set()
    for i, sd in enumerate(_list(doc, "schedules", "", MAX_SCHEDULES)):
        schedule = build_schedule(sd, f"schedules[{i}]", known)
        if schedule.name in schedule_names:
            raise SpecError(f"schedules[{i}].name", Say("%(name)s appears twice", name=repr(schedule.name)))
        schedule_names.add(schedule.name)
        schedules.append(schedule)
    policies = []
    names = set()
    for i, p in enumerate(_list(doc, "escalation_policies", "", 200)):
        policy = build_policy(p, f"escalation_policies[{i}]", known, set(existing_schedules) | schedule_names)
        if policy.name in names:
            raise SpecError(f"escalation_policies[{i}].name", Say("%(name)s appears twice", name=repr(policy.name)))
        names.add(policy.name)
        policies.append(policy)
    services = {}
    for i, s in enumerate(doc.get("services", []) if isinstance(doc.get("services"), list) else []):
        if not isinstance(s, dict):
            continue
        path = f"services[{i}]"
        policy = s.get("escalation_policy")
        if policy is not None and policy not in names:
            raise SpecError(f"{path}.escalation_policy",
                            Say("%(policy)s is not an escalation policy of this document", policy=repr(policy)))
        hooks = tuple(build_webhook(w, f"{path}.webhooks[{j}]")
                      for j, w in enumerate(_list(s, "webhooks", path, MAX_WEBHOOKS)))
        services[s.get("name")] = ServicePagingDoc(policy, hooks)
    return OnCall(tuple(users), tuple(policies), services, tuple(schedules))
