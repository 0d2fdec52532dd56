"""A shadow run (issue 18), decided without I/O: which stretch of days the Shadow page reads,
and its held notifications grouped per day in the reader's time zone, newest day first.

A held notification is one that came due for an incident opened in a shadow run: it was never
sent, and its time is when it would have gone out (``services/outbox.py`` holds it then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DAYS = 14  # days the Shadow page shows at once (the "older" link goes on from the last)
MAX_ROWS = 2000  # held notifications read for one page at most; the page says when it stopped


@dataclass(frozen=True)
class Held:
    """One notification held in a shadow run, as the Shadow page lists it."""

    id: int
    at: datetime  # when it would have gone out (aware, UTC)
    user_id: int | None
    channel: str
    kind: str  # engine.paging.Kind
    event: str | None  # a service webhook's event
    level: int | None
    incident_id: int
    title: str
    service: str


@dataclass
class Day:
    day: date  # in the reader's zone
    items: list[Held] = field(default_factory=list)


def window(last_day: date, zone: ZoneInfo, days: int = DAYS) -> tuple[datetime, datetime]:
    """The UTC instants from the start of the first of ``days`` days to the end of ``last_day``
    (local days: one of 23 or 25 hours where the clocks change is one day)."""
    first = last_day - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), zone).astimezone(timezone.utc)
    end = datetime.combine(last_day + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
    return start, end


def by_day(items: list[Held], zone: ZoneInfo) -> list[Day]:
    """The items grouped by their local day, newest day first, each day newest first."""
    days: dict[date, Day] = {}
    for item in sorted(items, key=lambda h: (h.at, h.id), reverse=True):
        local = item.at.astimezone(zone).date()
        days.setdefault(local, Day(local)).items.append(item)
    return sorted(days.values(), key=lambda d: d.day, reverse=True)


def today(now: float, zone: ZoneInfo) -> date:
    """The reader's date at ``now`` (epoch seconds)."""
    return datetime.fromtimestamp(now, timezone.utc).astimezone(zone).date()
