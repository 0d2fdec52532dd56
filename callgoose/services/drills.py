"""Fire drills (issue 17, item 6): start due drills, end their runs with a report, and the
admins' Drills page.

A run is an incident on the hidden drill service, opened through the one change path with a
policy of one level that targets only the drill's person (or whoever is on call in its
schedule at that moment), so it pages through their own notification rules exactly as a
level would, and nobody else: the level has no successor and no repeat. The drill service is
a ``services`` row that is never live (``deleted_at`` is set when it is made, and its name has
a space, which no service of a person may have): no call, token, list, export or readiness
check reaches it. The job reads, computes, then writes each start or end briefly.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from .. import channels, clock
from ..engine import SpecError, mapping_key
from ..engine.drills import DRILL_MINUTES, Delivery, Recurrence, Report, build, report
from ..engine.lifecycle import ACTIVE, Action, Status
from ..engine.notes import Note
from ..engine.paging import Kind, Level, Policy, ServicePaging
from ..engine.words import Say
from ..extensions import db
from ..store.hotpath import Cursor, Sql, to_datetime
from ..store.models import Drill, DrillRun, User
from ..store.models import Schedule as ScheduleRow
from ..store.transactions import run_read, run_write, session_cursor, write
from .actions import via_words
from .lifecycle import By, Changes

SERVICE_NAME = "fire drill"  # a space: engine.config refuses it for any other service
TITLE = "Fire drill: please acknowledge"
BY = By(actor="fire drill")
LATE_SECONDS = 3600  # a run missed by more than this (the worker was down) is skipped, not run late
BATCH = 50

DRILL_SERVICE = Sql("SELECT id FROM services WHERE name = :name AND deleted_at IS NOT NULL ORDER BY id LIMIT 1")
MAKE_DRILL_SERVICE = Sql("""
    INSERT INTO services (name, enabled, version, created_at, deleted_at)
    VALUES (:name, :enabled, 1, :now, :now) RETURNING id
""")
DUE = Sql("SELECT id, schedule_id, user_id, weekday, week, at_time, time_zone, next_at FROM drills "
          "WHERE enabled AND next_at <= :now ORDER BY next_at LIMIT :n")
CLAIM = Sql("UPDATE drills SET next_at = :next WHERE id = :id AND next_at = :seen")
TARGET = Sql("SELECT schedule_id, user_id FROM drills WHERE id = :id")
INSERT_RUN = Sql("INSERT INTO drill_runs (drill_id, started_at, deadline_at) VALUES (:drill, :now, :deadline) "
                 "RETURNING id")
SET_INCIDENT = Sql("UPDATE drill_runs SET incident_id = :incident WHERE id = :id")
OPEN_RUNS = Sql("""
    SELECT r.id, r.incident_id, r.started_at, r.deadline_at, i.status, i.acknowledged_at
    FROM drill_runs r LEFT JOIN incidents i ON i.id = r.incident_id
    WHERE r.finished_at IS NULL ORDER BY r.id LIMIT :n
""")
PAGES = Sql(f"SELECT channel, status, queued_at, sent_at, error, attempts FROM notifications "
            f"WHERE incident_id = :id AND kind = '{Kind.PAGE}' ORDER BY id")
ACKNOWLEDGER = Sql("SELECT actor FROM incident_events WHERE incident_id = :id AND kind = 'acknowledged' "
                   "ORDER BY at, id LIMIT 1")
STATUS = Sql("SELECT status FROM incidents WHERE id = :id")
FINISH = Sql("UPDATE drill_runs SET finished_at = :now, report = :report WHERE id = :id AND finished_at IS NULL")


def _drill_service(cursor: Cursor, now_db) -> int:
    """The hidden service drill incidents open on, made the first time it is needed."""
    row = cursor.execute(DRILL_SERVICE, {"name": SERVICE_NAME}).fetchone()
    if row is not None:
        return row[0]
    return cursor.execute(MAKE_DRILL_SERVICE, {"name": SERVICE_NAME, "enabled": False, "now": now_db}).fetchone()[0]


def drill_policy(schedule_id: int | None, user_id: int | None) -> Policy:
    """One level, the drill's person or schedule, for as long as a drill lasts; no repeat, no
    next level: it can page nobody else."""
    return Policy("fire drill", 0, (Level(DRILL_MINUTES, (user_id,) if user_id else (),
                                          (schedule_id,) if schedule_id else ()),))


def start(cursor: Cursor, drill_id: int, schedule_id: int | None, user_id: int | None, now: float) -> int:
    """Open a run's incident and page its level, in the caller's transaction; the run's id."""
    now_db = clock.to_db(now)
    run_id = cursor.execute(INSERT_RUN, {"drill": drill_id, "now": now_db,
                                         "deadline": now_db + timedelta(minutes=DRILL_MINUTES)}).fetchone()[0]
    value = f"fire drill {drill_id}, run {run_id}"
    changes = Changes(cursor, now_db)
    incident_id, _ = changes.open_or_repeat({
        "service_id": _drill_service(cursor, now_db), "title": TITLE,
        "description": (f"A fire drill: nothing is wrong. Acknowledge it the way you would a real page; it "
                        f"resolves itself then, or after {DRILL_MINUTES} minutes, and pages nobody else."),
        "payload_digest": None, "urgency": "high", "mapping_value": value, "mapping_key": mapping_key(value),
        "rule_id": None}, BY, ServicePaging(drill_policy(schedule_id, user_id)))
    cursor.execute(SET_INCIDENT, {"incident": incident_id, "id": run_id})
    changes.finish()
    return run_id


