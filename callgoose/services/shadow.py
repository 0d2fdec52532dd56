"""A shadow run (issue 18): switching a service in and out of it, and what its incidents
would have paged, for the Shadow page. Each public function is one transaction (or one read).

The rule lives elsewhere, once: an incident is pinned as a shadow incident when it opens
(``services/lifecycle.py``, from the cached spec's ``ServicePaging.shadow``), and the outbox
holds what comes due for it instead of sending it (``services/outbox.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import clock
from ..engine.paging import State
from ..engine.shadow import DAYS, MAX_ROWS, Day, Held, by_day, today, window
from ..store.hotpath import Sql, to_datetime
from ..store.transactions import session_cursor, write
from . import audit, people
from .catalog import bump_version, live_service

HELD = Sql(f"""
    SELECT n.id, n.finished_at, n.user_id, n.channel, n.kind, n.event, n.level, n.incident_id, i.title, s.name
    FROM notifications n JOIN incidents i ON i.id = n.incident_id JOIN services s ON s.id = i.service_id
    WHERE n.status = '{State.SHADOW}' AND n.finished_at >= :since AND n.finished_at < :until
    ORDER BY n.finished_at DESC, n.id DESC LIMIT :n
""")
OLDER = Sql(f"""
    SELECT max(finished_at) FROM notifications WHERE status = '{State.SHADOW}' AND finished_at < :before
""")


def set_shadow(service_id: int, on: bool) -> str | None:
    """Start or stop a service's shadow run; its name, or None when there is no such service.

    Only incidents opened from now on follow: one open in a shadow run stays in it."""
    def work():
        service = live_service(service_id)
        if service is None:
            return None
        if service.shadow != on:
            service.shadow = on
            bump_version(service.id)
        return service.name
    return write(audit.tracking("service", service_id, work))


@dataclass(frozen=True)
class ShadowPage:
    days: list[Day]  # newest first, in the reader's zone
    first: date  # the stretch shown, in the reader's zone
    last: date
    older: date | None  # the last day with something held before ``first`` (None: nothing)
    newer: date | None  # the last day of the next stretch (None: this one ends today)
    capped: bool  # more held in these days than one page reads
    names: dict[int, str]


def shadow_page(zone_name: str, now: float, last_day: date | None = None) -> ShadowPage:
    """What was held in the ``DAYS`` days up to ``last_day`` (default today), in ``zone_name``."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):  # a zone this machine no longer knows
        zone = ZoneInfo("UTC")
    current = today(now, zone)
    last_day = min(last_day or current, current)
    start, end = window(last_day, zone)
    cursor = session_cursor()
    rows = cursor.execute(HELD, {"since": _db(start), "until": _db(end), "n": MAX_ROWS + 1}).fetchall()
    items = [Held(r[0], to_datetime(r[1]).replace(tzinfo=timezone.utc), r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                  r[9]) for r in rows[:MAX_ROWS]]
    before = cursor.execute(OLDER, {"before": _db(start)}).fetchone()[0]
    older = to_datetime(before).replace(tzinfo=timezone.utc).astimezone(zone).date() if before is not None else None
    newer = min(last_day + timedelta(days=DAYS), current) if last_day < current else None
    return ShadowPage(by_day(items, zone), last_day - timedelta(days=DAYS - 1), last_day, older, newer,
                      len(rows) > MAX_ROWS, people.names() if items else {})


def _db(instant):
    return clock.to_db(instant.timestamp())
