"""Schedules in the database: rows to the engine's :class:`~callgoose.engine.schedules.Schedule`
(by user id) and back, for escalation (on the hot path's cursor), the JSON API and the
configuration document. Who is on call is always computed, never stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import delete, select

from .. import clock
from ..engine.config import parse_document
from ..engine.ical import calendar
from ..engine.oncall import build_schedule
from ..engine.rules import SpecError
from ..engine.schedule_form import (
    LayerRow,
    document_of_rows,
    in_words,
    rows_from_form,
    rows_of,
)
from ..engine.schedules import (
    DAYS,
    Layer,
    Override,
    Schedule,
    Window,
    instant,
    layer_shifts,
    local_instant,
    local_of,
    on_call,
    timeline,
    until,
    zone,
)
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.hotpath import Cursor, Sql, from_json, to_datetime
from ..store.models import CalendarFeed, EscalationPolicy, ScheduleOverride, User
from ..store.models import Schedule as ScheduleRow
from ..store.transactions import session_cursor, write
from . import audit, people

MAX_RANGE_SECONDS = 90 * 86400
SCHEDULE_BY_ID = Sql("SELECT name, time_zone, layers FROM schedules WHERE id = :id")
OVERRIDES_AROUND = Sql("""
    SELECT user_id, starts_at, ends_at FROM schedule_overrides
    WHERE schedule_id = :id AND ends_at > :start AND starts_at < :end ORDER BY starts_at
""")


def _hhmm(text: str) -> time:
    return time(int(text[:2]), int(text[3:5]))


def layer_from_json(doc: dict) -> Layer:
    windows = tuple(Window(frozenset(DAYS.index(d) for d in w["days"]), _hhmm(w["from"]), _hhmm(w["to"]))
                    for w in doc.get("restrictions", []))
    return Layer(doc["name"], tuple(doc["users"]), datetime.fromisoformat(doc["start"]), doc["shift"]["unit"],
                 int(doc["shift"]["count"]), windows)


def layer_to_json(layer: Layer, user_key=lambda u: u) -> dict:
    doc = {"name": layer.name, "users": [user_key(u) for u in layer.users],
           "start": layer.start.strftime("%Y-%m-%dT%H:%M"), "shift": {"unit": layer.unit, "count": layer.count}}
    if layer.restrictions:
        doc["restrictions"] = [{"days": [DAYS[d] for d in sorted(w.days)], "from": w.start.strftime("%H:%M"),
                                "to": w.end.strftime("%H:%M")} for w in layer.restrictions]
    return doc


def load_rows(cursor: Cursor, schedule_id: int, start: float, end: float) -> tuple | None:
    """A schedule's stored rows, with the overrides that touch ``[start, end)``, as read (jobs
    read under the process's read lock and :func:`build` after letting it go)."""
    row = cursor.execute(SCHEDULE_BY_ID, {"id": schedule_id}).fetchone()
    if row is None:
        return None
    return tuple(row), cursor.execute(OVERRIDES_AROUND, {
        "id": schedule_id, "start": clock.to_db(start), "end": clock.to_db(end)}).fetchall()


def build(rows: tuple) -> Schedule:
    """The schedule :func:`load_rows` read, users as ids."""
    (name, zone_name, layers), overrides = rows
    return Schedule(name, zone_name, tuple(layer_from_json(lv) for lv in from_json(layers)),
                    tuple(Override(user_id, clock.from_db(to_datetime(s)), clock.from_db(to_datetime(e)))
                          for user_id, s, e in overrides))


def load(cursor: Cursor, schedule_id: int, start: float, end: float) -> Schedule | None:
    """A schedule by id, with the overrides that touch ``[start, end)``, users as ids."""
    rows = load_rows(cursor, schedule_id, start, end)
    return None if rows is None else build(rows)


def on_call_ids(cursor: Cursor, schedule_id: int, now: float) -> tuple[str | None, tuple[int, ...]]:
    """(the schedule's name, the user ids on call at ``now``) for escalation."""
    schedule = load(cursor, schedule_id, now, now + 1)
    if schedule is None:
        return None, ()
    return schedule.name, on_call(schedule, now).users


# ---- the JSON API -----------------------------------------------------------------------------

class BadRange(ValueError):
    """A range the API refuses (the message says why)."""


