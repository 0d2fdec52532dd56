"""Paging, decided without I/O: who a level pages and when, the next escalation step, the
outbox's delivery states, retries, rate limits and bundling.

``services/paging.py`` reads the rows and writes what these functions decide, inside the
transaction of the incident change; ``jobs/deliver.py`` sends. Times are epoch seconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from .words import Joined, Plural, Say, Word

URGENCIES = ("high", "low")
WEBHOOK_FORMATS = ("json", "slack", "teams")
EVENTS = ("incident.triggered", "incident.acknowledged", "incident.resolved", "incident.escalated")
MAX_LEVELS = 20
MAX_TARGETS = 50  # per level
MAX_REPEAT = 10
MAX_DELAY_MINUTES = 24 * 60

# Retries (issue 8, "Timing"): the first within 30 s, then doubling up to 10 minutes, given
# up 24 hours after the notification was queued.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 600
GIVE_UP_SECONDS = 24 * 3600
SEND_DEADLINE_SECONDS = 60  # a delivery still "sending" after this is "outcome unknown"

# Rate limits per contact method (what GoAlert does, and what an alert storm needs): one
# message a minute per method (what queues meanwhile goes out as one bundle), and at most
# three voice calls per user per quarter hour.
MESSAGE_GAP_SECONDS = 60
VOICE_CALLS_PER_WINDOW = 3
VOICE_WINDOW_SECONDS = 15 * 60
RATE_LIMITED = "held by the rate limit"  # a pending row's error while a limit holds it (cleared when sent)


# Checking a contact method (issue 11): a verification code lasts 15 minutes and takes at
# most five wrong attempts; codes and tests together are limited per contact method and per
# person, calls more strictly (each one rings a phone, and costs money).
CODE_SECONDS = 15 * 60
CODE_ATTEMPTS = 5


@dataclass(frozen=True)
class Limit:
    """At most ``count`` at once, then one every ``seconds / count`` (a leaky bucket as GCRA:
    one stored time per key, in milliseconds, advanced by :attr:`step` at each admission).

    The database applies it in one conditional write (``services/checks.py``): store
    :meth:`admit`'s time when the stored one is at most ``threshold``, else change nothing.
    """

    count: int
    seconds: int
    rule: Say  # the limit in words, for the refusal

    @property
    def step(self) -> int:
        return self.seconds * 1000 // self.count

    @property
    def burst(self) -> int:
        return self.seconds * 1000 - self.step

    def write(self, now: float) -> dict:
        """The conditional write's values at ``now``: admit while the stored time is at most
        ``threshold``; then store max(stored, now) + step (``first`` when nothing is stored)."""
        at = round(now * 1000)
        return {"now": at, "first": at + self.step, "step": self.step, "threshold": at + self.burst}

    def admit(self, stored: int | None, now: float) -> tuple[bool, int | None]:
        """Whether one more may go at ``now``, and the time to store (what :meth:`write` does)."""
        values = self.write(now)
        if stored is not None and stored > values["threshold"]:
            return False, stored
        return True, max(stored if stored is not None else values["now"], values["now"]) + self.step

    def wait(self, stored: int, now: float) -> float:
        """Seconds until the next one may go (0: now)."""
        return max(0, stored - self.burst - round(now * 1000)) / 1000

    def refusal(self, stored: int, now: float) -> Say:
        return Say("Not sent: %(rule)s. You can send the next one in %(wait)s.", rule=self.rule,
                   wait=wait_words(self.wait(stored, now)))


METHOD_LIMIT = Limit(1, 60, Say("each contact method gets at most one code or test a minute"))
VOICE_METHOD_LIMIT = Limit(1, 120, Plural("a phone number gets at most one code or test call every %(minutes)s minute",
                                          "a phone number gets at most one code or test call every %(minutes)s minutes",
                                          2, minutes=2))
PERSON_LIMIT = Limit(10, 3600, Plural("a person gets at most %(num)s code or test at once, then one every 6 minutes",
                                      "a person gets at most %(num)s codes and tests at once, then one every 6 minutes",
                                      10, num=10))
# "Forgot password" (issue 19): per address asked for, known or not, so the work is the same.
RESET_LIMIT = Limit(3, 3600, Plural("an address gets at most %(num)s reset link an hour",
                                    "an address gets at most %(num)s reset links an hour", 3, num=3))
PERSON_CALL_LIMIT = Limit(3, 3600, Plural("a person gets at most %(num)s code or test call at once, then one every "
                                          "20 minutes", "a person gets at most %(num)s code or test calls at once, "
                                          "then one every 20 minutes", 3, num=3))


def check_limits(calls: bool) -> list[tuple[str, Limit]]:
    """The limits a code or test to a method must pass, by scope: ``method`` (keyed by the
    contact method), ``person`` and, for a method that rings a phone (``calls``),
    ``person-calls`` (keyed by its owner)."""
    found = [("method", VOICE_METHOD_LIMIT if calls else METHOD_LIMIT), ("person", PERSON_LIMIT)]
    if calls:
        found.append(("person-calls", PERSON_CALL_LIMIT))
    return found


def wait_words(seconds: float) -> Say:
    """A wait as people read it: "a second", "43 seconds", "6 minutes" (rounded up)."""
    whole = math.ceil(seconds)
    if whole <= 1:
        return Say("a second")
    if whole < 120:
        return Plural("%(num)s second", "%(num)s seconds", whole, num=whole)
    return Plural("%(num)s minute", "%(num)s minutes", math.ceil(whole / 60), num=math.ceil(whole / 60))


class State(str, Enum):
    """A notification's delivery state: pending -> sending -> sent | failed, or unknown when
    the sender died while sending, or cancelled when an acknowledge made it pointless; or
    shadow (pending -> shadow) when it came due for an incident of a shadow run: held, never
    sent, at the moment it would have gone out."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    SHADOW = "shadow"

    def __str__(self) -> str:
        return self.value