def _start_due(engine, now: float, keep_alive) -> int:
    started = 0
    for drill_id, schedule_id, user_id, weekday, week, at_time, zone, seen in run_read(
            engine, lambda c: c.execute(DUE, {"now": clock.to_db(now), "n": BATCH}).fetchall()):
        seen = to_datetime(seen)
        upcoming = build(weekday, week, at_time, zone).next_after(now)
        late = now - clock.from_db(seen) > LATE_SECONDS

        def work(cursor, drill_id=drill_id, seen=seen, upcoming=upcoming, late=late, schedule_id=schedule_id,
                 user_id=user_id) -> bool:
            if not cursor.changed(CLAIM, {"id": drill_id, "seen": seen, "next": clock.to_db(upcoming)}):
                return False  # another process took it
            if late:
                return False
            start(cursor, drill_id, schedule_id, user_id, now)
            return True
        started += run_write(engine, work)
        keep_alive()
    return started


def _acted_through(actor: str | None) -> str | None:
    """The channel an acknowledgement came through, from its timeline entry ("ana@… (mail link)")."""
    if not actor:
        return None
    return next((name for name in channels.REGISTRY if actor.endswith(f"({via_words(name)})")), None)


def _report(cursor: Cursor, incident_id: int | None, started_at: float, acknowledged_at) -> Report:
    if incident_id is None:
        return Report(paged=False)
    pages = [Delivery(channel, status, clock.from_db(to_datetime(queued)), clock.from_db(to_datetime(sent)),
                      error, attempts)
             for channel, status, queued, sent, error, attempts in cursor.execute(PAGES, {"id": incident_id})]
    actor = cursor.execute(ACKNOWLEDGER, {"id": incident_id}).fetchone()
    return report(started_at, pages, clock.from_db(to_datetime(acknowledged_at)),
                  _acted_through(actor[0] if actor else None))


def _end_runs(engine, now: float, keep_alive) -> int:
    """Runs whose incident was acknowledged (or resolved) or whose time is up: their report,
    then the incident resolved, if it is still open."""
    ended = 0
    for run_id, incident_id, started, deadline, status, acked in run_read(
            engine, lambda c: c.execute(OPEN_RUNS, {"n": BATCH}).fetchall()):
        if status == Status.TRIGGERED.value and clock.from_db(to_datetime(deadline)) > now:
            continue
        found = run_read(engine, lambda c, i=incident_id, s=started, a=acked: _report(
            c, i, clock.from_db(to_datetime(s)), a))

        def work(cursor, run_id=run_id, incident_id=incident_id, status=status, found=found) -> bool:
            now_status = cursor.execute(STATUS, {"id": incident_id}).fetchone() if incident_id else None
            if (now_status[0] if now_status else None) != status:
                return False  # it changed meanwhile: the next run of the job reads it again
            if not cursor.changed(FINISH, {"id": run_id, "now": clock.to_db(now),
                                           "report": json.dumps(found.to_json())}):
                return False
            if status in ACTIVE:
                changes = Changes(cursor, clock.to_db(now))
                changes.apply(Action.RESOLVE, BY, incident_id=incident_id,
                              note=Note("drill_acknowledged") if found.acknowledged else Note("drill_time_up"))
                changes.finish()
            return True
        ended += run_write(engine, work)
        keep_alive()
    return ended


