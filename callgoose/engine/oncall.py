"""The on-call part of the configuration document (S34 grows, issue 8 item 9), and the checks
a contact method, a rule, a policy and a webhook must pass wherever they come from.

Users, policies and webhooks are read here into plain values (by email and by name); the
services resolve names to rows. Faults raise :class:`SpecError` with their path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .paging import (
    CHANNELS,
    EVENTS,
    MAX_DELAY_MINUTES,
    MAX_LEVELS,
    MAX_REPEAT,
    MAX_TARGETS,
    URGENCIES,
    WEBHOOK_FORMATS,
)
from .rules import SpecError, check_fields

EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]+")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
METHOD_NAME = re.compile(r"\S.{0,63}", re.S)
POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
ROLES = ("admin", "responder")
MAX_METHODS = 20  # per user
MAX_RULES = 50  # per user
MAX_WEBHOOKS = 20  # per service


def check_email(value, path: str) -> str:
    if not isinstance(value, str) or len(value) > 254 or not EMAIL.fullmatch(value.strip()):
        raise SpecError(path, "must be an email address (name@example.com)")
    return value.strip().lower()


def check_url(value, path: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value.strip()) or len(value) > 2000:
        raise SpecError(path, "must be an http:// or https:// URL")
    return value.strip()


def check_address(channel: str, value, path: str) -> str:
    """An address for the channel: an email address, a webhook URL, or an E.164 number."""
    if channel == "email":
        return check_email(value, path)
    if channel == "webhook":
        return check_url(value, path)
    if not isinstance(value, str):
        raise SpecError(path, "must be a phone number in E.164 form, e.g. +14155550100")
    number = re.sub(r"[\s().-]", "", value)
    if not E164.fullmatch(number):
        raise SpecError(path, "must be a phone number in E.164 form, e.g. +14155550100")
    return number


def check_channel(value, path: str) -> str:
    if value not in CHANNELS:
        raise SpecError(path, "must be one of " + ", ".join(CHANNELS))
    return value


def check_format(value, path: str) -> str:
    if value not in WEBHOOK_FORMATS:
        raise SpecError(path, "must be one of " + ", ".join(WEBHOOK_FORMATS))
    return value


def check_minutes(value, path: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_DELAY_MINUTES:
        raise SpecError(path, f"must be a whole number of minutes from {low} to {MAX_DELAY_MINUTES}")
    return value


def check_urgencies(value, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(u not in URGENCIES for u in value):
        raise SpecError(path, 'must be a non-empty list of "high" and "low"')
    return tuple(u for u in URGENCIES if u in value)


def check_events(value, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(e not in EVENTS for e in value):
        raise SpecError(path, "must be a non-empty list of " + ", ".join(EVENTS))
    return tuple(e for e in EVENTS if e in value)


def check_policy_name(value, path: str) -> str:
    if not isinstance(value, str) or not POLICY_NAME.fullmatch(value.strip()):
        raise SpecError(path, "must be 1-64 letters, digits, spaces, '.', '_' or '-'")
    return value.strip()


def check_method_name(value, path: str) -> str:
    if not isinstance(value, str) or not METHOD_NAME.fullmatch(value.strip()):
        raise SpecError(path, "must be 1-64 characters")
    return value.strip()


def check_time_zone(value, path: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value or len(value) > 64:
        raise SpecError(path, "must be an IANA time zone name, e.g. Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(path, f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin)") from None
    return value


def check_secret(value, path: str) -> str:
    if not isinstance(value, str) or not 16 <= len(value) <= 200:
        raise SpecError(path, "is required: a secret of 16 to 200 characters")
    return value


@dataclass(frozen=True)
class MethodDoc:
    name: str
    channel: str
    address: str
    format: str | None


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
class ServicePaging:
    escalation_policy: str | None
    webhooks: tuple[WebhookDoc, ...] = field(default_factory=tuple)


def _list(doc: dict, key: str, path: str, limit: int) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise SpecError(f"{path}.{key}" if path else key, "must be a list")
    if len(value) > limit:
        raise SpecError(f"{path}.{key}" if path else key, f"more than {limit} entries")
    return value


def build_user(doc, path: str) -> UserDoc:
    check_fields(doc, path, {"email", "name", "role", "time_zone", "contact_methods", "notification_rules"},
                 {"email"})
    email = check_email(doc["email"], f"{path}.email")
    name = doc.get("name", email)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise SpecError(f"{path}.name", "must be 1-100 characters")
    role = doc.get("role", "responder")
    if role not in ROLES:
        raise SpecError(f"{path}.role", "must be admin or responder")
    zone = check_time_zone(doc.get("time_zone", "UTC"), f"{path}.time_zone")
    methods = []
    names = set()
    for i, m in enumerate(_list(doc, "contact_methods", path, MAX_METHODS)):
        mpath = f"{path}.contact_methods[{i}]"
        channel = check_channel(m.get("type") if isinstance(m, dict) else None, f"{mpath}.type")
        allowed = {"name", "type", "format", "address" if channel != "webhook" else "url"}
        check_fields(m, mpath, allowed, {"name", "address" if channel != "webhook" else "url"})
        if channel != "webhook" and "format" in m:
            raise SpecError(f"{mpath}.format", "is for webhooks only")
        mname = check_method_name(m["name"], f"{mpath}.name")
        if mname in names:
            raise SpecError(f"{mpath}.name", f"{mname!r} appears twice")
        names.add(mname)
        key = "url" if channel == "webhook" else "address"
        address = check_address(channel, m[key], f"{mpath}.{key}")
        fmt = check_format(m.get("format", "json"), f"{mpath}.format") if channel == "webhook" else None
        methods.append(MethodDoc(mname, channel, address, fmt))
    rules = []
    for i, r in enumerate(_list(doc, "notification_rules", path, MAX_RULES)):
        rpath = f"{path}.notification_rules[{i}]"
        check_fields(r, rpath, {"contact_method", "after_minutes", "urgency"}, {"contact_method"})
        if r["contact_method"] not in names:
            raise SpecError(f"{rpath}.contact_method", f"{r['contact_method']!r} is not one of this user's contact methods")
        rules.append(RuleDoc(r["contact_method"], check_minutes(r.get("after_minutes", 0), f"{rpath}.after_minutes"),
                             check_urgencies(r.get("urgency", list(URGENCIES)), f"{rpath}.urgency")))
    if methods and not rules:
        first_email = next((m for m in methods if m.channel == "email"), None)
        if first_email is not None:
            rules.append(RuleDoc(first_email.name, 0, URGENCIES))
    return UserDoc(email, name.strip(), role, zone, tuple(methods), tuple(rules))


def build_policy(doc, path: str, known_users: set[str]) -> PolicyDoc:
    check_fields(doc, path, {"name", "repeat", "levels"}, {"name", "levels"})
    name = check_policy_name(doc["name"], f"{path}.name")
    repeat = doc.get("repeat", 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        raise SpecError(f"{path}.repeat", f"must be a whole number from 0 to {MAX_REPEAT}")
    levels = []
    raw_levels = _list(doc, "levels", path, MAX_LEVELS)
    if not raw_levels:
        raise SpecError(f"{path}.levels", "needs at least one level")
    for i, lv in enumerate(raw_levels):
        lpath = f"{path}.levels[{i}]"
        check_fields(lv, lpath, {"escalate_after_minutes", "targets"}, {"escalate_after_minutes", "targets"})
        delay = check_minutes(lv["escalate_after_minutes"], f"{lpath}.escalate_after_minutes", low=1)
        targets = _list(lv, "targets", lpath, MAX_TARGETS)
        if not targets:
            raise SpecError(f"{lpath}.targets", "needs at least one target")
        users = []
        for j, t in enumerate(targets):
            tpath = f"{lpath}.targets[{j}]"
            check_fields(t, tpath, {"user"}, {"user"})
            email = check_email(t["user"], f"{tpath}.user")
            if email not in known_users:
                raise SpecError(f"{tpath}.user", f"{email} is not a user (list them under \"users\" or add them first)")
            users.append(email)
        levels.append(LevelDoc(delay, tuple(users)))
    return PolicyDoc(name, repeat, tuple(levels))


def build_webhook(doc, path: str) -> WebhookDoc:
    check_fields(doc, path, {"url", "secret", "events", "format"}, {"url", "secret"})
    return WebhookDoc(check_url(doc["url"], f"{path}.url"), check_secret(doc["secret"], f"{path}.secret"),
                      check_events(doc.get("events", list(EVENTS)), f"{path}.events"),
                      check_format(doc.get("format", "json"), f"{path}.format"))


@dataclass(frozen=True)
class OnCall:
    users: tuple[UserDoc, ...]
    policies: tuple[PolicyDoc, ...]
    services: dict  # service name -> ServicePaging


def parse_oncall(doc: dict, existing_users: set[str]) -> OnCall:
    """The document's users, escalation policies and each service's paging part."""
    users = []
    seen = set()
    for i, u in enumerate(_list(doc, "users", "", 1000)):
        user = build_user(u, f"users[{i}]")
        if user.email in seen:
            raise SpecError(f"users[{i}].email", f"{user.email} appears twice")
        seen.add(user.email)
        users.append(user)
    known = existing_users | seen
    policies = []
    names = set()
    for i, p in enumerate(_list(doc, "escalation_policies", "", 200)):
        policy = build_policy(p, f"escalation_policies[{i}]", known)
        if policy.name in names:
            raise SpecError(f"escalation_policies[{i}].name", f"{policy.name!r} appears twice")
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
                            f"{policy!r} is not an escalation policy of this document")
        hooks = tuple(build_webhook(w, f"{path}.webhooks[{j}]")
                      for j, w in enumerate(_list(s, "webhooks", path, MAX_WEBHOOKS)))
        services[s.get("name")] = ServicePaging(policy, hooks)
    return OnCall(tuple(users), tuple(policies), services)