FINAL_STATES = (State.SENT.value, State.FAILED.value, State.UNKNOWN.value, State.CANCELLED.value,
                State.SHADOW.value)


class Kind(str, Enum):
    """What a notification is about."""

    PAGE = "page"  # an incident needs someone (a level of its policy)
    ACKNOWLEDGED = "acknowledged"  # "acknowledged by ..." to the people paged
    RESOLVED = "resolved"  # "resolved" to the people paged
    TEST = "test"  # "send a test notification"
    VERIFY = "verify"  # a verification code
    NOTICE = "notice"  # a shift starts; nobody will be on call tomorrow (schedules)
    EVENT = "event"  # a service's outgoing webhook
    ACCESS = "access"  # a sign-in link: an invitation or a password reset (issue 19)

    def __str__(self) -> str:
        return self.value


BUNDLED_KINDS = (Kind.PAGE.value, Kind.ACKNOWLEDGED.value, Kind.RESOLVED.value)


class EscalationState(str, Enum):
    RUNNING = "running"  # the next level is due at next_at
    STOPPED = "stopped"  # acknowledged or resolved
    FINISHED = "finished"  # every level and repeat paged; nobody acknowledged

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Level:
    escalate_after_minutes: int
    users: tuple[int, ...]  # target user ids
    schedules: tuple[int, ...] = ()  # target schedule ids: whoever is on call when the level is notified


@dataclass(frozen=True)
class Policy:
    """An escalation policy as pinned on an incident when it opened."""

    name: str
    repeat: int
    levels: tuple[Level, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "repeat": self.repeat,
                "levels": [{"escalate_after_minutes": lv.escalate_after_minutes,
                            "targets": [{"user": u} for u in lv.users] + [{"schedule": s} for s in lv.schedules]}
                           for lv in self.levels]}

    @classmethod
    def from_json(cls, doc) -> "Policy":
        if isinstance(doc, str):
            doc = json.loads(doc)
        return cls(doc["name"], int(doc.get("repeat", 0)), tuple(
            Level(int(lv["escalate_after_minutes"]), tuple(int(t["user"]) for t in lv["targets"] if "user" in t),
                  tuple(int(t["schedule"]) for t in lv["targets"] if "schedule" in t))
            for lv in doc["levels"]))


@dataclass(frozen=True)
class ServicePaging:
    """What a service's new incident pages, worked out once per cached spec: its policy (and
    the JSON pinned on each incident), how many webhooks hear of it, and whether it is a
    shadow run (the service's, or the whole install's: its incidents page nobody, for life)."""

    policy: Policy | None = None
    webhooks: int = 0
    shadow: bool = False

    @cached_property
    def pinned(self) -> str | None:
        return json.dumps(self.policy.to_json()) if self.policy is not None else None

    @property
    def pages(self) -> bool:
        return self.policy is not None and bool(self.policy.levels)


NO_PAGING = ServicePaging()


@dataclass(frozen=True)
class PersonalRule:
    """One of a user's notification rules, with the contact method it names."""

    user_id: int
    method_id: int
    after_minutes: int
    urgencies: tuple[str, ...]
    channel: str
    verified: bool


@dataclass(frozen=True)
class Planned:
    """A notification to queue: this user, by this method, ``delay`` seconds from now."""

    user_id: int
    method_id: int
    channel: str
    delay: int


@dataclass
class LevelPlan:
    notifications: list[Planned] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)  # targets with no verified method for this urgency


