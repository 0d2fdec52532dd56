"""Priorities P1-P5 (issue 20): each with a label, a colour, a description, an urgency and
response targets; and the priority a trigger rule gives an incident.

Pure. A rule's priority is fixed (``priority``), or read from a key of the payload
(``priority_from``) through ``priority_map``; otherwise it follows the rule's urgency:
high → P2 and low → P4. P1 stays for what a sender itself calls critical (Alertmanager's
``severity: critical``, PagerDuty's ``critical``), P3 and P5 for its warnings and notices, so
a rule that says nothing lands in the middle of its urgency's band and an explicit mapping can
still place an alert above or below it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .payload import clean
from .rules import MAX_KEY_CHARS, URGENCIES, SpecError, check_fields
from .words import Plural, Say

CODES = ("P1", "P2", "P3", "P4", "P5")
FROM_URGENCY = {"high": "P2", "low": "P4"}
ON_MISS = ("nothing", "next_level", "repage")  # what a missed target does (item 2)
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_TARGET_MINUTES = 10080  # a week
MAX_LABEL = 40
MAX_DESCRIPTION = 500
MAX_MAP = 50  # values in one rule's priority_map
FIELDS = {"priority", "label", "colour", "description", "urgency", "acknowledge_minutes", "resolve_minutes",
          "on_missed_target"}


@dataclass(frozen=True)
class Priority:
    priority: str
    label: str
    colour: str
    description: str = ""
    urgency: str = "low"
    acknowledge_minutes: int | None = None
    resolve_minutes: int | None = None
    on_missed_target: str = "nothing"

    def as_dict(self) -> dict:
        return asdict(self)


# The defaults' labels and descriptions are message ids, worded in the reader's language until
# an admin writes their own.
DEFAULTS = {p.priority: p for p in (
    Priority("P1", Say("Critical"), "#b3261e", Say("Down for everyone, or data at risk"), "high", 15, 240),
    Priority("P2", Say("High"), "#e8710a", Say("Broken for many, no workaround"), "high", 30, 480),
    Priority("P3", Say("Moderate"), "#c9a200", Say("Degraded, a workaround exists"), "low"),
    Priority("P4", Say("Low"), "#1a73e8", Say("Minor, can wait for working hours"), "low"),
    Priority("P5", Say("Informational"), "#5f6368", Say("Worth knowing, nothing to do"), "low"),
)}
DEFAULT_URGENCIES = {code: p.urgency for code, p in DEFAULTS.items()}


def check_code(value, path: str) -> str:
    if value not in CODES:
        raise SpecError(path, Say("must be one of %(choices)s", choices=", ".join(CODES)))
    return value


def _text(value, path: str, limit: int, *, empty: bool) -> str:
    if not isinstance(value, str):
        raise SpecError(path, Say("must be a string"))
    value = clean(" ".join(value.split()))
    if not value and not empty:
        raise SpecError(path, Say("is empty"))
    if len(value) > limit:
        raise SpecError(path, Plural("longer than %(num)s character", "longer than %(num)s characters", limit, num=limit))
    return value


def _target(value, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TARGET_MINUTES:
        raise SpecError(path, Say("must be a whole number of minutes from %(low)s to %(max_minutes)s, or null",
                                  low=1, max_minutes=MAX_TARGET_MINUTES))
    return value


def build_priority(doc, path: str) -> Priority:
    """One priority of the document; a field left out takes its default."""
    check_fields(doc, path, FIELDS, {"priority"})
    code = check_code(doc["priority"], f"{path}.priority")
    base = DEFAULTS[code]
    colour = doc.get("colour", base.colour)
    if not isinstance(colour, str) or not COLOUR.fullmatch(colour):
        raise SpecError(f"{path}.colour", Say("must be a colour like #b3261e"))
    urgency = doc.get("urgency", base.urgency)
    if urgency not in URGENCIES:
        raise SpecError(f"{path}.urgency", Say("must be high or low"))
    on_miss = doc.get("on_missed_target", base.on_missed_target)
    if on_miss not in ON_MISS:
        raise SpecError(f"{path}.on_missed_target", Say("must be one of %(choices)s", choices=", ".join(ON_MISS)))
    return Priority(
        code, _text(doc.get("label", base.label), f"{path}.label", MAX_LABEL, empty=False), colour.lower(),
        _text(doc.get("description", base.description), f"{path}.description", MAX_DESCRIPTION, empty=True),
        urgency, _target(doc.get("acknowledge_minutes", base.acknowledge_minutes), f"{path}.acknowledge_minutes"),
        _target(doc.get("resolve_minutes", base.resolve_minutes), f"{path}.resolve_minutes"), on_miss)


def build_priorities(docs, path: str = "priorities") -> tuple[Priority, ...]:
    """The document's ``priorities`` list: each of P1-P5 at most once, in any order."""
    if not isinstance(docs, list):
        raise SpecError(path, Say("must be a list"))
    found = {}
    for i, doc in enumerate(docs):
        priority = build_priority(doc, f"{path}[{i}]")
        if priority.priority in found:
            raise SpecError(f"{path}[{i}].priority", Say("%(name)s appears twice", name=repr(priority.priority)))
        found[priority.priority] = priority
    return tuple(found[code] for code in CODES if code in found)