@dataclass(frozen=True)
class Answer:
    schedule: str
    at: float
    users: list[str]
    until: float | None


def _row(name: str) -> ScheduleRow | None:
    return db.session.execute(select(ScheduleRow).where(ScheduleRow.name == name)).scalar()


def names() -> list[tuple[str, str]]:
    return [(r.name, r.time_zone) for r in db.session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars()]


def who_is_on_call(name: str, at: float) -> Answer | None:
    row = _row(name)
    if row is None:
        return None
    schedule = load(session_cursor(), row.id, at - 1, at + 400 * 86400)
    emails = people.emails()
    return Answer(name, at, [emails.get(u, f"user {u}") for u in on_call(schedule, at).users], until(schedule, at))


def shifts(name: str, start: float, end: float) -> list[dict] | None:
    """The merged rota in ``[start, end)``. :raises BadRange:"""
    if end <= start:
        raise BadRange("to must be after from")
    if end - start > MAX_RANGE_SECONDS:
        raise BadRange("from and to may be at most 90 days apart")
    row = _row(name)
    if row is None:
        return None
    schedule = load(session_cursor(), row.id, start, end)
    emails = people.emails()
    return [{"user": emails.get(s.user, f"user {s.user}"), "start": clock.iso(clock.to_db(s.start)),
             "end": clock.iso(clock.to_db(s.end)), "source": "override" if s.source == "override" else s.source}
            for s in timeline(schedule, start, end)]


# ---- the configuration document -----------------------------------------------------------------

def existing_names() -> set[str]:
    return {r[0] for r in names()}


def ids_by_name() -> dict[str, int]:
    return {r.name: r.id for r in db.session.execute(select(ScheduleRow)).scalars()}


def save_all(schedules: tuple[Schedule, ...], now: float, replace_overrides: bool = True,
             path: str = "schedules[%d]") -> dict[str, int]:
    """Create or replace the document's schedules (users by email) in the caller's
    transaction; return every schedule's id by name. The form editor keeps the overrides
    (``replace_overrides=False``): they are added and deleted on the schedule's page.

    :raises SpecError: an override that would put a deactivated user on call (``path`` % index)."""
    users = list(db.session.execute(select(User)).scalars())
    ids = {u.email: u.id for u in users}
    inactive = {u.email for u in users if not u.active}
    for i, schedule in enumerate(schedules):
        for j, o in enumerate(schedule.overrides if replace_overrides else ()):
            if o.user in inactive and o.end > now:
                raise SpecError(f"{path.replace('%d', str(i))}.overrides[{j}].user", Say(
                        "%(email)s is deactivated: an override cannot put them on call", email=o.user))
    for schedule in schedules:
        row = _row(schedule.name)
        if row is None:
            row = ScheduleRow(name=schedule.name, created_at=clock.to_db(now))
            db.session.add(row)
        row.time_zone = schedule.time_zone
        row.layers = [layer_to_json(layer, lambda e: ids[e]) for layer in schedule.layers]
        row.updated_at = clock.to_db(now)
        db.session.flush()
        if not replace_overrides:
            continue
        db.session.execute(delete(ScheduleOverride).where(ScheduleOverride.schedule_id == row.id))
        for o in schedule.overrides:
            db.session.add(ScheduleOverride(schedule_id=row.id, user_id=ids[o.user], starts_at=clock.to_db(o.start),
                                            ends_at=clock.to_db(o.end), created_at=clock.to_db(now)))
    db.session.flush()
    return ids_by_name()


def _export(row: ScheduleRow, emails: dict[int, str]) -> dict:
    overrides = db.session.execute(select(ScheduleOverride).where(ScheduleOverride.schedule_id == row.id)
                                   .order_by(ScheduleOverride.starts_at)).scalars()
    return {"name": row.name, "time_zone": row.time_zone,
            "layers": [layer_to_json(layer_from_json(lv), lambda u: emails.get(u, f"user {u}")) for lv in row.layers],
            "overrides": [{"user": emails.get(o.user_id), "start": clock.iso(o.starts_at),
                           "end": clock.iso(o.ends_at)} for o in overrides]}


def export_all() -> list[dict]:
    emails = people.emails()
    rows = db.session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars()
    return [_export(row, emails) for row in rows]


