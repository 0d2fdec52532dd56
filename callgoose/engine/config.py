"""The configuration document (S34): services and their rules as JSON, both ways."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from .decide import MaintenanceWindow, ServiceSpec
from .heartbeat import MAX_HEARTBEATS, MAX_MINUTES, Heartbeat
from .payload import MAX_JSON_DEPTH, clean, depth_exceeds
from .rules import (
    Limits,
    SpecError,
    build_condition,
    build_resolve,
    build_trigger,
    check_fields,
    check_rule_count,
)
from .words import Plural, Say

SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
HEARTBEAT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
MAX_WINDOW_SECONDS = 86400
MAX_TAG_SETS = 20  # per maintenance window
MAX_TAGS = 10  # per tag set
MAX_WINDOWS = 100  # maintenance windows per service
MAX_SPLIT_KEY = 200  # S38: the split_on key, in characters
MAX_DOCUMENT_DEPTH = MAX_JSON_DEPTH


def parse_document(text: str):
    """Read a configuration or API document: JSON, nested at most 64 deep, else SpecError."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise SpecError("", Plural("is not valid JSON: nested too deeply (at most %(num)s level)", "is not valid JSON: nested too deeply (at most %(num)s levels)", MAX_DOCUMENT_DEPTH, num=MAX_DOCUMENT_DEPTH)) from None
    except ValueError as exc:
        raise SpecError("", Say("is not valid JSON: %(exc)s", exc=exc)) from None
    if isinstance(doc, (dict, list)) and depth_exceeds(doc, MAX_DOCUMENT_DEPTH):
        raise SpecError("", Plural("is not valid JSON: nested too deeply (at most %(num)s level)", "is not valid JSON: nested too deeply (at most %(num)s levels)", MAX_DOCUMENT_DEPTH, num=MAX_DOCUMENT_DEPTH))
    return doc


def parse_time(value, path: str) -> float | None:
    """Parse an ISO 8601 time (UTC when no offset is given) into epoch seconds."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpecError(path, Say("must be an ISO 8601 time or null"))
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SpecError(path, Say("is not an ISO 8601 time (e.g. 2026-12-24T18:00:00Z)")) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not 1970 <= utc.year <= 9998:
        raise SpecError(path, Say("must be a time between the years 1970 and 9998"))
    return utc.timestamp()


def format_time(epoch: float | None) -> str | None:
    """Format epoch seconds as ISO 8601 UTC with a ``Z``."""
    if epoch is None:
        return None
    text = datetime.fromtimestamp(epoch, timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def build_tags(value, path: str) -> tuple[tuple[str, ...], ...]:
    """Build the tag sets of a maintenance window: a list of non-empty lists of strings."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SpecError(path, Say("must be a list of tag lists"))
    if len(value) > MAX_TAG_SETS:
        raise SpecError(path, Plural("more than %(num)s tag set", "more than %(num)s tag sets", MAX_TAG_SETS, num=MAX_TAG_SETS))
    sets = []
    for i, tag_set in enumerate(value):
        if not isinstance(tag_set, list) or not tag_set:
            raise SpecError(f"{path}[{i}]", Say("must be a non-empty list of tags "
                                            "(an empty outer list means every request)"))
        if len(tag_set) > MAX_TAGS:
            raise SpecError(f"{path}[{i}]", Plural("more than %(num)s tag", "more than %(num)s tags", MAX_TAGS, num=MAX_TAGS))
        tags = []
        for j, tag in enumerate(tag_set):
            if not isinstance(tag, str) or not tag.strip():
                raise SpecError(f"{path}[{i}][{j}]", Say("must be a non-empty string"))
            if len(tag.strip()) > 200:
                raise SpecError(f"{path}[{i}][{j}]", Say("longer than 200 characters"))
            tags.append(clean(tag.strip()))
        sets.append(tuple(tags))
    return tuple(sets)


