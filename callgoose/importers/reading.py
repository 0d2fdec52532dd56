"""Reading an old tool's saved API responses, and the small conversions every importer needs
(issue 18, item 4): pages of records (files are read by :func:`.common.load`), names Callgoose accepts, instants and local times, weekly
spans as restriction windows, and the old tool's rendered rota as :class:`RotaEntry` rows.

Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from ..engine.oncall import build_schedule
from ..engine.rules import SpecError
from ..engine.schedules import DAYS, known_zone, layer_shifts, zone
from .base import ExportError, PlanItem, RotaEntry, Verdict
from .common import iso, load  # noqa: F401 - one reader of files for every importer

WEEK = 7 * 24 * 60  # minutes


def note(plan: list, kind: str, name: str, notes: list[str], source: str, skipped: str = "") -> None:
    """A plan item: skipped (``skipped`` says why), imported with a change (``notes`` say which),
    or imported as it was."""
    verdict = Verdict.SKIPPED if skipped else Verdict.CHANGED if notes else Verdict.IMPORTED
    plan.append(PlanItem(kind, name, verdict, skipped or "; ".join(notes), source))


def records(doc, name: str, key: str) -> list[dict]:
    """The records of a list response (``{key: [...]}``), or of several pages of it saved as
    one JSON list; each record must be an object."""
    pages = doc if isinstance(doc, list) else [doc]
    found: list[dict] = []
    for page in pages:
        items = page.get(key) if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise ExportError(f'{name}: expected a response with a "{key}" list')
        for item in items:
            if not isinstance(item, dict):
                raise ExportError(f'{name}: every entry of "{key}" must be an object')
            found.append(item)
    return found


def instant(value, name: str) -> float:
    """An ISO 8601 time with an offset (or Z) as epoch seconds."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{name}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ExportError(f"{name}: {value!r} has no offset")
    return parsed.timestamp()


def local_text(at: float, zone_name: str) -> str:
    """An instant as local ``YYYY-MM-DDTHH:MM`` in a zone (a layer's start)."""
    return datetime.fromtimestamp(at, timezone.utc).astimezone(zone(zone_name)).strftime("%Y-%m-%dT%H:%M")


def time_zone(value, fallback: str = "UTC") -> tuple[str, bool]:
    """An IANA zone Callgoose knows, and whether ``value`` had to be replaced by ``fallback``."""
    return (value, False) if known_zone(value) else (fallback, True)


def service_name(name: str, taken: set[str]) -> str:
    """A Callgoose service name (letters, digits, '.', '_', '-') for ``name``, not in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-._").lower()[:60] or "service"
    return _unique(base, taken)


def policy_name(name: str, taken: set[str]) -> str:
    """A Callgoose policy or schedule name (letters, digits, spaces, '.', '_', '-')."""
    base = re.sub(r"[^A-Za-z0-9 ._-]+", "-", name.strip()).strip(" -._")[:60] or "imported"
    return _unique(base, taken)


def renaming(name: str, title: str, service: bool = False) -> list[str]:
    """The plan's note when the old tool's ``title`` had to become ``name``; none when it did not."""
    if name == title:
        return []
    if service:
        return [f"renamed {name!r}: Callgoose service names use letters, digits, '.', '_' and '-'"]
    return [f"renamed {name!r}: Callgoose names use letters, digits, spaces, '.', '_' and '-'"]


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name.lower() in {t.lower() for t in taken}:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def hhmm(minutes: int) -> str:
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def week_windows(spans: list[tuple[int, int]]) -> list[dict]:
    """Restriction windows for weekly spans, each ``(start, length)`` in minutes from Monday
    00:00 local (a length of a whole week or more: always). A span is cut at local midnights
    into one window per day (``to`` 00:00 ends at the next midnight); windows alike are merged."""
    pieces: dict[tuple[str, str], list[int]] = {}
    for start, length in spans:
        length = min(length, WEEK)
        at, end = start, start + length
        while at < end:
            day_end = (at // 1440 + 1) * 1440
            stop = min(end, day_end)
            key = (hhmm(at), "00:00" if stop == day_end else hhmm(stop))
            day = (at // 1440) % 7
            if day not in pieces.setdefault(key, []):
                pieces[key].append(day)
            at = stop
    return [{"days": [DAYS[d] for d in sorted(days)], "from": key[0], "to": key[1]}
            for key, days in sorted(pieces.items(), key=lambda kv: (min(kv[1]), kv[0]))]


def rota(schedule: str, spans: list[tuple[float, float, str]], start: float, end: float) -> tuple[RotaEntry, ...]:
    """The old tool's rendered rota from ``start`` to ``end`` as entries: cut at every edge of
    ``spans`` (``(start, end, email)``), each entry naming everyone on call in it (several when
    spans overlap; none in a gap), consecutive entries with the same people merged."""
    edges = sorted({start, end} | {t for s, e, _ in spans for t in (s, e) if start < t < end})
    entries: list[RotaEntry] = []
    for a, b in zip(edges, edges[1:]):
        users = tuple(sorted({email for s, e, email in spans if s <= a and b <= e}))
        if entries and entries[-1].users == users and entries[-1].end == a:
            entries[-1] = RotaEntry(schedule, entries[-1].start, b, users)
        else:
            entries.append(RotaEntry(schedule, a, b, users))
    return tuple(entries)


def overlap(doc: dict, known: set[str], start: float, end: float,
            ranks: list | None = None) -> tuple[float, str, str] | None:
    """The first instant of ``[start, end)`` at which two layers of a schedule document both
    have someone (Callgoose then pages the later layer's person only), with the two layers'
    names; None when they never do (or the document does not build). With ``ranks`` (one per
    layer), only layers of the same rank count: the old tool ranked the others as well."""
    try:
        schedule = build_schedule(doc, "schedule", known)
    except SpecError:
        return None
    shifts = [layer_shifts(schedule, layer, start, end) for layer in schedule.layers]
    first = None
    for i, lower in enumerate(shifts):
        for j in range(i + 1, len(shifts)):
            if ranks is not None and ranks[i] != ranks[j]:
                continue
            for a in lower:
                for b in shifts[j]:
                    at = max(a.start, b.start)
                    if at < min(a.end, b.end) and (first is None or at < first[0]):
                        first = (at, schedule.layers[i].name, schedule.layers[j].name)
    return first