def schedule_doc(schedule_id: int) -> dict | None:
    """One schedule as the S34 document has it (with its overrides), for the audit log."""
    db.session.flush()
    row = db.session.get(ScheduleRow, schedule_id)
    return None if row is None else _export(row, people.emails())


def _apply_doc(schedule_id: int | None, doc: dict | None, now: float) -> int | None:
    """Make the schedule what ``doc`` says (an audit revert), checked as a saved document is.
    :raises SpecError:"""
    row = db.session.get(ScheduleRow, schedule_id) if schedule_id is not None else None
    if doc is None:
        if row is not None:
            _delete(row)
        return None
    schedule = build_schedule(doc, "schedule", {u.email for u in db.session.execute(select(User)).scalars()})
    if row is not None:
        row.name = schedule.name
    return save_all((schedule,), now, True, path="schedule")[schedule.name]


def schedule_names() -> dict[int, str]:
    return {r.id: r.name for r in db.session.execute(select(ScheduleRow)).scalars()}




# ---- the dashboard --------------------------------------------------------------------------------

PAGE_DAYS = 14


@dataclass(frozen=True)
class NowAndNext:
    row: ScheduleRow
    now: list[str]  # names on call now
    until: float | None
    next: list[str]  # names on call from ``until``


@dataclass(frozen=True)
class Row:
    label: str
    shifts: list  # engine Shift, users as names


@dataclass(frozen=True)
class TimelinePage:
    row: ScheduleRow
    zone: str  # the viewer's zone the page is drawn in
    start: float
    end: float
    layers: list[Row]
    final: Row
    overrides: list[ScheduleOverride]
    names: dict[int, str]
    handoffs: list  # (instant, from name, to name) of the final rota
    people: list[User]
    days: list  # (instant of local midnight, date) for the grid, in the viewer's zone

    def x(self, at: float, width: float = 1400) -> float:
        """Where an instant falls on a drawing ``width`` wide."""
        return round(max(0.0, min(1.0, (at - self.start) / (self.end - self.start))) * width, 2)


def _engine_schedule(row: ScheduleRow, start: float, end: float) -> Schedule:
    return load(session_cursor(), row.id, start, end)


def schedule_row(schedule_id: int) -> ScheduleRow | None:
    return db.session.get(ScheduleRow, schedule_id)


def now_and_next(now: float) -> list[NowAndNext]:
    """Every schedule with who is on call now and who is next (the front page, services)."""
    names = people.names()
    found = []
    for row in db.session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars():
        schedule = _engine_schedule(row, now - 1, now + 400 * 86400)
        current = on_call(schedule, now).users
        change = until(schedule, now)
        coming = on_call(schedule, change).users if change is not None else ()
        found.append(NowAndNext(row, [names.get(u, f"user {u}") for u in current], change,
                                [names.get(u, f"user {u}") for u in coming]))
    return found


def start_of_day(zone_name: str, day: str | None, now: float) -> float:
    """Midnight (fold=0) of ``day`` (YYYY-MM-DD; default: today) in a zone."""
    tz = zone(zone_name)
    try:
        first = datetime.fromisoformat(day).date() if day else local_of(now, tz).date()
    except ValueError:
        first = local_of(now, tz).date()
    return instant(datetime.combine(first, time()), tz)


def timeline_page(schedule_id: int, choose_zone, day: str | None, now: float,
                  days: int = PAGE_DAYS) -> TimelinePage | None:
    """The two-week page from ``day``, drawn in ``choose_zone(the schedule's zone)``."""
    row = db.session.get(ScheduleRow, schedule_id)
    if row is None:
        return None
    zone_name = choose_zone(row.time_zone)
    start = start_of_day(zone_name, day, now)
    first = local_of(start, zone(zone_name)).date()
    end = instant(datetime.combine(first + timedelta(days=days), time()), zone(zone_name))
    schedule = _engine_schedule(row, start, end)
    names = people.names()

    def named(shifts):
        return [type(s)(names.get(s.user, f"user {s.user}"), s.start, s.end, s.source) for s in shifts]
    layers = [Row(layer.name, named(layer_shifts(schedule, layer, start, end))) for layer in schedule.layers]
    final = named(timeline(schedule, start, end))
    handoffs = [(b.start, a.user, b.user) for a, b in zip(final, final[1:]) if a.end == b.start and a.user != b.user]
    overrides = list(db.session.execute(select(ScheduleOverride).where(
        ScheduleOverride.schedule_id == row.id, ScheduleOverride.ends_at > clock.to_db(start))
        .order_by(ScheduleOverride.starts_at)).scalars())
    active = list(db.session.execute(select(User).where(User.active).order_by(User.email)).scalars())
    tz = zone(zone_name)
    first = local_of(start, tz).date()
    days_ = [(instant(datetime.combine(first + timedelta(days=d), time()), tz), first + timedelta(days=d))
             for d in range(days)]
    return TimelinePage(row, zone_name, start, end, layers, Row("On call", final), overrides, names, handoffs,
                        active, days_)


