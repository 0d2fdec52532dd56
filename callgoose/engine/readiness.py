"""The readiness check (issue 9, item 9): what would page nobody in the next 14 days, found
before an incident finds it. Pure: the caller passes the schedules, policies, who can be
reached and the services."""

from __future__ import annotations

from dataclasses import dataclass

from .paging import Policy
from .schedules import Schedule, uncovered
from .simulate import simulate
from .words import Say

DAYS = 14
MAX_GAPS = 5  # per schedule, listed


@dataclass(frozen=True)
class Finding:
    kind: str  # gap | level | unreachable | no_policy | target
    subject: str  # the schedule, policy or service it is about
    text: str
    start: float | None = None  # gaps: when nobody is on call
    end: float | None = None
    users: tuple = ()  # gaps: who to tell (the schedule's people)


def gaps(schedule: Schedule, start: float, end: float) -> list[tuple[float, float]]:
    """The spans of ``[start, end)`` in which nobody is on call (walking only where coverage
    may change, not every handoff)."""
    return uncovered(schedule, start, end)


def people(schedule: Schedule) -> tuple:
    return tuple(dict.fromkeys([u for layer in schedule.layers for u in layer.users]
                               + [o.user for o in schedule.overrides]))


def check(now: float, schedules: dict[int, Schedule], policies: list[Policy], reachable: set,
          services: list[tuple[str, bool]], name_of=str, days: int = DAYS) -> list[Finding]:
    end = now + days * 86400
    findings: list[Finding] = []
    empty_schedules = set()
    for schedule_id, schedule in sorted(schedules.items(), key=lambda kv: kv[1].name):
        holes = gaps(schedule, now, end)
        if holes and holes[0] == (now, end):
            empty_schedules.add(schedule_id)
        for a, b in holes[:MAX_GAPS]:
            findings.append(Finding("gap", schedule.name,
                                    Say("nobody is on call in %(schedule)s", schedule=schedule.name), a, b,
                                    people(schedule)))
        for user in people(schedule):
            if user not in reachable:
                findings.append(Finding("unreachable", schedule.name,
                                        Say("%(name)s (in %(schedule)s) has no verified contact method",
                                            name=name_of(user), schedule=schedule.name)))
    for policy in policies:
        for i, level in enumerate(policy.levels):
            direct = [u for u in level.users if u in reachable]
            live_schedules = [s for s in level.schedules if s in schedules and s not in empty_schedules]
            if not direct and not live_schedules:
                findings.append(Finding("level", policy.name, Say("level %(num)s of %(policy)s reaches nobody",
                                                                     num=i + 1, policy=policy.name)))
            for u in level.users:
                if u not in reachable:
                    findings.append(Finding("unreachable", policy.name,
                                            Say("%(name)s (level %(num)s of %(policy)s) has no verified contact method",
                                                name=name_of(u), num=i + 1, policy=policy.name)))
    for name, has_policy in services:
        if not has_policy:
            findings.append(Finding("no_policy", name, Say("nobody is paged for %(name)s: it has no escalation policy",
                                                                         name=name)))
    return findings


def slow_for_targets(now: float, policies: list[Policy], priorities, rules: list, on_call) -> list[Finding]:
    """Issue 20: a priority whose acknowledge target a policy cannot meet, from the simulator:
    an incident of the priority's urgency opening now pages its first reachable person later
    than the target (or never). ``policies``: those live services use; ``on_call(schedule id,
    instant)``: who is on call."""
    first: dict[tuple[str, str], float | None] = {}
    findings = []
    for priority in priorities:
        if priority.acknowledge_minutes is None:
            continue
        for policy in policies:
            key = (policy.name, priority.urgency)
            if key not in first:
                paged = [s.at for s in simulate(policy, priority.urgency, now, rules, on_call)
                         if s.user is not None and s.channel is not None]
                first[key] = min(paged) if paged else None
            at = first[key]
            if at is None:
                findings.append(Finding("target", policy.name, Say(
                    "%(priority)s: %(policy)s pages nobody reachable, so its acknowledge target of %(target)s min "
                    "cannot be met", priority=priority.priority, policy=policy.name,
                    target=priority.acknowledge_minutes)))
            elif at - now > priority.acknowledge_minutes * 60:
                findings.append(Finding("target", policy.name, Say(
                    "%(priority)s: %(policy)s pages its first reachable person after %(minutes)s min, later than "
                    "its acknowledge target of %(target)s min", priority=priority.priority, policy=policy.name,
                    minutes=int((at - now) // 60), target=priority.acknowledge_minutes)))
    return findings