def plan_level(users: tuple[int, ...], urgency: str, rules: list[PersonalRule]) -> LevelPlan:
    """Who a level pages and when: each target's verified rules for the urgency. A target
    for whom none applies is unreachable (the incident shows it)."""
    plan = LevelPlan()
    for user_id in dict.fromkeys(users):
        mine = [r for r in rules if r.user_id == user_id and urgency in r.urgencies and r.verified]
        if not mine:
            plan.unreachable.append(user_id)
            continue
        seen = set()
        for rule in sorted(mine, key=lambda r: (r.after_minutes, r.method_id)):
            if (rule.method_id, rule.after_minutes) in seen:
                continue
            seen.add((rule.method_id, rule.after_minutes))
            plan.notifications.append(Planned(user_id, rule.method_id, rule.channel, rule.after_minutes * 60))
    return plan


def added_by_urgency(users: tuple[int, ...], rules: list[PersonalRule], old: str, new: str) -> list[Planned]:
    """What a level's targets get at urgency ``new`` beyond what ``old`` gave them (an incident
    whose urgency rose: a rule for both urgencies has paged already, one for ``new`` only has not)."""
    before = {(p.user_id, p.method_id, p.delay) for p in plan_level(users, old, rules).notifications}
    return [p for p in plan_level(users, new, rules).notifications if (p.user_id, p.method_id, p.delay) not in before]


@dataclass(frozen=True)
class Step:
    """Where an escalation goes next: notify ``level`` in ``round`` (0 is the first pass)."""

    level: int
    round: int


def next_step(policy: Policy, level: int, round_: int) -> Step | None:
    """The level after ``level``: the next one, the first again while repeats are left
    (``repeat`` more passes after the first), or None when the policy is finished."""
    if level + 1 < len(policy.levels):
        return Step(level + 1, round_)
    if round_ < policy.repeat:
        return Step(0, round_ + 1)
    return None


def level_delay(policy: Policy, level: int) -> int:
    """Seconds from a level's notifications until the next level is due."""
    return policy.levels[level].escalate_after_minutes * 60


def retry_at(attempts: int, queued_at: float, now: float) -> float | None:
    """When to try a temporarily failed delivery again, after ``attempts`` tries; None once
    it is 24 hours old (give up)."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    when = now + delay
    if when - queued_at > GIVE_UP_SECONDS:
        return None
    return when


def allowed_at(calls: bool, last_sent_at: float | None, recent_calls: list[float], now: float) -> float:
    """The earliest time a contact method may send its next message (``now`` if it may now).

    ``calls``: the method rings a phone (channels.base.Channel.calls); ``recent_calls``: when this user's last voice calls went out (any method), for the
    quarter-hour cap."""
    at = now
    if last_sent_at is not None:
        at = max(at, last_sent_at + MESSAGE_GAP_SECONDS)
    if calls:
        window = sorted(t for t in recent_calls if t > now - VOICE_WINDOW_SECONDS)
        if len(window) >= VOICE_CALLS_PER_WINDOW:
            at = max(at, window[-VOICE_CALLS_PER_WINDOW] + VOICE_WINDOW_SECONDS)
    return at


def describe_policy(policy: Policy, names: dict[int, str], methods: dict[int, str] | None = None,
                    schedules: dict[int, str] | None = None) -> str:
    """The policy in plain words: "at 0 min: Ana; after 5 min: Bo; repeats twice"."""
    parts = []
    at = 0
    for i, level in enumerate(policy.levels):
        people = [Say("%(name)s by %(method)s", name=person_name(names, u), method=Word(methods[u]))
                  if methods and u in methods else person_name(names, u) for u in level.users]
        people += [Say("whoever is on call in %(schedule)s",
                       schedule=(schedules or {}).get(s) or Say("schedule %(id)s", id=s)) for s in level.schedules]
        who = Joined(people, ", ") if people else Say("nobody")
        parts.append(Say("at %(minutes)s min: %(who)s", minutes=at, who=who) if i == 0
                     else Say("after %(minutes)s min: %(who)s", minutes=at, who=who))
        at += level.escalate_after_minutes
    if not parts:
        return Say("no levels: nobody is paged")
    if policy.repeat == 1:
        parts.append(Say("repeats once"))
    elif policy.repeat == 2:
        parts.append(Say("repeats twice"))
    elif policy.repeat:
        parts.append(Plural("repeats %(num)s time", "repeats %(num)s times", policy.repeat, num=policy.repeat))
    return Joined(parts, "; ")


def person_name(names: dict[int, str], user_id: int) -> str:
    """A user as people read them (their name or email; a deleted one by number)."""
    return names[user_id] if user_id in names else Say("user %(id)s", id=user_id)