def add_override(schedule_id: int, user_id: int, start_text: str, end_text: str, choose_zone,
                 now: float) -> tuple[ScheduleOverride, str] | None:
    """Put a user on call from ``start_text`` to ``end_text`` (local times in
    ``choose_zone(the schedule's zone)``); return it and that zone.

    :raises SpecError: a bad span, or one that overlaps another override."""
    row = db.session.get(ScheduleRow, schedule_id)
    if row is None:
        return None
    zone_name = choose_zone(row.time_zone)
    start, end = (_local(text, zone_name, name) for text, name in ((start_text, "start"), (end_text, "end")))
    if end <= start:
        raise SpecError("end", Say("must be after the start"))
    if end - start > 366 * 86400:
        raise SpecError("end", Say("an override lasts at most a year"))

    def work():
        row = db.session.get(ScheduleRow, schedule_id)
        if row is None:
            return None
        user = db.session.get(User, user_id)
        if user is None:
            raise SpecError("user", Say("choose a user"))
        if not user.active:
            raise SpecError("user", Say("%(email)s is deactivated: an override cannot put them on call",
                                        email=user.email))
        clash = db.session.execute(select(ScheduleOverride).where(
            ScheduleOverride.schedule_id == schedule_id, ScheduleOverride.starts_at < clock.to_db(end),
            ScheduleOverride.ends_at > clock.to_db(start))).scalar()
        if clash is not None:
            raise SpecError("start", Say(
                    "overlaps the override from %(start)s to %(end)s; change or delete that one first",
                    start=clock.iso(clash.starts_at), end=clock.iso(clash.ends_at)))
        override = ScheduleOverride(schedule_id=schedule_id, user_id=user_id, starts_at=clock.to_db(start),
                                    ends_at=clock.to_db(end), created_at=clock.to_db(now))
        db.session.add(override)
        return override
    found = write(audit.tracking("schedule", schedule_id, work))
    return None if found is None else (found, zone_name)


def _local(text: str, zone_name: str, name: str) -> float:
    found = local_instant(text, zone_name)
    if found is None:
        raise SpecError(name, Say("must be a date and time"))
    return found





def delete_override(schedule_id: int, override_id: int) -> bool:
    def work():
        return db.session.execute(delete(ScheduleOverride).where(
            ScheduleOverride.id == override_id, ScheduleOverride.schedule_id == schedule_id)).rowcount == 1
    return write(audit.tracking("schedule", schedule_id, work))


def my_shifts(user_id: int, now: float, days: int = PAGE_DAYS) -> list[tuple[str, object]]:
    """A user's shifts in every schedule over the next ``days``: (schedule name, Shift)."""
    found = []
    for row in db.session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars():
        schedule = _engine_schedule(row, now, now + days * 86400)
        found += [(row.name, s) for s in timeline(schedule, now, now + days * 86400) if s.user == user_id]
    return sorted(found, key=lambda pair: pair[1].start)


# ---- calendar feeds ---------------------------------------------------------------------------------

FEED_PAST, FEED_AHEAD = 7 * 86400, 60 * 86400


def _feed_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_feed(user_id: int, schedule_id: int | None, now: float) -> str | None:
    """A new secret feed URL path part (shown once; kept as a digest). None: no such schedule."""
    def work():
        if schedule_id is not None and db.session.get(ScheduleRow, schedule_id) is None:
            return None
        secret = "cal_" + secrets.token_urlsafe(24)
        db.session.add(CalendarFeed(digest=_feed_digest(secret), prefix=secret[:10], schedule_id=schedule_id,
                                    user_id=user_id, created_at=clock.to_db(now)))
        return secret
    return write(audit.tracking("user", user_id, work))  # the feed's schedule, never its secret


