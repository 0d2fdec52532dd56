"""The readiness check and the schedule notices, through the outbox.

- :func:`report`: what would page nobody in the next 14 days (the front page and /readiness),
  from the stored report while nothing it read has changed and it is under ten minutes old;
  :func:`refresh` (the worker, every five minutes) renews it.
- :func:`notify_gaps` (the worker, daily): a gap in a schedule that starts within a day is told
  to the schedule's people, once per gap and person.
- :func:`notify_handoffs` (the worker, every minute): the person whose shift starts is told,
  once per shift, unless they turned the notices off.

Notices go by email and webhook (the channels of follow-ups), to verified methods only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from sqlalchemy import select

from .. import clock
from ..engine.paging import FOLLOW_UP_CHANNELS, Kind, person_name
from ..engine.readiness import Finding, check, gaps
from ..engine.schedules import timeline
from ..engine.words import Moment, Say, from_data, to_data
from ..extensions import db
from ..store.hotpath import Sql, from_json, to_datetime
from ..store.models import (
    EscalationPolicy,
    Service,
    User,
)
from ..store.transactions import run_read, run_write, session_cursor, write
from . import oncall, people, schedules
from .paging import INSERT_NOTIFICATION, notification

DAY = 86400
HANDOFF_LOOKBACK = 15 * 60  # a worker that was away this long still tells a shift that just began
ALREADY_TOLD = Sql(f"SELECT 1 FROM notifications WHERE kind = '{Kind.NOTICE}' AND event = :key AND user_id = :user")
SCHEDULE_IDS = Sql("SELECT id FROM schedules ORDER BY id")


def _loaded(cursor, start: float, end: float) -> dict:
    return {row[0]: schedules.load(cursor, row[0], start, end) for row in cursor.execute(SCHEDULE_IDS).fetchall()}


FRESH = 600  # seconds a stored report is shown while nothing it read has changed
# What the check reads, in a few numbers: a schedule, policy or service saved (updated_at,
# version), an override, contact method, rule or user added, removed, verified or changed.
INPUTS = Sql("""
    SELECT (SELECT count(*) FROM schedules), (SELECT max(updated_at) FROM schedules),
           (SELECT count(*) FROM schedule_overrides), (SELECT max(id) FROM schedule_overrides),
           (SELECT count(*) FROM escalation_policies), (SELECT max(updated_at) FROM escalation_policies),
           (SELECT count(*) FROM services), (SELECT count(deleted_at) FROM services),
           (SELECT sum(version) FROM services),
           (SELECT count(*) FROM contact_methods), (SELECT max(id) FROM contact_methods),
           (SELECT count(verified_at) FROM contact_methods), (SELECT max(verified_at) FROM contact_methods),
           (SELECT count(*) FROM notification_rules), (SELECT max(id) FROM notification_rules),
           (SELECT sum(after_minutes + length(urgencies) + contact_method_id) FROM notification_rules),
           (SELECT count(*) FROM users), (SELECT max(id) FROM users),
           (SELECT sum(CASE WHEN active THEN 1 ELSE 0 END) FROM users),
           (SELECT sum(length(coalesce(name, ''))) FROM users)
""")
STORED = Sql("SELECT inputs, computed_at, findings FROM readiness_reports WHERE id = 1")
STORE = Sql("""
    INSERT INTO readiness_reports (id, inputs, computed_at, findings) VALUES (1, :inputs, :at, :findings)
    ON CONFLICT (id) DO UPDATE SET inputs = excluded.inputs, computed_at = excluded.computed_at,
                                   findings = excluded.findings
