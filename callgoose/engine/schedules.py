"""Who is on call: a pure function of a schedule and an instant (issue 9).

Time is wall-clock local in the schedule's IANA zone:

- A layer's shifts start at ``start + k × (count × unit)`` in *local wall time* (naive
  arithmetic, for hours too): a 12-hour rotation starting 08:00 hands over at 08:00 and 20:00
  local every day, so across a daylight-saving change one shift lasts 11 or 13 hours.
- A local time is turned into an instant as ``zoneinfo`` does with ``fold=0``: a time that does
  not exist (spring forward) takes the offset from before the change (02:30 in a 02:00→03:00
  gap is 03:30 new time); a time that exists twice (fall back) is its first occurrence.
- Shift *k* covers ``[B'(k), B'(k+1))`` where ``B'(k)`` is the largest instant of the
  boundaries up to *k*: boundaries never run backwards, so shifts tile time with no gap and no
  overlap (a boundary that ``fold=0`` puts before the one preceding it, possible only where a
  zone skips more than a shift, makes an empty shift). Before its start a layer has nobody.
- Restrictions mask a rotation that keeps running (they do not pause it). A window's ``days``
  are the local days it starts on; ``to`` is exclusive; ``to`` ≤ ``from`` crosses midnight; its
  edges follow ``fold=0`` too. Outside every window the layer has nobody.
- A later layer wins wherever it has someone; where it has nobody the layers below show through.
  An override replaces whoever the layers give for its span (overrides never overlap).

Instants are epoch seconds (floats); nothing here reads the server's own zone or clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNITS = {"hours": 3600, "days": 86400, "weeks": 7 * 86400}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_OFFSET_SPREAD = 26 * 3600  # UTC-12 to UTC+14: how far two offsets of one zone can differ
MAX_CHANGES = 100_000  # changes walked in one timeline
HORIZON = 400 * 86400  # how far ``until`` looks for the next change


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def known_zone(name) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_instant(text, zone_name: str) -> float | None:
    """A local date and time as written (``YYYY-MM-DDTHH:MM``) in a zone, as an instant
    (``fold=0``); None when it is not a date and time."""
    try:
        return instant(datetime.fromisoformat(text), zone(zone_name))
    except (ValueError, TypeError):
        return None


def instant(local: datetime, tz: ZoneInfo) -> float:
    """A naive local time as an instant, as ``zoneinfo`` resolves it with ``fold=0``."""
    return local.replace(tzinfo=tz, fold=0).timestamp()


def local_of(at: float, tz: ZoneInfo) -> datetime:
    """The naive local wall time of an instant."""
    return datetime.fromtimestamp(at, timezone.utc).astimezone(tz).replace(tzinfo=None)


@dataclass(frozen=True)
class Window:
    """A weekly window of local time: on ``days`` (0 = Monday) from ``start`` to ``end``
    (exclusive; ``end`` ≤ ``start`` ends the next day)."""

    days: frozenset[int]
    start: time
    end: time

    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def span_on(self, day: date, tz: ZoneInfo) -> tuple[float, float] | None:
        """The window that starts on ``day``, as instants; None if it does not start that day."""
        return _span(self, day, tz)


@lru_cache(maxsize=65536)
def _span(window: Window, day: date, tz: ZoneInfo) -> tuple[float, float] | None:
    if day.weekday() not in window.days:
        return None
    begin = instant(datetime.combine(day, window.start), tz)
    end_day = day + timedelta(days=1) if window.crosses_midnight() else day
    end = instant(datetime.combine(end_day, window.end), tz)
    return (begin, end) if end > begin else None


@dataclass(frozen=True)
class Layer:
    name: str
    users: tuple  # user keys (ids or emails), in rotation order
    start: datetime  # naive local
    unit: str  # hours | days | weeks
    count: int
    restrictions: tuple[Window, ...] = ()

    def __post_init__(self):
        # The boundary cache is keyed by the layer: hash it once, not on every lookup.
        object.__setattr__(self, "_hash", hash((self.name, self.users, self.start, self.unit, self.count,
                                                 self.restrictions)))
        object.__setattr__(self, "_step", timedelta(seconds=UNITS[self.unit] * self.count))

    def __hash__(self) -> int:
        return self._hash

    @property
    def step(self) -> timedelta:
        return self._step


@dataclass(frozen=True)
class Override:
    user: object
    start: float
    end: float


@dataclass(frozen=True)
class Schedule:
    name: str
    time_zone: str
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.time_zone)


@dataclass(frozen=True)
class OnCall:
    """Who is on call at an instant, and from where (a layer's name, ``override``, or None)."""

    users: tuple
    source: str | None


@dataclass(frozen=True)
class Shift:
    user: object
    start: float
    end: float
    source: str


# ---- one layer --------------------------------------------------------------------------------

@lru_cache(maxsize=65536)
def _raw_boundary(layer: Layer, k: int, tz: ZoneInfo) -> float:
    return instant(layer.start + k * layer.step, tz)


def _lookback(layer: Layer) -> int:
    return math.ceil(MAX_OFFSET_SPREAD / (UNITS[layer.unit] * layer.count)) + 1


@lru_cache(maxsize=65536)
def boundary(layer: Layer, k: int, tz: ZoneInfo) -> float:
    """B'(k): the latest instant among boundaries ``k - lookback .. k`` (never before 0).
    Beyond the look-back, earlier boundaries are earlier whatever the offsets. Cached: a
    timeline asks each layer for the same few boundaries at every change of every layer."""
    if k <= 0:
        return _raw_boundary(layer, k, tz)
    return max(_raw_boundary(layer, j, tz) for j in range(max(0, k - _lookback(layer)), k + 1))


def shift_index(layer: Layer, at: float, tz: ZoneInfo) -> int | None:
    """The shift of the rotation at ``at`` (None before the layer starts)."""
    first = boundary(layer, 0, tz)
    if at < first:
        return None
    length = UNITS[layer.unit] * layer.count
    k = max(0, int((at - first) // length))
    while k > 0 and boundary(layer, k, tz) > at:
        k -= 1
    while boundary(layer, k + 1, tz) <= at:
        k += 1
    return k


def in_windows(layer: Layer, at: float, tz: ZoneInfo) -> bool:
    if not layer.restrictions:
        return True
    today = local_of(at, tz).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        for window in layer.restrictions:
            span = window.span_on(day, tz)
            if span is not None and span[0] <= at < span[1]:
                return True
    return False


def layer_user(layer: Layer, at: float, tz: ZoneInfo):
    """Who the layer has at ``at`` (None: nobody)."""
    if not layer.users:
        return None
    k = shift_index(layer, at, tz)
    if k is None or not in_windows(layer, at, tz):
        return None
    return layer.users[k % len(layer.users)]


def _window_edges_after(layer: Layer, at: float, tz: ZoneInfo) -> list[float]:
    """The restriction windows' next edges after ``at``. Windows are weekly, so an edge comes
    within 8 days; the earliest is on the first day that has one, or on the day after it (a
    window that crosses midnight ends then)."""
    found: list[float] = []
    today = local_of(at, tz).date()
    first = None
    for offset in range(-1, 9):
        if first is not None and offset > first + 1:
            break
        day = today + timedelta(days=offset)
        for window in layer.restrictions:
            span = window.span_on(day, tz)
            if span is not None:
                later = [edge for edge in span if edge > at]
                if later and first is None:
                    first = offset
                found.extend(later)
    return found


def _layer_changes_after(layer: Layer, at: float, tz: ZoneInfo) -> float | None:
    """The first instant after ``at`` where this layer may change (a handoff or a window edge)."""
    k = shift_index(layer, at, tz)
    candidates = [boundary(layer, 0, tz)] if k is None else [boundary(layer, k + 1, tz)]
    if layer.restrictions:
        candidates.extend(_window_edges_after(layer, at, tz))
    later = [c for c in candidates if c > at]
    return min(later) if later else None


def _layer_coverage_after(layer: Layer, at: float, tz: ZoneInfo) -> float | None:
    """The first instant after ``at`` where whether this layer has anyone may change: its
    start, and its windows' edges (handoffs change who, never whether)."""
    if not layer.users:
        return None
    first = boundary(layer, 0, tz)
    if at < first:
        return first
    later = _window_edges_after(layer, at, tz) if layer.restrictions else []
    return min(later) if later else None


# ---- the schedule -----------------------------------------------------------------------------

def on_call(schedule: Schedule, at: float) -> OnCall:
    """Who is on call at ``at``: an override, else the top-most layer that has someone."""
    for override in schedule.overrides:
        if override.start <= at < override.end:
            return OnCall((override.user,), "override")
    tz = schedule.tz
    for layer in reversed(schedule.layers):
        user = layer_user(layer, at, tz)
        if user is not None:
            return OnCall((user,), layer.name)
    return OnCall((), None)


class _Edges:
    """The next change after an instant, for a walk forward in time: each layer's next change
    is remembered until the walk passes it (the first change after ``a`` is also the first
    after any later instant before it), so a step asks only the layers that changed."""

    def __init__(self, schedule: Schedule, coverage: bool = False):
        self.schedule, self.tz = schedule, schedule.tz
        self.changes = _layer_coverage_after if coverage else _layer_changes_after
        self.pending: list = [_UNKNOWN] * len(schedule.layers)  # each layer's next change (None: never)
        self.last = -math.inf  # the latest instant asked about

    def after(self, at: float) -> float | None:
        if at < self.last:  # walking back: what is remembered may be past a change
            self.pending = [_UNKNOWN] * len(self.pending)
        self.last = at
        candidates = [e for o in self.schedule.overrides for e in (o.start, o.end) if e > at]
        for i, layer in enumerate(self.schedule.layers):
            edge = self.pending[i]
            if edge is _UNKNOWN or (edge is not None and edge <= at):
                edge = self.pending[i] = self.changes(layer, at, self.tz)
            if edge is not None:
                candidates.append(edge)
        return min(candidates) if candidates else None


_UNKNOWN = object()



def until(schedule: Schedule, at: float, horizon: float = HORIZON) -> float | None:
    """The next instant after ``at`` at which the set of users on call changes (None: no
    change within the horizon)."""
    now = on_call(schedule, at).users
    edge, edges = at, _Edges(schedule)
    for _ in range(MAX_CHANGES):
        edge = edges.after(edge)
        if edge is None or edge - at > horizon:
            return None
        if on_call(schedule, edge).users != now:
            return edge
    return None


def timeline(schedule: Schedule, start: float, end: float) -> list[Shift]:
    """The final rota from ``start`` to ``end``: who, when, from which source; consecutive
    spans of one user from one source merged; clipped to the range."""
    shifts: list[Shift] = []
    at, edges = start, _Edges(schedule)
    for _ in range(MAX_CHANGES):
        if at >= end:
            break
        who = on_call(schedule, at)
        edge = edges.after(at)
        stop = end if edge is None else min(edge, end)
        for user in who.users:
            last = shifts[-1] if shifts else None
            if last is not None and last.user == user and last.source == who.source and last.end == at:
                shifts[-1] = Shift(user, last.start, stop, who.source)
            else:
                shifts.append(Shift(user, at, stop, who.source))
        at = stop
    return shifts


def covered(schedule: Schedule, at: float) -> bool:
    """Whether anyone is on call at ``at`` (without asking who)."""
    if any(o.start <= at < o.end for o in schedule.overrides):
        return True
    tz = schedule.tz
    return any(layer.users and at >= boundary(layer, 0, tz) and in_windows(layer, at, tz)
               for layer in schedule.layers)


def uncovered(schedule: Schedule, start: float, end: float) -> list[tuple[float, float]]:
    """The spans of ``[start, end)`` in which nobody is on call. Only the layers' starts, their
    windows' edges and the overrides' edges are walked, not every handoff: an hourly rota
    costs what a weekly one does."""
    found: list[tuple[float, float]] = []
    at, edges = start, _Edges(schedule, coverage=True)
    for _ in range(MAX_CHANGES):
        if at >= end:
            break
        edge = edges.after(at)
        stop = end if edge is None else min(edge, end)
        if not covered(schedule, at):
            if found and found[-1][1] == at:
                found[-1] = (found[-1][0], stop)
            else:
                found.append((at, stop))
        at = stop
    return found


def overlapping(overrides: list[Override]) -> tuple[int, int] | None:
    """The indexes of two overrides that overlap, if any."""
    ordered = sorted(range(len(overrides)), key=lambda i: overrides[i].start)
    for a, b in zip(ordered, ordered[1:]):
        if overrides[b].start < overrides[a].end:
            return (a, b)
    return None


def layer_shifts(schedule: Schedule, layer: Layer, start: float, end: float) -> list[Shift]:
    """One layer's own shifts in a range (for the timeline's layer rows)."""
    tz = schedule.tz
    shifts: list[Shift] = []
    at = start
    for _ in range(MAX_CHANGES):
        if at >= end:
            break
        user = layer_user(layer, at, tz)
        edge = _layer_changes_after(layer, at, tz)
        stop = end if edge is None else min(edge, end)
        if user is not None:
            last = shifts[-1] if shifts else None
            if last is not None and last.user == user and last.end == at:
                shifts[-1] = Shift(user, last.start, stop, layer.name)
            else:
                shifts.append(Shift(user, at, stop, layer.name))
        at = stop
    return shifts


__all__ = ["DAYS", "UNITS", "Layer", "OnCall", "Override", "Schedule", "Shift", "Window", "covered",
           "layer_shifts", "on_call", "overlapping", "timeline", "uncovered", "until"]