def revoke_feed(feed_id: int, user_id: int, admin: bool, now: float) -> bool:
    def work():
        feed = db.session.get(CalendarFeed, feed_id)
        if feed is None or feed.revoked_at is not None or (feed.user_id != user_id and not admin):
            return False
        tracked = audit.track("user", feed.user_id)
        feed.revoked_at = clock.to_db(now)
        tracked.done()
        return True
    return write(work)


def feeds_of(user_id: int) -> list[tuple[CalendarFeed, str | None]]:
    """A user's live feeds, with the schedule's name (None: their own shifts)."""
    by_id = schedule_names()
    return [(f, by_id.get(f.schedule_id) if f.schedule_id else None) for f in db.session.execute(
        select(CalendarFeed).where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.id)).scalars()]


def feed_text(secret: str, now: float) -> str | None:
    """The iCalendar text of a live feed (None: unknown, revoked or its owner deactivated: the
    URL stops working)."""
    feed = db.session.execute(select(CalendarFeed).join(User, User.id == CalendarFeed.user_id).where(
        CalendarFeed.digest == _feed_digest(secret or ""), CalendarFeed.revoked_at.is_(None), User.active)).scalar()
    if feed is None:
        return None
    start, end = now - FEED_PAST, now + FEED_AHEAD
    names = people.names()
    if feed.schedule_id is not None:
        row = db.session.get(ScheduleRow, feed.schedule_id)
        if row is None:
            return None
        events = [(s.start, s.end, f"On call: {names.get(s.user, '?')} ({row.name})",
                   f"Schedule {row.name}, from {'an override' if s.source == 'override' else 'layer ' + s.source}")
                  for s in timeline(_engine_schedule(row, start, end), start, end)]
        return calendar(f"{row.name} on call", events, now)
    events = []
    for row in db.session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars():
        events += [(s.start, s.end, f"On call: {row.name}",
                    f"Schedule {row.name}, from {'an override' if s.source == 'override' else 'layer ' + s.source}")
                   for s in timeline(_engine_schedule(row, start, end), start, end) if s.user == feed.user_id]
    return calendar(f"{names.get(feed.user_id, 'my')} shifts", sorted(events), now)


# ---- the editor -------------------------------------------------------------------------------------

EXAMPLE = {"name": "primary", "time_zone": "Europe/Berlin",
           "layers": [{"name": "weekly", "users": ["you@example.com"], "start": "2026-12-07T09:00",
                       "shift": {"unit": "weeks", "count": 1}}], "overrides": []}


def document_of(schedule_id: int | None) -> str | None:
    """The schedule as the configuration document writes it (an example for a new one)."""
    if schedule_id is None:
        return json.dumps(EXAMPLE, indent=2)
    row = db.session.get(ScheduleRow, schedule_id)
    if row is None:
        return None
    found = next((d for d in export_all() if d["name"] == row.name), None)
    return json.dumps(found, indent=2, ensure_ascii=False)


def save_document(schedule_id: int | None, text: str, now: float) -> int | None:
    """Create or replace one schedule from its JSON (the document's ``schedules[]`` entry).

    :raises SpecError: the fault, with its path."""
    return _save(schedule_id, parse_document(text), now, replace_overrides=True)


def _save(schedule_id: int | None, doc, now: float, replace_overrides: bool) -> int | None:
    known = {u.email for u in db.session.execute(select(User)).scalars()}
    schedule = build_schedule(doc, "schedule", known)

    def work():
        clash, tracked = _row(schedule.name), audit.track("schedule", schedule_id)
        if schedule_id is not None:
            row = db.session.get(ScheduleRow, schedule_id)
            if row is None:
                return None
            if clash is not None and clash.id != schedule_id:
                raise SpecError("schedule.name", Say(
                        "a schedule called %(name)s exists already", name=repr(schedule.name)))
            row.name = schedule.name
        elif clash is not None:
            raise SpecError("schedule.name", Say("a schedule called %(name)s exists already", name=repr(schedule.name)))
        saved = save_all((schedule,), now, replace_overrides, path="schedule")[schedule.name]
        tracked.done(saved)
        return saved
    return write(work)


