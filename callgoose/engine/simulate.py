"""The simulator (issue 9, item 8): who would be paged, by what and when, if an incident of
this urgency opened at this moment and nobody acknowledged. No I/O: the caller passes the
pinned policy, each user's rules, and a function that says who is on call in a schedule at
an instant (``engine.schedules.on_call`` over the stored schedules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .paging import PersonalRule, Policy, level_delay, next_step, plan_level
from .words import Say, Word

MAX_STEPS = 500


@dataclass(frozen=True)
class Step:
    at: float  # when it would happen
    level: int  # 0-based
    round: int
    user: object | None  # who (None for a step that pages nobody)
    channel: str | None  # by what
    reason: str  # why, in words


def simulate(policy: Policy, urgency: str, start: float, rules: list[PersonalRule],
             on_call: Callable[[int, float], tuple], names: Callable[[object], str] = str,
             schedule_names: Callable[[int], str] = str) -> list[Step]:
    """The escalation's timeline from ``start`` if nobody acknowledges (rate limits aside)."""
    steps: list[Step] = []
    if not policy.levels:
        return [Step(start, 0, 0, None, None, Say("the policy has no levels: nobody is paged"))]
    level, round_, at = 0, 0, start
    for _ in range(MAX_STEPS):
        lv = policy.levels[level]
        label = (Say("level %(num)s, repeat %(round)s", num=level + 1, round=round_) if round_
                 else Say("level %(num)s", num=level + 1))
        users = list(lv.users)
        why = {u: Say("%(level)s: named in the policy", level=label) for u in lv.users}
        for schedule_id in lv.schedules:
            found = on_call(schedule_id, at)
            if not found:
                steps.append(Step(at, level, round_, None, None,
                                  Say("%(level)s: nobody on call in %(schedule)s", level=label,
                                      schedule=schedule_names(schedule_id))))
            for u in found:
                why.setdefault(u, Say("%(level)s: on call in %(schedule)s", level=label,
                                      schedule=schedule_names(schedule_id)))
                users.append(u)
        users = list(dict.fromkeys(users))
        plan = plan_level(tuple(users), urgency, rules)
        for p in plan.notifications:
            minutes = p.delay // 60
            steps.append(Step(at + p.delay, level, round_, p.user_id, p.channel,
                              Say("%(why)s, their rule: after %(minutes)s min", why=why[p.user_id], minutes=minutes)
                              if minutes else Say("%(why)s, their rule: at once", why=why[p.user_id])))
        for u in plan.unreachable:
            steps.append(Step(at, level, round_, u, None,
                              Say("%(why)s, but %(name)s has no verified contact method for %(urgency)s urgency",
                                  why=why[u], name=names(u), urgency=Word(urgency))))
        step = next_step(policy, level, round_)
        delay = level_delay(policy, level) if users else 0
        if step is None:
            steps.append(Step(at + delay, level, round_, None, None, Say("escalation finished, nobody acknowledged")))
            break
        level, round_, at = step.level, step.round, at + delay
    return sorted(steps, key=lambda s: (s.at, s.level))
