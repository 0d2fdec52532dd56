"""The incident lifecycle: its statuses, the actions on an incident, and which are allowed.

This is the one table of transitions. ``services/lifecycle.py`` applies them (for calls
from tools and for people alike), and builds its SQL from what this module says, so a
status word is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(s.value for s in Status)
ACTIVE = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)  # an open incident (S28)
# The partial unique index's predicate, written once: the hot path's statements repeat it
# literally, because neither SQLite nor a generic PostgreSQL plan uses a partial index
# for a predicate with bound values.
ACTIVE_SQL = "status IN (" + ", ".join(f"'{s}'" for s in ACTIVE) + ")"


class Action(str, Enum):
    OPEN = "open"  # a trigger rule held and no incident of its mapping value was open
    REPEAT = "repeat"  # a trigger rule held again for an open incident (a duplicate, S26)
    ACKNOWLEDGE = "acknowledge"
    UNACKNOWLEDGE = "unacknowledge"
    RESOLVE = "resolve"
    COMMENT = "comment"
    SNOOZE = "snooze"  # an acknowledged incident quiet until a chosen time (issue 20, item 3)
    SNOOZE_ENDED = "snooze_ended"  # the time is up (the snooze job): triggered, paged again from level 1


class TransitionRefused(ValueError):
    """An action that the incident's current status does not allow (the message says why)."""


@dataclass(frozen=True)
class Rule:
    """What an action does: from which statuses, to which, and what the timeline records."""

    action: Action
    allowed: tuple[str, ...]  # statuses it changes
    unchanged: tuple[str, ...]  # statuses where it is a no-op (asking twice changes nothing)
    to: str | None  # the new status; None keeps the status
    event: str | None  # the timeline entry it writes; None writes none (repeats are counted)
    sets: str | None = None  # the time column set to now
    clears: tuple[str, ...] = ()  # the time columns cleared
    until: str | None = None  # the time column set to the time the action names (``:until``)
    due: str | None = None  # a time column that must have passed (``<= :now``): else nothing changes
    refusal: str = ""


RULES: dict[Action, Rule] = {rule.action: rule for rule in (
    Rule(Action.OPEN, allowed=(), unchanged=(), to=Status.TRIGGERED.value, event="created"),
    Rule(Action.REPEAT, allowed=ACTIVE, unchanged=(), to=None, event=None),
    Rule(Action.ACKNOWLEDGE, allowed=(Status.TRIGGERED.value,), unchanged=(Status.ACKNOWLEDGED.value,),
         to=Status.ACKNOWLEDGED.value, event="acknowledged", sets="acknowledged_at",
         refusal="the incident is resolved; it cannot be acknowledged"),
    Rule(Action.UNACKNOWLEDGE, allowed=(Status.ACKNOWLEDGED.value,),
         unchanged=(Status.TRIGGERED.value, Status.RESOLVED.value), to=Status.TRIGGERED.value,
         event="unacknowledged", clears=("acknowledged_at", "snoozed_until")),
    Rule(Action.RESOLVE, allowed=ACTIVE, unchanged=(Status.RESOLVED.value,), to=Status.RESOLVED.value,
         event="resolved", sets="resolved_at"),
    Rule(Action.COMMENT, allowed=STATUSES, unchanged=(), to=None, event="comment"),
    # Only an acknowledged incident: someone owns it and asks for quiet. Snoozing again sets a
    # new time. A triggered one is acknowledged first (it is paging: someone has to take it).
    Rule(Action.SNOOZE, allowed=(Status.ACKNOWLEDGED.value,), unchanged=(), to=None, event="snoozed",
         until="snoozed_until", refusal="only an acknowledged incident can be snoozed"),
    # The wake-up: only while still acknowledged and due, so two workers wake it once (the
    # second's UPDATE finds the time cleared). A resolved incident stays resolved.
    Rule(Action.SNOOZE_ENDED, allowed=(Status.ACKNOWLEDGED.value,),
         unchanged=(Status.TRIGGERED.value, Status.RESOLVED.value), to=Status.TRIGGERED.value,
         event="snooze_ended", clears=("acknowledged_at", "snoozed_until"), due="snoozed_until"),
)}

SNOOZE_MINUTES = (15, 1440)  # the shortest and longest snooze, in minutes
SNOOZE_CHOICES = (15, 30, 60, 120, 240, 480, 1440)  # the dashboard's choices (any whole minutes between work)
SNOOZE_LINK_MINUTES = 60  # a signed link's or push button's snooze ("Snooze 1 h")


def snooze_minutes(value) -> int:
    """A snooze's length in whole minutes, checked.

    :raises ValueError: not a whole number of minutes from 15 to 1440 (24 h); the message says so."""
    if isinstance(value, float) and value.is_integer():  # JSON's 60.0 is the integer 60
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ValueError(f"minutes must be a whole number from {SNOOZE_MINUTES[0]} to {SNOOZE_MINUTES[1]}")
    minutes = int(str(value).strip())
    if not SNOOZE_MINUTES[0] <= minutes <= SNOOZE_MINUTES[1]:
        raise ValueError(f"minutes must be from {SNOOZE_MINUTES[0]} (15 min) to {SNOOZE_MINUTES[1]} (24 h)")
    return minutes


def transition(action: Action, status: str) -> Rule | None:
    """The rule to apply to an incident in ``status``, or None when it changes nothing.

    :raises TransitionRefused: when the status does not allow the action.
    """
    rule = RULES[action]
    if status in rule.allowed:
        return rule
    if status in rule.unchanged:
        return None
    raise TransitionRefused(rule.refusal or f"an incident that is {status} cannot be {action.value}d")


URGENCY_RAISED = "urgency_raised"  # the timeline entry of a repeat that raised the urgency


def raises_urgency(current: str, asked: str) -> bool:
    """A repeat (S26) whose trigger rule asks for a higher urgency raises the open incident's
    (low to high); nothing ever lowers it automatically."""
    return current == "low" and asked == "high"


def is_active(status: str) -> bool:
    return status in ACTIVE