@dataclass
class Editor:
    """The schedule editor's form: the schedule's name and zone and its layers as text rows."""

    schedule_id: int | None
    name: str
    time_zone: str
    rows: list[LayerRow]
    users: list[str]  # the active users' emails, offered to type
    error: str | None = None
    saved: int | None = None  # the schedule's id once saved
    warning: str | None = None  # once saved: nobody is on call now (a start in the future)


def _emails() -> list[str]:
    return list(db.session.execute(select(User.email).where(User.active).order_by(User.email)).scalars())


def editor_of(schedule_id: int | None, viewer: str, viewer_zone: str, now: float) -> Editor | None:
    """The form for a schedule; for a new one, a weekly rotation of the viewer handing over on
    Mondays at 09:00 in the viewer's zone, from the last such handoff: someone is on call from
    the moment it is saved."""
    if schedule_id is None:
        here = local_of(now, zone(viewer_zone))
        monday = here.date() - timedelta(days=here.weekday())
        if datetime.combine(monday, time(9)) > here.replace(tzinfo=None):
            monday -= timedelta(days=7)
        doc = {"name": "", "time_zone": viewer_zone,
               "layers": [{"name": "weekly", "users": [viewer], "start": f"{monday.isoformat()}T09:00",
                           "shift": {"unit": "weeks", "count": 1}}]}
    else:
        row = db.session.get(ScheduleRow, schedule_id)
        if row is None:
            return None
        doc = next(d for d in export_all() if d["name"] == row.name)
    return Editor(schedule_id, doc["name"], doc["time_zone"], rows_of(doc), _emails())


def edit_with_form(schedule_id: int | None, form: dict, now: float) -> Editor | None:
    """Apply the form's ``action``: ``save`` checks and saves the layers (the overrides stay as
    they are); ``add``, ``remove-N`` and ``up-N`` change the rows and show the form again."""
    action = str(form.get("action") or "save")
    editor = Editor(schedule_id, str(form.get("name", "")), str(form.get("time_zone", "")),
                    rows_from_form(form, action), _emails())
    if action != "save":
        return editor
    try:
        saved = _save(schedule_id, document_of_rows(editor.name, editor.time_zone, editor.rows), now,
                      replace_overrides=False)
    except SpecError as exc:
        editor.error = Say("%(field)s: %(message)s", field=in_words(exc.path), message=exc.message)
        return editor
    if saved is None:
        return None
    editor.saved = saved
    editor.warning = nobody_until(saved, now)
    return editor


def nobody_until(schedule_id: int, now: float, days: int = 35) -> Say | None:
    """A warning when nobody is on call in the schedule now: until when (within ``days``)."""
    row = db.session.get(ScheduleRow, schedule_id)
    end = now + days * 86400
    shifts = timeline(_engine_schedule(row, now, end), now, end) if row is not None else []
    if shifts and shifts[0].start <= now:
        return None
    if not shifts:
        return Plural("Nobody is on call in this schedule now, nor in the next %(days)s day.",
                      "Nobody is on call in this schedule now, nor in the next %(days)s days.", days, days=days)
    return Say("Nobody is on call in this schedule until %(when)s: its first shift starts then.",
               when=datetime.fromtimestamp(shifts[0].start, zone(row.time_zone)).strftime("%Y-%m-%d %H:%M %Z"))


def delete_schedule(schedule_id: int) -> str | None:
    """Delete a schedule no policy targets. :raises SpecError: a policy still targets it."""
    def work():
        row = db.session.get(ScheduleRow, schedule_id)
        if row is None:
            return None
        name = row.name
        _delete(row)
        return name
    return write(audit.tracking("schedule", schedule_id, work))


def _delete(row: ScheduleRow) -> None:
    """:raises SpecError: a policy still targets it."""
    users_of = [p.name for p in db.session.execute(select(EscalationPolicy)).scalars()
                if any(t.get("schedule") == row.id for lv in p.levels for t in lv["targets"])]
    if users_of:
        raise SpecError("schedule", Say("policy %(value)s pages through it; change that first",
                                        value=', '.join(users_of)))
    db.session.delete(row)
    db.session.flush()


audit.revertible("schedule", schedule_doc, _apply_doc)