def build_window(doc, path: str) -> MaintenanceWindow:
    """Build a maintenance window from ``{"starts_at", "ends_at", "tags"}``."""
    check_fields(doc, path, {"starts_at", "ends_at", "tags"})
    starts = parse_time(doc.get("starts_at"), f"{path}.starts_at")
    ends = parse_time(doc.get("ends_at"), f"{path}.ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise SpecError(f"{path}.ends_at", Say("must be after starts_at"))
    return MaintenanceWindow(starts, ends, build_tags(doc.get("tags", []), f"{path}.tags"))


def check_service_name(name, path: str) -> str:
    if not isinstance(name, str) or not SERVICE_NAME.fullmatch(name):
        raise SpecError(path, Say("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    return name


def check_window_seconds(value, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WINDOW_SECONDS:
        raise SpecError(path, Say("must be a whole number of seconds from 0 to %(num)s", num=MAX_WINDOW_SECONDS))
    return value


def _list(doc, name: str, path: str) -> list:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise SpecError(f"{path}.{name}", Say("must be a list"))
    return value


def build_service(doc, path: str, limits: Limits = Limits()) -> ServiceSpec:
    """Build one service of the configuration document."""
    # "escalation_policy" and "webhooks" are the on-call part (engine.oncall reads them).
    check_fields(doc, path, {"name", "enabled", "duplicate_window_seconds", "trigger", "resolve",
                             "maintenance", "escalation_policy", "webhooks", "split_on", "heartbeats", "shadow"},
                 {"name"})
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SpecError(f"{path}.enabled", Say("must be true or false"))
    shadow = doc.get("shadow", False)
    if not isinstance(shadow, bool):
        raise SpecError(f"{path}.shadow", Say("must be true or false"))
    trigger = _list(doc, "trigger", path)
    resolve = _list(doc, "resolve", path)
    check_rule_count(len(trigger), len(resolve), path, limits)
    return ServiceSpec(
        name=check_service_name(doc["name"], f"{path}.name"),
        enabled=enabled,
        shadow=shadow,
        duplicate_window_seconds=check_window_seconds(doc.get("duplicate_window_seconds"),
                                                      f"{path}.duplicate_window_seconds"),
        split_on=check_split_on(doc.get("split_on"), f"{path}.split_on"),
        heartbeats=build_heartbeats(_list(doc, "heartbeats", path), f"{path}.heartbeats", limits),
        trigger=tuple(build_trigger(r, f"{path}.trigger[{i}]", limits) for i, r in enumerate(trigger)),
        resolve=tuple(build_resolve(r, f"{path}.resolve[{i}]", limits) for i, r in enumerate(resolve)),
        maintenance=tuple(build_window(w, f"{path}.maintenance[{i}]")
                          for i, w in enumerate(check_window_count(_list(doc, "maintenance", path),
                                                                   f"{path}.maintenance"))),
    )


def _minutes(value, path: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_MINUTES:
        raise SpecError(path, Say(
                "must be a whole number of minutes from %(low)s to %(max_minutes)s", low=low, max_minutes=MAX_MINUTES))
    return value


def build_heartbeats(docs: list, path: str, limits: Limits = Limits()) -> tuple[Heartbeat, ...]:
    """A service's heartbeats: ``{"name", "conditions", "every_minutes", "grace_minutes", "paused"}``."""
    if len(docs) > MAX_HEARTBEATS:
        raise SpecError(path, Plural("more than %(num)s heartbeat for one service", "more than %(num)s heartbeats for one service", MAX_HEARTBEATS, num=MAX_HEARTBEATS))
    found, names = [], set()
    for i, doc in enumerate(docs):
        hpath = f"{path}[{i}]"
        check_fields(doc, hpath, {"name", "conditions", "every_minutes", "grace_minutes", "paused"},
                     {"name", "every_minutes"})
        name = doc["name"]
        if not isinstance(name, str) or not HEARTBEAT_NAME.fullmatch(name):
            raise SpecError(f"{hpath}.name", Say("must be 1-64 letters, digits, spaces, '.', '_' or '-'"))
        if name in names:
            raise SpecError(f"{hpath}.name", Say("%(name)s appears twice", name=repr(name)))
        names.add(name)
        conditions = _list(doc, "conditions", hpath)
        if len(conditions) > limits.conditions:
            raise SpecError(f"{hpath}.conditions", Plural("more than %(num)s condition", "more than %(num)s conditions", limits.conditions, num=limits.conditions))
        paused = doc.get("paused", False)
        if not isinstance(paused, bool):
            raise SpecError(f"{hpath}.paused", Say("must be true or false"))
        found.append(Heartbeat(name, tuple(build_condition(c, f"{hpath}.conditions[{k}]", limits)
                                           for k, c in enumerate(conditions)),
                               60 * _minutes(doc["every_minutes"], f"{hpath}.every_minutes", 1),
                               60 * _minutes(doc.get("grace_minutes", 0), f"{hpath}.grace_minutes", 0), paused))
    return tuple(found)


def check_split_on(value, path: str) -> str | None:
    """S38: the json key of the array to split on, or None (the payload is evaluated whole)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SPLIT_KEY:
        raise SpecError(path, Plural("must be a json key (1 to %(num)s character) or null", "must be a json key (1 to %(num)s characters) or null", MAX_SPLIT_KEY, num=MAX_SPLIT_KEY))
    if value.strip().startswith("$"):
        raise SpecError(path, Say("names a key of the payload itself (no leading $)"))
    return value.strip()


def check_window_count(windows: list, path: str, existing: int = 0) -> list:
    """Refuse more maintenance windows than a service may hold."""
    if len(windows) + existing > MAX_WINDOWS:
        raise SpecError(path, Plural("more than %(num)s maintenance window for one service; end or delete some first", "more than %(num)s maintenance windows for one service; end or delete some first", MAX_WINDOWS, num=MAX_WINDOWS))
    return windows


def parse_config(doc, limits: Limits = Limits()) -> list[ServiceSpec]:
    """Validate a whole configuration document; raise :class:`SpecError` at the first fault."""
    # "priorities" is read by engine.priorities.build_priorities (issue 20)
    check_fields(doc, "", {"services", "users", "escalation_policies", "schedules", "priorities"}, {"services"})
    services = _list(doc, "services", "")
    specs = []
    seen = set()
    for i, service in enumerate(services):
        spec = build_service(service, f"services[{i}]", limits)
        if spec.name in seen:
            raise SpecError(f"services[{i}].name", Say("%(name)s appears twice", name=repr(spec.name)))
        seen.add(spec.name)
        specs.append(spec)
    return specs


def window_dict(window: MaintenanceWindow) -> dict:
    return {"starts_at": format_time(window.starts_at), "ends_at": format_time(window.ends_at),
            "tags": [list(t) for t in window.tags]}


def export_config(specs: list[ServiceSpec]) -> dict:
    """Turn services back into the document :func:`parse_config` reads."""
    return {"services": [
        {"name": s.name, "enabled": s.enabled, "duplicate_window_seconds": s.duplicate_window_seconds,
         **({"split_on": s.split_on} if s.split_on else {}),
         **({"shadow": True} if s.shadow else {}),
         **({"heartbeats": [h.as_dict() for h in s.heartbeats]} if s.heartbeats else {}),
         "trigger": [r.as_dict() for r in s.trigger],
         "resolve": [r.as_dict() for r in s.resolve],
         "maintenance": [window_dict(w) for w in s.maintenance]}
        for s in specs]}
