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

from .. import clock
from ..channels import follow_up_names
from ..engine.paging import Kind, PersonalRule, Policy, person_name
from ..engine.readiness import Finding, check, gaps, slow_for_targets
from ..engine.schedules import on_call, timeline, until
from ..engine.words import Moment, Say, from_data, to_data
from ..extensions import db
from ..store.hotpath import Sql, from_json, to_datetime
from ..store.models import User
from ..store.transactions import run_read, run_write, session_cursor, write
from . import audit, priorities, schedules
from .paging import INSERT_NOTIFICATION, notification

DAY = 86400
HANDOFF_LOOKBACK = 15 * 60  # a worker that was away this long still tells a shift that just began
ALREADY_TOLD = Sql(f"SELECT 1 FROM notifications WHERE kind = '{Kind.NOTICE}' AND event = :key AND user_id = :user")
SCHEDULE_IDS = Sql("SELECT id FROM schedules ORDER BY id")


def _rows(cursor, start: float, end: float) -> dict:
    """Every schedule's rows as read (parsed by :func:`_built` once the read lock is let go)."""
    return {row[0]: schedules.load_rows(cursor, row[0], start, end)
            for row in cursor.execute(SCHEDULE_IDS).fetchall()}


def _built(rows: dict) -> dict:
    return {sid: schedules.build(r) for sid, r in rows.items() if r is not None}


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


POLICIES = Sql("SELECT name, repeat, levels FROM escalation_policies ORDER BY name")
USED_POLICIES = Sql("SELECT DISTINCT escalation_policy_id FROM services WHERE deleted_at IS NULL "
                    "AND escalation_policy_id IS NOT NULL")
POLICY_IDS = Sql("SELECT id, name FROM escalation_policies")
RULES = Sql("""
    SELECT r.user_id, r.contact_method_id, r.after_minutes, r.urgencies, m.channel, m.verified_at IS NOT NULL
    FROM notification_rules r JOIN contact_methods m ON m.id = r.contact_method_id JOIN users u ON u.id = r.user_id
    WHERE u.active
""")
LIVE_SERVICES = Sql("SELECT name, escalation_policy_id FROM services WHERE deleted_at IS NULL ORDER BY name")
NAMES = Sql("SELECT id, name, email FROM users")
REACHABLE = Sql("""
    SELECT DISTINCT r.user_id FROM notification_rules r JOIN contact_methods m ON m.id = r.contact_method_id
    JOIN users u ON u.id = r.user_id WHERE m.verified_at IS NOT NULL AND u.active
""")


def _inputs_of_check(cursor, now: float) -> tuple:
    """What the check reads, on any cursor (the worker has no application context)."""
    loaded = _rows(cursor, now, now + 15 * DAY)  # built by the caller, after the read
    policies = [Policy.from_json({"name": n, "repeat": r, "levels": from_json(lv)})
                for n, r, lv in cursor.execute(POLICIES).fetchall()]
    services = [(name, policy is not None) for name, policy in cursor.execute(LIVE_SERVICES).fetchall()]
    names = {i: name or email for i, name, email in cursor.execute(NAMES).fetchall()}
    reachable = {row[0] for row in cursor.execute(REACHABLE).fetchall()}
    used = {row[0] for row in cursor.execute(USED_POLICIES).fetchall()}
    used = {name for pid, name in cursor.execute(POLICY_IDS).fetchall() if pid in used}
    rules = [PersonalRule(u, m, after, tuple(urgencies.split(",")), channel, bool(verified))
             for u, m, after, urgencies, channel, verified in cursor.execute(RULES).fetchall()]
    targets = (used, rules, priorities.by_code_cursor(cursor))
    return loaded, policies, reachable, services, names, targets


def _findings(now: float, inputs: tuple) -> list[Finding]:
    """The check over what :func:`_inputs_of_check` read, outside any transaction."""
    loaded, policies, reachable, services, names, (used, rules, table) = inputs
    built = _built(loaded)
    findings = check(now, built, policies, reachable, services, lambda u: person_name(names, u))

    def who(schedule_id: int, instant: float) -> tuple:
        return on_call(built[schedule_id], instant).users if schedule_id in built else ()
    return findings + slow_for_targets(now, [p for p in policies if p.name in used], table.values(), rules, who)


def _check(cursor, now: float) -> list[Finding]:
    return _findings(now, _inputs_of_check(cursor, now))


def _stored(now: float, inputs: str, findings: list[Finding]) -> dict:
    body = json.dumps([{**asdict(f), "text": to_data(f.text)} for f in findings])
    return {"inputs": inputs, "at": clock.to_db(now), "findings": body}


def _store(now: float, inputs: str, findings: list[Finding]) -> None:
    row = _stored(now, inputs, findings)
    write(lambda: session_cursor().execute(STORE, row))


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


