"""Rules: their shape, the limits checked when saving (S18), and matching (S15-S19).

Every way of saving a rule (config import, the CLI, the dashboard) builds it with
:func:`build_trigger` / :func:`build_resolve`, so a rule that saves is a rule that runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .matcher import ItemMatcher
from .payload import Payload, clean
from .words import Plural, Say

MODES = ("all", "any", "none")
URGENCIES = ("high", "low")
MAX_KEY_CHARS = 1000


class SpecError(ValueError):
    """A rule or configuration that cannot be saved; ``path`` names the fault."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one service may hold (S18). The original product allows 10, 2, 10 and 50."""

    rules: int = 50
    conditions: int = 5
    items: int = 20
    item_chars: int = 200


@dataclass(frozen=True)
class Condition:
    json_key: str
    contains: tuple[str, ...]
    mode: str = "all"
    folded: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "folded", tuple(item.casefold() for item in self.contains))

    def as_dict(self) -> dict:
        return {"json_key": self.json_key, "contains": list(self.contains), "mode": self.mode}


@dataclass(frozen=True)
class TriggerRule:
    conditions: tuple[Condition, ...] = ()
    urgency: str = "high"
    title_from: str | None = None
    description_from: str | None = None
    map_incident_with: str | None = None
    rule_id: int | None = field(default=None, compare=False)
    # issue 20: a fixed priority, or one read from a key through a map (values folded)
    priority: str | None = None
    priority_from: str | None = None
    priority_map: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict:
        doc = {"urgency": self.urgency,
               "conditions": [c.as_dict() for c in self.conditions],
               "title_from": self.title_from,
               "description_from": self.description_from,
               "map_incident_with": self.map_incident_with}
        if self.priority is not None:
            doc["priority"] = self.priority
        if self.priority_from is not None:
            doc.update(priority_from=self.priority_from, priority_map=dict(self.priority_map))
        return doc


@dataclass(frozen=True)
class ResolveRule:
    conditions: tuple[Condition, ...]
    incident_mapped_with: str
    rule_id: int | None = field(default=None, compare=False)

    def as_dict(self) -> dict:
        return {"conditions": [c.as_dict() for c in self.conditions],
                "incident_mapped_with": self.incident_mapped_with}


@dataclass(frozen=True)
class Failure:
    """Why a rule did not hold: the first condition that failed, in words."""

    condition: int
    json_key: str
    reason: str
    need: str = ""  # what the rule needs, in words: 'status to contain "firing"'
    value: str | None = None  # the key's value in this payload (None: absent)


# -- building and validating -------------------------------------------------

