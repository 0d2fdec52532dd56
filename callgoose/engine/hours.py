"""Hours on call (issue 20): per person of a schedule, from its computed shifts, with overrides
taken and given, holiday hours, and what they are paid. Pure: the schedule, the range and the
holidays are passed in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from .schedules import Schedule, instant, timeline


@dataclass
class PersonHours:
    user: object
    hours: float = 0.0
    taken: float = 0.0  # hours on call by an override (in someone's place, or their own extra)
    given: float = 0.0  # hours the layers gave them that someone else's override took
    holiday: float = 0.0  # of ``hours``, on a public holiday (the schedule's zone)


@dataclass(frozen=True)
class ScheduleHours:
    name: str
    zone: str
    hours: float  # the range's
    nobody: float  # nobody on call
    people: list[PersonHours]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _holiday_seconds(start: float, end: float, schedule: Schedule, holidays: frozenset[date]) -> float:
    """The seconds of ``[start, end)`` on the holidays' local days, in the schedule's zone."""
    if not holidays:
        return 0.0
    tz = schedule.tz
    day, total = datetime.fromtimestamp(start, tz).date(), 0.0
    while True:
        midnight = instant(datetime.combine(day, datetime.min.time()), tz)
        if midnight >= end:
            return total
        if day in holidays:
            following = instant(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
            total += _overlap(start, end, midnight, following)
        day += timedelta(days=1)


def hours_on_call(schedule: Schedule, start: float, end: float,
                  holidays: frozenset[date] = frozenset()) -> ScheduleHours:
    """Who was on call how long in ``[start, end)``: the final rota's hours per person, the
    override hours each took, the layer hours each gave away to an override, and the hours
    nobody was on call; the people's hours and nobody's add up to the range's hours."""
    final = timeline(schedule, start, end)
    people: dict = {}

    def of(user) -> PersonHours:
        return people.setdefault(user, PersonHours(user))

    for shift in final:
        person = of(shift.user)
        person.hours += (shift.end - shift.start) / 3600
        person.holiday += _holiday_seconds(shift.start, shift.end, schedule, holidays) / 3600
        if shift.source == "override":
            person.taken += (shift.end - shift.start) / 3600
    if schedule.overrides:
        layers_only = timeline(replace(schedule, overrides=()), start, end)
        taken = [s for s in final if s.source == "override"]
        for shift in layers_only:
            for o in taken:
                if o.user != shift.user:
                    gone = _overlap(shift.start, shift.end, o.start, o.end)
                    if gone:
                        of(shift.user).given += gone / 3600
    total = (end - start) / 3600
    covered = sum(p.hours for p in people.values())
    ordered = sorted(people.values(), key=lambda p: (-p.hours, str(p.user)))
    for p in ordered:
        p.hours, p.taken, p.given, p.holiday = (round(v, 4) for v in (p.hours, p.taken, p.given, p.holiday))
    return ScheduleHours(schedule.name, schedule.time_zone, round(total, 4), round(total - covered, 4), ordered)


def pay(hours: float, holiday: float, rate: float | None, holiday_rate: float | None) -> float | None:
    """What the hours cost: ordinary hours at ``rate``, holiday hours at ``holiday_rate`` (the
    rate when none); None without a rate."""
    if rate is None:
        return None
    return round((hours - holiday) * rate + holiday * (holiday_rate if holiday_rate is not None else rate), 2)