def refresh(engine, now: float) -> int:
    """Check again and store the result (the worker, every few minutes, with no application
    context): read, check outside any transaction, then one short write; return the findings."""
    # Read under the process's read lock (hot path reads queue on it), check after it is let go.
    inputs, read = run_read(engine, lambda c: (_inputs(c), _inputs_of_check(c, now)))
    findings = _findings(now, read)
    run_write(engine, lambda c: c.execute(STORE, _stored(now, inputs, findings)))
    return len(findings)


NOTICE_METHODS = Sql(f"""
    SELECT m.id, m.channel, m.address FROM contact_methods m JOIN users u ON u.id = m.user_id
    WHERE m.user_id = :user AND u.active AND m.verified_at IS NOT NULL
      AND m.channel IN ({", ".join(f"'{c}'" for c in follow_up_names())}) ORDER BY m.id
""")


def _key(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:28]


def _when(epoch: float, zone: str) -> Moment:
    return Moment(epoch, zone)


def _untold(engine, told: list[tuple[int, str, object]]) -> list[tuple[int, str, object]]:
    """The notices not yet queued (read before anything is computed for them)."""
    def work(cursor):
        return [t for t in told if not cursor.execute(ALREADY_TOLD, {"key": t[1], "user": t[0]}).fetchone()]
    return run_read(engine, work) if told else []


def _queue(engine, now: float, told: list[tuple[int, str, Say]]) -> int:
    """Queue each (user, dedupe key, text) notice once, to the user's email and webhook methods:
    the methods are read first, then one short write (which checks again: another worker may
    have told the same shift meanwhile)."""
    if not told:
        return 0
    by_user = run_read(engine, lambda c: {user_id: c.execute(NOTICE_METHODS, {"user": user_id}).fetchall()
                                          for user_id in {u for u, _, _ in told}})

    def work(cursor):
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
    return run_write(engine, work)


def notify_gaps(engine, now: float) -> int:
    """Tell the schedule's people about each gap that begins within the next day: read, find
    the gaps outside any transaction, then queue what was not told yet in one short write."""
    told = []
    for schedule in _built(run_read(engine, lambda c: _rows(c, now, now + 15 * DAY))).values():
        people = [u for layer in schedule.layers for u in layer.users] + [o.user for o in schedule.overrides]
        for start, end in gaps(schedule, now, now + 15 * DAY):  # the whole gap, as far as the check looks
            if start >= now + DAY:
                break
            text = Say("Nobody is on call in %(schedule)s from %(start)s until %(end)s\nA level that targets "
                       "%(schedule)s moves on at once then. Add an override on the schedule's page to cover it.",
                       schedule=schedule.name, start=_when(start, schedule.time_zone),
                       end=_when(end, schedule.time_zone))
            told += [(u, _key("gap", schedule.name, start), text) for u in dict.fromkeys(people)]
    return _queue(engine, now, _untold(engine, told))


HANDOFF_HORIZON = 60 * DAY  # how far the end of a shift that began is looked for


def notify_handoffs(engine, now: float) -> int:
    """Tell each person whose shift began in the last minutes (once per shift). The shifts that
    began come from a quarter of an hour of each rota; the told ones are dropped before the end
    of a shift is looked for (within a bounded horizon); then one short write queues the rest."""
    def read(cursor):
        opted_out = {r[0] for r in cursor.execute(Sql("SELECT id FROM users WHERE NOT handoff_notices")).fetchall()}
        return opted_out, _rows(cursor, now - HANDOFF_LOOKBACK - DAY, now + HANDOFF_HORIZON)
    opted_out, rows = run_read(engine, read)
    loaded = _built(rows)
    began = []
    for schedule in loaded.values():
        shifts = timeline(schedule, now - HANDOFF_LOOKBACK - 60, now + 1)
        for before, shift in zip([None] + shifts, shifts):
            started = shift.start > now - HANDOFF_LOOKBACK and shift.start <= now
            continued = before is not None and before.user == shift.user and before.end == shift.start
            if started and not continued and shift.user not in opted_out:
                began.append((shift.user, _key("handoff", schedule.name, shift.user, shift.start), (schedule, shift)))
    told = []
    for user, key, (schedule, shift) in _untold(engine, began):
        end = until(schedule, shift.start, HANDOFF_HORIZON) or shift.start + HANDOFF_HORIZON
        told.append((user, key, Say("You are on call in %(schedule)s from %(start)s until %(end)s\nTurn these "
                                    "notices off on My notifications.", schedule=schedule.name,
                                    start=_when(shift.start, schedule.time_zone), end=_when(end, schedule.time_zone))))
    return _queue(engine, now, told)


def set_handoff_notices(user_id: int, on: bool) -> bool:
    def work():
        user = db.session.get(User, user_id)
        if user is None:
            return False
        user.handoff_notices = on
        return True
    return write(audit.tracking("user", user_id, work))

