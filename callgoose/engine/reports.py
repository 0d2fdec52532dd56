"""Reports (issue 20): what the alerts cost a team, from plain rows, in a reader's zone.

Pure functions: the service reads rows (incidents, deliveries, shifts) and passes them here
with the range and the zones; nothing here reads a clock or a database. Times are epoch seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Iterable

from .schedules import instant, known_zone, zone

DAY = 86400
DEFAULT_DAYS = 30
MAX_DAYS = 366
MERGE_SECONDS = 60  # deliveries to one person within this of an interruption's first count once
SELF_RESOLVED_SECONDS = 300  # "resolved by itself": by a call, within this of opening
# The groups of the response-times report, each a key of the incident rows; once incidents have
# a priority (issue 20 item 1), adding "priority" here (and to the rows) adds its table.
RESPONSE_KEYS = ("service", "priority", "week")
PARTS = ("business", "evening", "sleep")


class RangeError(ValueError):
    """A range a report refuses; the message says why (shown as is, in English, like the API's)."""


@dataclass(frozen=True)
class Range:
    start: float
    end: float
    zone: str
    first: date  # the range's first local day
    last: date  # its last local day (inclusive)

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600


def _bound(text: str, tz, name: str, inclusive_day: bool) -> tuple[float, date]:
    text = text.strip()
    try:
        if len(text) == 10:  # a local date: its midnight (the day after it for ``to``)
            day = date.fromisoformat(text)
            if 1970 <= day.year <= 9998:
                day = day + timedelta(days=1) if inclusive_day else day
                return instant(datetime.combine(day, datetime.min.time()), tz), day
            parsed = datetime.combine(day, datetime.min.time(), tz)  # refused below
        else:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except (ValueError, OverflowError):
        raise RangeError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time with an offset") from None
    if parsed.tzinfo is None:
        raise RangeError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time with an offset")
    if not 1970 <= parsed.year <= 9998:
        raise RangeError(f"{name} must be between the years 1970 and 9998")
    at = parsed.timestamp()
    return at, datetime.fromtimestamp(at, tz).date()


def parse_range(from_text: str | None, to_text: str | None, zone_name: str | None, now: float,
                default_zone: str = "UTC") -> Range:
    """The range of ``from``/``to`` (dates in the zone, ``to`` inclusive, or ISO times) in
    ``zone`` (default ``default_zone``); default the last 30 days up to today's end.
    :raises RangeError: unknown zone, from not before to, more than 366 days."""
    zone_name = zone_name or default_zone
    if len(zone_name) > 64 or not known_zone(zone_name):
        raise RangeError("zone must be an IANA time zone, e.g. Europe/Berlin")
    tz = zone(zone_name)
    if to_text:
        end, after = _bound(to_text, tz, "to", inclusive_day=True)
    else:
        after = datetime.fromtimestamp(now, tz).date() + timedelta(days=1)
        end = instant(datetime.combine(after, datetime.min.time()), tz)
    if from_text:
        start, first = _bound(from_text, tz, "from", inclusive_day=False)
    else:
        first = after - timedelta(days=DEFAULT_DAYS)
        start = instant(datetime.combine(first, datetime.min.time()), tz)
    if start >= end:
        raise RangeError("from must be before to")
    if end - start > MAX_DAYS * DAY + 7200:  # a year and a day, whatever daylight saving does
        raise RangeError(f"a report covers at most {MAX_DAYS} days")
    last = datetime.fromtimestamp(end - 1, tz).date()
    return Range(start, end, zone_name, first, last)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (``q`` in 0..100) of sorted values: a value that occurred."""
    if not values:
        return None
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def week_of(at: float, zone_name: str) -> str:
    """The ISO week an instant falls in, in the zone: ``2026-W49``."""
    year, week, _ = datetime.fromtimestamp(at, zone(zone_name)).isocalendar()
    return f"{year}-W{week:02d}"


# ---- time to acknowledge and to resolve -----------------------------------------------------

@dataclass
class Times:
    """One group's times, in seconds: counts, median and 90th percentile, share within target."""

    key: str
    incidents: int = 0
    ack: list[float] = field(default_factory=list)
    resolve: list[float] = field(default_factory=list)
    ack_in_target: int = 0
    ack_targeted: int = 0
    resolve_in_target: int = 0
    resolve_targeted: int = 0

    def summary(self) -> dict:
        ack, res = sorted(self.ack), sorted(self.resolve)
        return {"key": self.key, "incidents": self.incidents, "acknowledged": len(ack), "resolved": len(res),
                "ack_median": percentile(ack, 50), "ack_p90": percentile(ack, 90),
                "resolve_median": percentile(res, 50), "resolve_p90": percentile(res, 90),
                "ack_within_target": _share(self.ack_in_target, self.ack_targeted),
                "resolve_within_target": _share(self.resolve_in_target, self.resolve_targeted)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


Target = Callable[[dict], "tuple[float | None, float | None] | None"]


def response_times(incidents: Iterable[dict], zone_name: str, keys: tuple[str, ...] = RESPONSE_KEYS,
                   target: Target | None = None) -> dict[str, list[dict]]:
    """Per key of ``keys`` (and ``all``), the groups' times. An incident row has ``service``,
    ``created``, ``acknowledged`` and ``resolved`` (None when not), and any other key named;
    ``week`` is derived from ``created`` in the zone. ``target(row)`` gives its (acknowledge,
    resolve) targets in seconds, or None: then the shares are None (no targets known)."""
    groups: dict[str, dict[str, Times]] = {k: {} for k in ("all",) + keys}
    for row in incidents:
        values = {"all": "all", "week": week_of(row["created"], zone_name)}
        goals = target(row) if target is not None else None
        for k in groups:
            name = values[k] if k in values else str(row.get(k))
            t = groups[k].setdefault(name, Times(name))
            t.incidents += 1
            for at, times, goal, which in ((row["acknowledged"], t.ack, goals and goals[0], "ack"),
                                           (row["resolved"], t.resolve, goals and goals[1], "resolve")):
                if at is not None:
                    times.append(max(0.0, at - row["created"]))
                if goal is not None and (at is not None or row["resolved"] is not None):
                    setattr(t, f"{which}_targeted", getattr(t, f"{which}_targeted") + 1)
                    if at is not None and at - row["created"] <= goal:
                        setattr(t, f"{which}_in_target", getattr(t, f"{which}_in_target") + 1)
    return {k: [g.summary() for _, g in sorted(v.items())] for k, v in groups.items()}


# ---- interruptions ------------------------------------------------------------------------------

def part_of_day(local: datetime) -> str:
    """Sleep 22:00-08:00 every day; business Mon-Fri 08:00-18:00; evening the rest (weekday
    18:00-22:00, and weekend days 08:00-22:00)."""
    if local.hour < 8 or local.hour >= 22:
        return "sleep"
    return "business" if local.weekday() < 5 and local.hour < 18 else "evening"


@dataclass(frozen=True)
class Interruption:
    user: object
    at: float  # the first delivery's
    part: str  # PARTS
    tag: object  # the first delivery's (e.g. its incident's rule)
    deliveries: int


def interruptions(deliveries: Iterable[tuple], zones: dict) -> list[Interruption]:
    """Deliveries ``(user, at, tag)`` merged per person: one within 60 s of an interruption's
    first delivery joins it. Each is placed in the part of the day of the person's own zone
    (``zones[user]``, UTC when unknown or not a zone), DST-exact."""
    found: list[Interruption] = []
    open_: dict = {}  # user -> the index of their latest interruption
    for user, at, tag in sorted(deliveries, key=lambda d: (str(d[0]), d[1])):
        index = open_.get(user)
        if index is not None and at - found[index].at < MERGE_SECONDS:
            current = found[index]
            found[index] = Interruption(user, current.at, current.part, current.tag, current.deliveries + 1)
            continue
        name = zones.get(user) or "UTC"
        local = datetime.fromtimestamp(at, zone(name if known_zone(name) else "UTC"))
        open_[user] = len(found)
        found.append(Interruption(user, at, part_of_day(local), tag, 1))
    return found


def per_person(items: list[Interruption]) -> dict:
    """Counts per person: total, per part of the day, and the sleep share."""
    counts: dict = {}
    for item in items:
        c = counts.setdefault(item.user, {"total": 0, **{p: 0 for p in PARTS}, "deliveries": 0})
        c["total"] += 1
        c[item.part] += 1
        c["deliveries"] += item.deliveries
    for c in counts.values():
        c["sleep_share"] = _share(c["sleep"], c["total"])
    return counts


# ---- the noisiest rules ---------------------------------------------------------------------------

def noisy_rules(incidents: list[dict], resolved_by_call: set, pages: Iterable[tuple],
                sleeping: Iterable[Interruption]) -> list[dict]:
    """Per trigger rule (``(service id, rule id)``; incidents opened by a rule): its incidents,
    its pages (``(service id, rule id)`` per page), the sleep-hour interruptions whose first
    delivery was for its incidents (tag ``(service id, rule id)``), and how many of its
    incidents a call resolved within 5 minutes of opening; the most pages first."""
    rules: dict = {}

    def of(key) -> dict:
        return rules.setdefault(key, {"service_id": key[0], "rule_id": key[1], "incidents": 0, "pages": 0,
                                      "sleep_interruptions": 0, "self_resolved": 0})

    for row in incidents:
        if row["rule"] is None:
            continue
        r = of((row["service_id"], row["rule"]))
        r["incidents"] += 1
        if (row["id"] in resolved_by_call and row["resolved"] is not None
                and row["resolved"] - row["created"] <= SELF_RESOLVED_SECONDS):
            r["self_resolved"] += 1
    for key in pages:
        if key[1] is not None:
            of(tuple(key))["pages"] += 1
    for item in sleeping:
        if item.tag is not None and item.tag[1] is not None:
            of(tuple(item.tag))["sleep_interruptions"] += 1
    for r in rules.values():
        r["self_resolved_share"] = _share(r["self_resolved"], r["incidents"])
    return sorted(rules.values(), key=lambda r: (-r["pages"], -r["sleep_interruptions"], r["service_id"],
                                                 r["rule_id"]))


def obvious_fix(row: dict, urgency: str | None) -> str | None:
    """What to try first: ``low_urgency`` (a high rule that wakes people: low urgency pages by
    the rules people keep for it), ``longer_window`` (most of its incidents resolved by
    themselves: a longer duplicate window); None when neither applies."""
    if row["sleep_interruptions"] and urgency == "high":
        return "low_urgency"
    if row["self_resolved_share"] is not None and row["self_resolved_share"] >= 0.5:
        return "longer_window"
    return None


# ---- tables (CSV) -------------------------------------------------------------------------------------

def table(name: str, data: dict) -> tuple[list[str], list[list]]:
    """A report's rows as a header and rows (what CSV export writes)."""
    if name == "response":
        head = ["group", "key", "incidents", "acknowledged", "resolved", "ack_median", "ack_p90",
                "resolve_median", "resolve_p90", "ack_within_target", "resolve_within_target"]
        return head, [[g] + [row[h] for h in head[1:]] for g, rows in data["groups"].items() for row in rows]
    if name == "interruptions":
        head = ["person", "zone", "total", "business", "evening", "sleep", "sleep_share", "deliveries"]
        return head, [[row[h] for h in head] for row in data["people"]]
    if name == "oncall":
        head = ["person", "schedule", "hours", "holiday_hours", "override_taken", "override_given", "rate",
                "holiday_rate", "amount"]
        return head, [[p["person"], s["schedule"]] + [p[h] for h in head[2:]]
                      for s in data["schedules"] for p in s["people"]]
    head = ["service", "position", "rule_id", "urgency", "incidents", "pages", "sleep_interruptions",
            "self_resolved", "self_resolved_share", "fix"]
    return head, [[row[h] for h in head] for row in data["rules"]]