def run_due(engine, now: float, keep_alive=lambda: None) -> Counter:
    """The drills job: start the drills that are due, end the runs that are done."""
    done = Counter(started=_start_due(engine, now, keep_alive), ended=_end_runs(engine, now, keep_alive))
    return +done


# ---- the Drills page ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    drill: Drill
    target: str  # the schedule's name, or the person
    recurrence: Recurrence
    runs: list = field(default_factory=list)  # (DrillRun, Report | None)


@dataclass(frozen=True)
class Screen:
    drills: list[Row]
    schedules: list  # (id, name)
    people: list  # (id, email)


def screen() -> Screen:
    """Every drill with its last five runs and their reports, and the form's choices."""
    schedules = db.session.execute(select(ScheduleRow.id, ScheduleRow.name).order_by(ScheduleRow.name)).all()
    people = db.session.execute(select(User.id, User.email).where(User.active).order_by(User.email)).all()
    names = {**{("s", i): n for i, n in schedules}, **{("u", i): e for i, e in people}}
    drills = list(db.session.execute(select(Drill).order_by(Drill.id)).scalars())
    runs: dict[int, list] = {}
    if drills:
        for run in db.session.execute(select(DrillRun).where(DrillRun.drill_id.in_([d.id for d in drills]))
                                      .order_by(DrillRun.started_at.desc(), DrillRun.id.desc())).scalars():
            if len(runs.setdefault(run.drill_id, [])) < 5:
                runs[run.drill_id].append((run, Report.from_json(run.report) if run.report else None))
    rows = [Row(d, names.get(("s", d.schedule_id) if d.schedule_id else ("u", d.user_id), "?"),
                build(d.weekday, d.week, d.at_time, d.time_zone), runs.get(d.id, [])) for d in drills]
    return Screen(rows, schedules, people)


def add(target: str, weekday, week, at: str, time_zone: str, created_by: int, now: float) -> Drill:
    """A new drill for ``target`` (``schedule:<id>`` or ``user:<id>``).

    :raises SpecError: the field at fault."""
    recurrence = build(weekday, week, at, time_zone)
    kind, _, number = (target or "").partition(":")
    model = {"schedule": ScheduleRow, "user": User}.get(kind)

    def work() -> Drill:
        if model is None or not number.isdigit() or db.session.get(model, int(number)) is None:
            raise SpecError("target", Say("must be a schedule or a person"))
        drill = Drill(schedule_id=int(number) if kind == "schedule" else None,
                      user_id=int(number) if kind == "user" else None, weekday=recurrence.weekday,
                      week=recurrence.week, at_time=f"{recurrence.at:%H:%M}", time_zone=recurrence.time_zone,
                      next_at=clock.to_db(recurrence.next_after(now)), enabled=True, created_by=created_by,
                      created_at=clock.to_db(now))
        db.session.add(drill)
        return drill
    return write(work)


def _end_open_runs(drill_id: int, now: float) -> None:
    """Resolve the incidents of a drill's unfinished runs (inside the caller's write)."""
    cursor = session_cursor()
    changes = Changes(cursor, clock.to_db(now))
    for run in db.session.execute(select(DrillRun).where(DrillRun.drill_id == drill_id,
                                                         DrillRun.finished_at.is_(None))).scalars():
        if run.incident_id is not None:
            changes.apply(Action.RESOLVE, BY, incident_id=run.incident_id, note=Note("drill_deleted"))
    changes.finish()


def delete(drill_id: int, now: float) -> bool:
    """Delete a drill with its runs' reports; an unfinished run's incident is resolved first
    (nothing else would). False when there is no such drill."""
    def work() -> bool:
        drill = db.session.get(Drill, drill_id)
        if drill is None:
            return False
        _end_open_runs(drill_id, now)
        db.session.delete(drill)
        return True
    return write(work)


def run_now(drill_id: int, now: float) -> int | None:
    """Start a run of a drill at once ("Run now"); its incident's id, or None: no such drill."""
    def work() -> int | None:
        cursor = session_cursor()
        row = cursor.execute(TARGET, {"id": drill_id}).fetchone()
        if row is None:
            return None
        run_id = start(cursor, drill_id, row[0], row[1], now)
        return db.session.get(DrillRun, run_id).incident_id
    return write(work)


def run_of_incident(incident_id: int) -> DrillRun | None:
    """The drill run an incident belongs to (the incident page shows it as a drill)."""
    return db.session.execute(select(DrillRun).where(DrillRun.incident_id == incident_id)).scalar()


__all__ = ["DRILL_MINUTES", "SERVICE_NAME", "TITLE", "add", "delete", "run_due", "run_now", "screen"]
