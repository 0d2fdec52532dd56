"""The rota check: does Callgoose put the same people on call as the old tool said it would?

For every entry of the old tool's rendered rota, the imported schedule is computed over the
entry's whole span by the engine itself (:func:`callgoose.engine.schedules.timeline`, every
handoff, window edge and override inside, not one sample), and each part where the people
differ is a :class:`Mismatch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..engine.oncall import build_schedule
from ..engine.rules import SpecError
from ..engine.schedules import Schedule, timeline
from .base import RotaEntry


@dataclass(frozen=True)
class Mismatch:
    schedule: str
    start: float
    end: float
    old: tuple[str, ...]  # who the old tool has on call (emails, or ids it could not place)
    new: tuple[str, ...]  # who Callgoose has
    why: str = ""  # set when Callgoose could not compute the schedule at all

    @property
    def span(self) -> str:
        return f"{iso(self.start)} – {iso(self.end)}"


@dataclass(frozen=True)
class RotaCheck:
    entries: int
    mismatches: tuple[Mismatch, ...] = ()


def iso(at: float) -> str:
    """An instant as ISO 8601 UTC, to the second (``2027-01-04T08:00:00Z``)."""
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _emails(doc: dict) -> set[str]:
    """Every email the document names, so a schedule builds whatever else is wrong with it
    (an unknown person is the document's fault, which importing it reports)."""
    found = {u.get("email", "").strip().lower() for u in doc.get("users", []) if isinstance(u, dict)}
    for schedule in doc.get("schedules", []):
        for layer in schedule.get("layers", []) if isinstance(schedule, dict) else ():
            found.update(str(u).strip().lower() for u in layer.get("users", []) if isinstance(layer, dict))
        for override in schedule.get("overrides", []) if isinstance(schedule, dict) else ():
            found.add(str(override.get("user", "")).strip().lower() if isinstance(override, dict) else "")
    return found


def schedules_of(doc: dict) -> tuple[dict[str, Schedule], dict[str, str]]:
    """The document's schedules as the engine computes them, by name, and why each that
    cannot be built could not."""
    known = _emails(doc)
    built, faults = {}, {}
    for i, entry in enumerate(doc.get("schedules", [])):
        name = entry.get("name") if isinstance(entry, dict) else None
        try:
            schedule = build_schedule(entry, f"schedules[{i}]", known)
        except SpecError as exc:
            faults[str(name)] = str(exc)
            continue
        built[schedule.name] = schedule
    return built, faults


def _parts(schedule: Schedule, start: float, end: float) -> list[tuple[float, float, tuple[str, ...]]]:
    """Who Callgoose has on call over ``[start, end)``, as consecutive parts (nobody: ())."""
    parts: list[tuple[float, float, tuple[str, ...]]] = []

    def add(a: float, b: float, users: tuple[str, ...]) -> None:
        if b <= a:
            return
        if parts and parts[-1][2] == users and parts[-1][1] == a:
            parts[-1] = (parts[-1][0], b, users)
        else:
            parts.append((a, b, users))
    at = start
    for shift in timeline(schedule, start, end):
        add(at, shift.start, ())
        add(shift.start, shift.end, (shift.user,))
        at = shift.end
    add(at, end, ())
    return parts


def check(doc: dict, rota: tuple[RotaEntry, ...] | list[RotaEntry]) -> RotaCheck:
    """Compare every entry of ``rota`` with what the document's schedules compute."""
    schedules, faults = schedules_of(doc)
    mismatches: list[Mismatch] = []
    for entry in rota:
        old = tuple(sorted(entry.users))
        wanted = sorted(u.lower() for u in old)
        schedule = schedules.get(entry.schedule)
        if schedule is None:
            why = faults.get(entry.schedule, f"the import has no schedule {entry.schedule!r}")
            mismatches.append(Mismatch(entry.schedule, entry.start, entry.end, old, (), why))
            continue
        for start, end, users in _parts(schedule, entry.start, entry.end):
            if sorted(users) != wanted:
                mismatches.append(Mismatch(entry.schedule, start, end, old, users))
    return RotaCheck(len(rota), tuple(mismatches))


__all__ = ["Mismatch", "RotaCheck", "check", "iso", "schedules_of"]