def build_rule_priority(doc, path: str) -> tuple[str | None, str | None, tuple[tuple[str, str], ...]]:
    """A trigger rule's ``priority``, ``priority_from`` and ``priority_map`` (values folded)."""
    fixed = doc.get("priority")
    if fixed is not None:
        check_code(fixed, f"{path}.priority")
    key = doc.get("priority_from")
    pairs = doc.get("priority_map")
    if key is not None:
        if not isinstance(key, str) or not key.strip():
            raise SpecError(f"{path}.priority_from", Say("must be a string or null"))
        key = clean(key.strip())
        if len(key) > MAX_KEY_CHARS:
            raise SpecError(f"{path}.priority_from", Plural("longer than %(num)s character", "longer than %(num)s characters", MAX_KEY_CHARS, num=MAX_KEY_CHARS))
        if fixed is not None:
            raise SpecError(f"{path}.priority_from", Say("give either priority or priority_from, not both"))
        if not isinstance(pairs, dict) or not pairs:
            raise SpecError(f"{path}.priority_map", Say("priority_from needs a priority_map of values to priorities"))
    elif pairs is not None:
        raise SpecError(f"{path}.priority_map", Say("a priority_map needs priority_from"))
    mapped = []
    for value, code in (pairs or {}).items():
        if len(pairs) > MAX_MAP:
            raise SpecError(f"{path}.priority_map", Plural("more than %(num)s item", "more than %(num)s items", MAX_MAP, num=MAX_MAP))
        value = _text(value, f"{path}.priority_map", 200, empty=False).casefold()
        mapped.append((value, check_code(code, f"{path}.priority_map.{value}")))
    return fixed, key, tuple(mapped)


def rule_priority(fixed: str | None, key_value: str | None, mapped: tuple, urgency: str,
                  urgencies: dict) -> tuple[str, str]:
    """The priority and urgency of a new incident: a fixed or mapped priority brings its own
    urgency (``urgencies``: code → urgency, as configured); otherwise the rule's urgency gives
    the priority (:data:`FROM_URGENCY`) and stays."""
    code = fixed
    if code is None and key_value is not None:
        code = dict(mapped).get(" ".join(key_value.split()).casefold())
    if code is None:
        return FROM_URGENCY[urgency], urgency
    return code, urgencies.get(code, DEFAULT_URGENCIES[code])


# -- response targets (item 2) ---------------------------------------------------------------

TARGETS = ("acknowledge", "resolve")


@dataclass(frozen=True)
class Missed:
    """A response target an open incident has just missed, and what its priority does then."""

    incident_id: int
    target: str  # acknowledge | resolve
    minutes: int
    action: str  # ON_MISS; "nothing" once someone acknowledged it (a person owns it)


def due_at(priority: Priority | None, target: str, opened: float) -> float | None:
    """When an incident opened at ``opened`` misses ``target`` (None: its priority sets none)."""
    minutes = getattr(priority, f"{target}_minutes", None) if priority is not None else None
    return None if minutes is None else opened + 60 * minutes


def missed_targets(rows, table: dict, now: float) -> list[Missed]:
    """The targets missed by now, each once: ``rows`` are (id, priority, status, opened epoch,
    acknowledge missed already, resolve missed already) of open incidents."""
    found = []
    for incident_id, code, status, opened, ack_done, resolve_done in rows:
        priority = table.get(code)
        for target, done in (("acknowledge", ack_done), ("resolve", resolve_done)):
            due = due_at(priority, target, opened)
            if done or due is None or now < due or (target == "acknowledge" and status != "triggered"):
                continue
            action = priority.on_missed_target if status == "triggered" else "nothing"
            found.append(Missed(incident_id, target, getattr(priority, f"{target}_minutes"), action))
    return found
