"""Heartbeats (issue 10, item 8): "expect a call matching this rule every N minutes (grace M)".

Pure. A heartbeat is armed by its first matching call (state ``new`` until then). After a
call it is ``up``; ``every`` seconds later without another it is ``late``; ``grace`` seconds
after that it is ``down``, and the worker opens an incident. The next matching call makes it
``up`` again and resolves that incident. A ``paused`` heartbeat is never checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Payload
from .rules import Condition, check_rule

NEW, UP, LATE, DOWN, PAUSED = "new", "up", "late", "down", "paused"
STATES = (NEW, UP, LATE, DOWN, PAUSED)
MAX_HEARTBEATS = 20  # per service
MAX_MINUTES = 60 * 24 * 31  # a month


@dataclass(frozen=True)
class Heartbeat:
    name: str
    conditions: tuple[Condition, ...]  # all must hold (S15-S17); none: every call counts
    every_seconds: int
    grace_seconds: int
    paused: bool = False

    def as_dict(self) -> dict:
        return {"name": self.name, "conditions": [c.as_dict() for c in self.conditions],
                "every_minutes": self.every_seconds // 60, "grace_minutes": self.grace_seconds // 60,
                "paused": self.paused}


def pings(heartbeats: tuple[Heartbeat, ...], payload: Payload, matchers=None) -> tuple[str, ...]:
    """The names of the heartbeats this payload counts for (paused ones too: resuming keeps it)."""
    return tuple(h.name for h in heartbeats if check_rule(h.conditions, payload, matchers) is None)


def after_ping(heartbeat: Heartbeat, now: float) -> tuple[str, float]:
    """The state and the next time to look, right after a matching call."""
    return UP, now + heartbeat.every_seconds


def check(state: str, last_ping: float | None, every: int, grace: int, now: float) -> tuple[str, float | None]:
    """Where a heartbeat that is due stands at ``now``: its state and when to look next
    (None: not until the next call)."""
    if state in (NEW, PAUSED, DOWN) or last_ping is None:
        return state, None
    if now >= last_ping + every + grace:
        return DOWN, None
    if now >= last_ping + every:
        return LATE, last_ping + every + grace
    return UP, last_ping + every


def mapping_value(name: str) -> str:
    """The mapping value of the incident a heartbeat opens (the next call resolves it)."""
    return f"heartbeat:{name}"