def check_fields(doc, path: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    """Require a JSON object with only known fields and all required ones."""
    if not isinstance(doc, dict):
        raise SpecError(path, Say("must be an object"))
    for name in doc:
        if name not in allowed:
            raise SpecError(_join(path, name), Say("unknown field"))
    for name in sorted(required):
        if name not in doc:
            raise SpecError(_join(path, name), Say("is required"))
    return doc


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _key(value, path: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise SpecError(path, Say("must be a string or null") if nullable else Say("must be a string"))
    value = clean(value.strip())  # lone surrogates and NUL become U+FFFD, like payload values (S9)
    if len(value) > MAX_KEY_CHARS:
        raise SpecError(path, Plural("longer than %(num)s character", "longer than %(num)s characters", MAX_KEY_CHARS, num=MAX_KEY_CHARS))
    return value


def build_condition(doc, path: str, limits: Limits = Limits()) -> Condition:
    """Build one condition from ``{"json_key", "contains", "mode"}``."""
    check_fields(doc, path, {"json_key", "contains", "mode"}, {"json_key", "contains"})
    json_key = _key(doc["json_key"], f"{path}.json_key", nullable=False)
    mode = doc.get("mode", "all")
    if mode not in MODES:
        raise SpecError(f"{path}.mode", Say("must be one of %(choices)s", choices=", ".join(MODES)))
    contains = doc["contains"]
    if isinstance(contains, str):
        contains = [contains]
    if not isinstance(contains, list):
        raise SpecError(f"{path}.contains", Say("must be a list of strings"))
    if not contains:
        raise SpecError(f"{path}.contains", Say("needs at least one item"))
    if len(contains) > limits.items:
        raise SpecError(f"{path}.contains", Plural("more than %(num)s item", "more than %(num)s items", limits.items, num=limits.items))
    items = []
    for i, item in enumerate(contains):
        item_path = f"{path}.contains[{i}]"
        if not isinstance(item, str):
            raise SpecError(item_path, Say("must be a string"))
        item = clean(item.strip())
        if not item:
            raise SpecError(item_path, Say("is empty"))
        if len(item) > limits.item_chars:
            raise SpecError(item_path, Plural("longer than %(num)s character", "longer than %(num)s characters", limits.item_chars, num=limits.item_chars))
        items.append(item)
    return Condition(json_key=json_key, contains=tuple(items), mode=mode)


def _conditions(doc, path: str, limits: Limits) -> tuple[Condition, ...]:
    conditions = doc.get("conditions", [])
    if not isinstance(conditions, list):
        raise SpecError(path, Say("must be a list"))
    if len(conditions) > limits.conditions:
        raise SpecError(path, Plural("more than %(num)s condition", "more than %(num)s conditions", limits.conditions, num=limits.conditions))
    return tuple(build_condition(c, f"{path}[{i}]", limits) for i, c in enumerate(conditions))


def build_trigger(doc, path: str, limits: Limits = Limits(), rule_id: int | None = None) -> TriggerRule:
    """Build a trigger rule (S20); no conditions makes it a catch-all (S17)."""
    from .priorities import build_rule_priority  # it builds on this module's checks

    check_fields(doc, path, {"urgency", "conditions", "title_from", "description_from",
                             "map_incident_with", "priority", "priority_from", "priority_map"})
    urgency = doc.get("urgency", "high")
    if urgency not in URGENCIES:
        raise SpecError(f"{path}.urgency", Say("must be high or low"))
    priority, priority_from, priority_map = build_rule_priority(doc, path)
    return TriggerRule(
        priority=priority, priority_from=priority_from, priority_map=priority_map,
        conditions=_conditions(doc, f"{path}.conditions", limits),
        urgency=urgency,
        title_from=_key(doc.get("title_from"), f"{path}.title_from", nullable=True),
        description_from=_key(doc.get("description_from"), f"{path}.description_from", nullable=True),
        map_incident_with=_key(doc.get("map_incident_with"), f"{path}.map_incident_with", nullable=True),
        rule_id=rule_id,
    )


def build_resolve(doc, path: str, limits: Limits = Limits(), rule_id: int | None = None) -> ResolveRule:
    """Build a resolve rule (S24); it needs at least one condition (S17)."""
    check_fields(doc, path, {"conditions", "incident_mapped_with"}, {"conditions", "incident_mapped_with"})
    conditions = _conditions(doc, f"{path}.conditions", limits)
    if not conditions:
        raise SpecError(f"{path}.conditions", Say("a resolve rule needs at least one condition"))
    return ResolveRule(
        conditions=conditions,
        incident_mapped_with=_key(doc["incident_mapped_with"], f"{path}.incident_mapped_with",
                                  nullable=False),
        rule_id=rule_id,
    )


def check_rule_count(trigger_count: int, resolve_count: int, path: str, limits: Limits = Limits()):
    """Refuse more rules than a service may hold (trigger and resolve rules together)."""
    if trigger_count + resolve_count > limits.rules:
        raise SpecError(path, Plural("more than %(num)s rule (trigger and resolve together)", "more than %(num)s rules (trigger and resolve together)", limits.rules, num=limits.rules))


# -- matching ------------------------------------------------------------------

ABSENT = Say("key absent")


def _quoted(items) -> str:
    return ", ".join(f'"{item}"' for item in items)


def _failed(condition: Condition, payload: Payload, matchers=None) -> tuple[Say, Say] | None:
    """None when the condition holds (S15, S16), else why not and what it needs, in words
    (:class:`Say`: the API log stores their message ids and values, issue 21):
    (``value does not contain "firing"``, ``status to contain "firing"``).

    ``matchers`` (a service's :class:`ItemMatcher` per json key) finds every item of the key
    in one pass; without it each item is searched on its own.
    """
    key = condition.json_key or Say("the payload")
    value = payload.folded(condition.json_key)
    if value is None:
        if condition.mode == "any":
            return ABSENT, Say("%(key)s to contain one of %(items)s", key=key, items=_quoted(condition.contains))
        if condition.mode == "none":
            return ABSENT, Say("%(key)s not to contain %(items)s", key=key, items=_quoted(condition.contains[:1]))
        return ABSENT, Say("%(key)s to contain %(items)s", key=key, items=_quoted(condition.contains[:1]))
    if matchers is not None:
        found = payload.present(condition.json_key, matchers[condition.json_key])
    else:
        found = {item for item in condition.folded if item in value}
    if condition.mode == "all":
        for item, shown in zip(condition.folded, condition.contains):
            if item not in found:
                return (Say('value does not contain "%(item)s"', item=shown),
                        Say("%(key)s to contain %(items)s", key=key, items=_quoted((shown,))))
        return None
    if condition.mode == "any":
        if any(item in found for item in condition.folded):
            return None
        return (Say("value contains none of %(items)s", items=_quoted(condition.contains)),
                Say("%(key)s to contain one of %(items)s", key=key, items=_quoted(condition.contains)))
    for item, shown in zip(condition.folded, condition.contains):
        if item in found:
            return (Say('value contains "%(item)s"', item=shown),
                    Say("%(key)s not to contain %(items)s", key=key, items=_quoted((shown,))))
    return None


def check_condition(condition: Condition, payload: Payload, matchers=None) -> str | None:
    """Return None when the condition holds (S15, S16), else the reason it does not."""
    failed = _failed(condition, payload, matchers)
    return None if failed is None else failed[0]


def item_matchers(rules) -> dict:
    """One :class:`ItemMatcher` per json key over every item of these rules' conditions."""
    by_key: dict[str, dict[str, None]] = {}
    for rule in rules:
        for condition in rule.conditions:
            by_key.setdefault(condition.json_key, {}).update(dict.fromkeys(condition.folded))
    return {key: ItemMatcher(tuple(items)) for key, items in by_key.items()}


def check_rule(conditions: tuple[Condition, ...], payload: Payload, matchers=None) -> Failure | None:
    """Return None when every condition holds (S17), else the first that failed."""
    for index, condition in enumerate(conditions):
        failed = _failed(condition, payload, matchers)
        if failed is not None:
            return Failure(index, condition.json_key, failed[0], failed[1], payload.value(condition.json_key))
    return None