""")


def _inputs(cursor) -> str:
    return _key("inputs", *cursor.execute(INPUTS).fetchone())


def _check(cursor, now: float) -> list[Finding]:
    loaded = _loaded(cursor, now, now + 15 * DAY)
    policies = [oncall.policy_of(p) for p in db.session.execute(
        select(EscalationPolicy).order_by(EscalationPolicy.name)).scalars()]
    services = [(s.name, s.escalation_policy_id is not None)
                for s in db.session.execute(select(Service).where(Service.live()).order_by(Service.name)).scalars()]
    names = people.names()
    return check(now, loaded, policies, oncall.reachable_users(), services, lambda u: person_name(names, u))


def _store(now: float, inputs: str, findings: list[Finding]) -> None:
    body = json.dumps([{**asdict(f), "text": to_data(f.text)} for f in findings])
    write(lambda: session_cursor().execute(STORE, {"inputs": inputs, "at": clock.to_db(now), "findings": body}))


def report(now: float) -> list[Finding]:
    """What would page nobody in the next 14 days: the stored report while it is fresh and what
    it read is unchanged, else a new check (stored for the next reader)."""
    cursor = session_cursor()
    inputs = _inputs(cursor)
    stored = cursor.execute(STORED).fetchone()
    if stored is not None and stored[0] == inputs and now - FRESH <= clock.from_db(to_datetime(stored[1])) <= now:
        return [Finding(**{**f, "users": tuple(f["users"]), "text": from_data(f["text"])})
                for f in from_json(stored[2])]
    findings = _check(cursor, now)
    _store(now, inputs, findings)
    return findings


def refresh(now: float) -> int:
    """Check again and store the result (the worker, every few minutes); return the findings."""
    findings = _check(session_cursor(), now)
    _store(now, _inputs(session_cursor()), findings)
    return len(findings)


NOTICE_METHODS = Sql(f"""
    SELECT m.id, m.channel, m.address FROM contact_methods m JOIN users u ON u.id = m.user_id
    WHERE m.user_id = :user AND u.active AND m.verified_at IS NOT NULL
      AND m.channel IN ({", ".join(f"'{c}'" for c in FOLLOW_UP_CHANNELS)}) ORDER BY m.id
""")


def _key(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:28]


def _when(epoch: float, zone: str) -> Moment:
    return Moment(epoch, zone)


def _queue(cursor, now: float, told: list[tuple[int, str, str]]) -> int:
    """Queue each (user, dedupe key, text) notice once, to the user's email and webhook methods."""
    by_user = {user_id: cursor.execute(NOTICE_METHODS, {"user": user_id}).fetchall()
               for user_id in {u for u, _, _ in told}}
    queued = 0
    for user_id, key, text in told:
        if cursor.execute(ALREADY_TOLD, {"key": key, "user": user_id}).fetchone():
            continue
        for method_id, channel, address in by_user.get(user_id, []):
            cursor.execute(INSERT_NOTIFICATION, notification(
                clock.to_db(now), kind=Kind.NOTICE, channel=channel, target=address, user_id=user_id,
                contact_method_id=method_id, event=key, body={"text": text, "say": to_data(text)}))
            queued += 1
    return queued


def notify_gaps(engine, now: float) -> int:
    """Tell the schedule's people about each gap that begins within the next day."""
    def work(cursor):
        told = []
        for schedule in _loaded(cursor, now, now + 15 * DAY).values():
            people = [u for layer in schedule.layers for u in layer.users] + [o.user for o in schedule.overrides]
            for start, end in gaps(schedule, now, now + 15 * DAY):  # the whole gap, as far as the check looks
                if start >= now + DAY:
                    continue
                text = Say("Nobody is on call in %(schedule)s from %(start)s until %(end)s\nA level that targets "
                           "%(schedule)s moves on at once then. Add an override on the schedule's page to cover it.",
                           schedule=schedule.name, start=_when(start, schedule.time_zone),
                           end=_when(end, schedule.time_zone))
                told += [(u, _key("gap", schedule.name, start), text) for u in dict.fromkeys(people)]
        return _queue(cursor, now, told)
    return run_write(engine, work)


def notify_handoffs(engine, now: float) -> int:
    """Tell each person whose shift began in the last minutes (once per shift)."""
    opted_out = set(run_read(engine, lambda c: [r[0] for r in c.execute(
        Sql("SELECT id FROM users WHERE NOT handoff_notices")).fetchall()]))

    def work(cursor):
        told = []
        for schedule in _loaded(cursor, now - HANDOFF_LOOKBACK - DAY, now + 60 * DAY).values():
            shifts = timeline(schedule, now - HANDOFF_LOOKBACK - 60, now + 1)
            for before, shift in zip([None] + shifts, shifts):
                began = shift.start > now - HANDOFF_LOOKBACK and shift.start <= now
                continued = before is not None and before.user == shift.user and before.end == shift.start
                if not began or continued or shift.user in opted_out:
                    continue
                whole = next((s for s in timeline(schedule, shift.start, shift.start + 60 * 86400)), shift)
                text = Say("You are on call in %(schedule)s from %(start)s until %(end)s\nTurn these notices off on "
                           "My notifications.", schedule=schedule.name, start=_when(shift.start, schedule.time_zone),
                           end=_when(whole.end, schedule.time_zone))
                told.append((shift.user, _key("handoff", schedule.name, shift.user, shift.start), text))
        return _queue(cursor, now, told)
    return run_write(engine, work)


def set_handoff_notices(user_id: int, on: bool) -> bool:
    def work():
        user = db.session.get(User, user_id)
        if user is None:
            return False
        user.handoff_notices = on
        return True
    return write(work)

