"""Paging inside the incident change's transaction: the outbox rows and the escalation timer.

:class:`~callgoose.services.lifecycle.Changes` calls :func:`after_changes` from its
``finish()``, so a notification row commits together with the change that causes it, or
not at all (nothing is queued "after commit"). The escalation job calls
:func:`escalate_one` in its own transaction. What to page is decided by
:mod:`callgoose.engine.paging`; this module reads and writes the rows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from .. import clock
from ..channels import follow_up_names
from ..engine.lifecycle import URGENCY_RAISED, Action, Status
from ..engine.notes import Note
from ..engine.paging import (
    EVENTS,
    EscalationState,
    Kind,
    PersonalRule,
    Policy,
    ServicePaging,
    State,
    added_by_urgency,
    level_delay,
    next_step,
    plan_level,
)
from ..store.hotpath import Cursor, Sql, to_datetime
from . import schedules
from .snapshot import INCIDENT_SNAPSHOT, incident_object

INSERT_ESCALATION = Sql("""
    INSERT INTO incident_escalations (incident_id, policy, level, round, notified_at, next_at, state)
    VALUES (:incident_id, :policy, :level, 0, :now, :next_at, :state)
""")
INSERT_NOTIFICATION = Sql("""
    INSERT INTO notifications (delivery_id, incident_id, user_id, contact_method_id, webhook_id, kind, event,
        channel, target, level, body, status, queued_at, due_at, attempts)
    VALUES (:delivery_id, :incident_id, :user_id, :contact_method_id, :webhook_id, :kind, :event,
        :channel, :target, :level, :body, 'pending', :now, :due_at, 0)
""")
STOP_ESCALATION = Sql(f"""
    UPDATE incident_escalations SET state = '{EscalationState.STOPPED}', next_at = NULL
    WHERE incident_id = :id AND state = '{EscalationState.RUNNING}'
""")
RESTART_ESCALATION = Sql(f"""
    UPDATE incident_escalations SET state = '{EscalationState.RUNNING}', level = -1, round = 0, next_at = :now
    WHERE incident_id = :id
""")
ESCALATE_NOW = Sql(f"""
    UPDATE incident_escalations SET next_at = :now
    WHERE incident_id = :id AND state = '{EscalationState.RUNNING}'
""")
CANCEL_PAGES = Sql(f"""
    UPDATE notifications SET status = '{State.CANCELLED}', finished_at = :now, error = :why
    WHERE incident_id = :id AND status = '{State.PENDING}' AND kind = '{Kind.PAGE}'
""")
# Who hears "acknowledged by" and "resolved": the people paged (in a shadow run, those who
# would have been: their follow-ups are held in turn).
PAGED_USERS = Sql(f"""
    SELECT DISTINCT user_id FROM notifications
    WHERE incident_id = :id AND kind = '{Kind.PAGE}' AND user_id IS NOT NULL
      AND status IN ('{State.SENT}', '{State.SENDING}', '{State.UNKNOWN}', '{State.SHADOW}')
""")
WEBHOOKS_OF_INCIDENT = Sql("""
    SELECT w.id, w.url, w.events FROM service_webhooks w JOIN incidents i ON i.service_id = w.service_id
    WHERE i.id = :id ORDER BY w.id
""")
DUE_ESCALATIONS = Sql(f"""
    SELECT incident_id FROM incident_escalations
    WHERE state = '{EscalationState.RUNNING}' AND next_at <= :now ORDER BY next_at LIMIT :limit
""")
ESCALATION_OF = Sql(f"""
    SELECT e.policy, e.level, e.round, i.status, i.urgency
    FROM incident_escalations e JOIN incidents i ON i.id = e.incident_id
    WHERE e.incident_id = :id AND e.state = '{EscalationState.RUNNING}' AND e.next_at <= :now
""")
ADVANCE = Sql("""
    UPDATE incident_escalations SET level = :level, round = :round, notified_at = :now, next_at = :next_at
    WHERE incident_id = :id
""")
FINISH = Sql(f"""
    UPDATE incident_escalations SET state = '{EscalationState.FINISHED}', next_at = NULL WHERE incident_id = :id
""")
RUNNING_LEVEL = Sql(f"""
    SELECT policy, level, notified_at FROM incident_escalations
    WHERE incident_id = :id AND state = '{EscalationState.RUNNING}'
""")
STOPPED = Sql(f"UPDATE incident_escalations SET state = '{EscalationState.STOPPED}', next_at = NULL "
              "WHERE incident_id = :id")


@lru_cache(maxsize=64)
def _rules_sql(count: int) -> Sql:
    marks = ", ".join(f":u{i}" for i in range(count))
    return Sql(f"""
        SELECT r.user_id, r.contact_method_id, r.after_minutes, r.urgencies, m.channel, m.address,
            m.verified_at, u.email, coalesce(u.name, u.email)
        FROM notification_rules r JOIN contact_methods m ON m.id = r.contact_method_id
            JOIN users u ON u.id = r.user_id
        WHERE u.active AND r.user_id IN ({marks})
    """)


@lru_cache(maxsize=64)
def _follow_up_sql(count: int) -> Sql:
    marks = ", ".join(f":u{i}" for i in range(count))
    channels = ", ".join(f"'{c}'" for c in follow_up_names())
    return Sql(f"""
        SELECT DISTINCT m.user_id, m.id, m.channel, m.address
        FROM notification_rules r JOIN contact_methods m ON m.id = r.contact_method_id
            JOIN users u ON u.id = m.user_id
        WHERE u.active AND m.verified_at IS NOT NULL AND m.channel IN ({channels}) AND m.user_id IN ({marks})
    """)


def _user_params(users) -> dict:
    return {f"u{i}": u for i, u in enumerate(users)}


def notification(now_db, *, kind: str, channel: str, target: str, due_at=None, incident_id=None,
                 user_id=None, contact_method_id=None, webhook_id=None, event=None, level=None,
                 body=None) -> dict:
    """One outbox row's values (the ``pending`` state), for :data:`INSERT_NOTIFICATION`."""
    return {"delivery_id": str(uuid.uuid4()), "incident_id": incident_id, "user_id": user_id,
            "contact_method_id": contact_method_id, "webhook_id": webhook_id, "kind": str(kind),
            "event": event, "channel": channel, "target": target, "level": level,
            "body": None if body is None else json.dumps(body, ensure_ascii=False), "now": now_db,
            "due_at": due_at or now_db}


@dataclass
class Pending:
    """What a unit of changes asks of paging, gathered by ``Changes`` and written at ``finish``."""

    opened: list  # (incident_id, urgency, engine.paging.ServicePaging)
    acted: list  # (incident_id, Action, By, the service's webhook count or None: unknown)
    raised: list = field(default_factory=list)  # (incident_id, status, old urgency, new urgency, By)


def queue_events(cursor: Cursor, now_db, incident_id: int, event: str, webhooks: int | None = None) -> int:
    """Queue ``event`` for each webhook of the incident's service that subscribes to it, with a
    snapshot of the incident as it is now (the same body on every retry). ``webhooks``: how
    many the service has, when its cached spec says (0 reads nothing)."""
    if event not in EVENTS:
        raise ValueError(event)
    if webhooks == 0:
        return 0
    hooks = [row for row in cursor.execute(WEBHOOKS_OF_INCIDENT, {"id": incident_id}).fetchall()
             if event in row[2].split(",")]
    if not hooks:
        return 0
    snapshot = incident_object(cursor.execute(INCIDENT_SNAPSHOT, {"id": incident_id}).fetchone())
    cursor.executemany(INSERT_NOTIFICATION, [notification(
        now_db, kind=Kind.EVENT, channel="webhook", target=url, incident_id=incident_id, webhook_id=hook_id,
        event=event, body={"event": event, "incident": snapshot}) for hook_id, url, _events in hooks])
    return len(hooks)


def level_targets(cursor: Cursor, changes, now_db, incident_id: int, policy: Policy, level: int) -> tuple[int, ...]:
    """The users a level targets now: its users, and whoever is on call in its schedules
    (an empty schedule is a timeline entry: "nobody on call in <schedule>", unless ``changes``
    is None)."""
    lv = policy.levels[level]
    users = list(lv.users)
    for schedule_id in lv.schedules:
        name, on = schedules.on_call_ids(cursor, schedule_id, clock.from_db(now_db))
        if not on and changes is not None:
            changes.note(incident_id, "nobody_on_call", Note("nobody_on_call", schedule=name or f"#{schedule_id}"))
        users.extend(on)
    return tuple(dict.fromkeys(users))


def notify_level(cursor: Cursor, changes, now_db, incident_id: int, urgency: str, policy: Policy,
                 level: int) -> int | None:
    """Queue the notifications of one level: each target's verified rules for the urgency,
    each due after its own minutes. Targets nobody can reach are a timeline entry. None when
    the level targets nobody at this moment (its schedules are empty): the policy then moves
    on at once instead of waiting out the level's delay."""
    users = level_targets(cursor, changes, now_db, incident_id, policy, level)
    if not users:
        if not policy.levels[level].schedules:
            changes.note(incident_id, "unreachable", Note("no_targets", num=level + 1))
        return None
    rules, addresses, names = _personal_rules(cursor, users)
    plan = plan_level(users, urgency, rules)
    if plan.notifications:
        cursor.executemany(INSERT_NOTIFICATION, [notification(
            now_db, kind=Kind.PAGE, channel=p.channel, target=addresses[p.method_id], incident_id=incident_id,
            user_id=p.user_id, contact_method_id=p.method_id, level=level,
            due_at=now_db + timedelta(seconds=p.delay)) for p in plan.notifications])
    for user_id in plan.unreachable:
        who = names.get(user_id) or f"user {user_id}"
        changes.note(incident_id, "unreachable", Note("no_method", name=who, num=level + 1, urgency=urgency))
    return len(plan.notifications)


def _personal_rules(cursor: Cursor, users) -> tuple[list[PersonalRule], dict, dict]:
    """The users' notification rules, their methods' addresses, and the users' names."""
    rules, addresses, names = [], {}, {}
    for user_id, method_id, after, urgencies, channel, address, verified, _email, name in cursor.execute(
            _rules_sql(len(users)), _user_params(users)).fetchall():
        names[user_id] = name
        addresses[method_id] = address
        rules.append(PersonalRule(user_id, method_id, after, tuple(urgencies.split(",")), channel,
                                  verified is not None))
    return rules, addresses, names


def _page_raise(cursor: Cursor, now_db, incident_id: int, was: str, urgency: str) -> int | None:
    """A triggered incident whose urgency rose: the level paging it now pages what the new
    urgency adds (a rule for the new urgency only), each at its minutes after the level was
    notified (at once when they have passed). None when no level is paging it (no policy,
    finished, or about to page from the start, which uses the new urgency anyway)."""
    row = cursor.execute(RUNNING_LEVEL, {"id": incident_id}).fetchone()
    if row is None or row[1] < 0:
        return None
    policy, level, notified_at = Policy.from_json(row[0]), row[1], to_datetime(row[2])
    if level >= len(policy.levels):
        return None
    users = level_targets(cursor, None, now_db, incident_id, policy, level)
    if not users:
        return 0
    rules, addresses, _names = _personal_rules(cursor, users)
    added = added_by_urgency(users, rules, was, urgency)
    cursor.executemany(INSERT_NOTIFICATION, [notification(
        now_db, kind=Kind.PAGE, channel=p.channel, target=addresses[p.method_id], incident_id=incident_id,
        user_id=p.user_id, contact_method_id=p.method_id, level=level,
        due_at=max(now_db, notified_at + timedelta(seconds=p.delay))) for p in added])
    return len(added)


def _raised(cursor: Cursor, changes, incident_id: int, status: str, was: str, urgency: str, by) -> bool:
    queued = _page_raise(cursor, changes.now_db, incident_id, was, urgency) if status == Status.TRIGGERED.value else None
    changes.note(incident_id, URGENCY_RAISED, Note("urgency_changed", old=was, new=urgency, sent=queued), by)
    return bool(queued)


def _open(cursor: Cursor, changes, now_db, incident_id: int, urgency: str, service: ServicePaging) -> bool:
    if service.pages:
        policy = service.policy
        sent = notify_level(cursor, changes, now_db, incident_id, urgency, policy, 0)
        next_at = now_db if sent is None else now_db + timedelta(seconds=level_delay(policy, 0))
        cursor.execute(INSERT_ESCALATION, {"incident_id": incident_id, "policy": service.pinned, "level": 0,
                                           "now": now_db, "next_at": next_at,
                                           "state": str(EscalationState.RUNNING)})
    return queue_events(cursor, now_db, incident_id, "incident.triggered", service.webhooks) > 0 or service.pages


def _follow_ups(cursor: Cursor, now_db, incident_id: int, kind: Kind, actor: str | None,
                acting_user: int | None) -> int:
    """"Acknowledged by ..." and "resolved" to the people paged, by email and webhook only."""
    users = [row[0] for row in cursor.execute(PAGED_USERS, {"id": incident_id}).fetchall()
             if row[0] != acting_user]
    if not users:
        return 0
    methods = cursor.execute(_follow_up_sql(len(users)), _user_params(users)).fetchall()
    if methods:
        cursor.executemany(INSERT_NOTIFICATION, [notification(
            now_db, kind=kind, channel=channel, target=address, incident_id=incident_id, user_id=user_id,
            contact_method_id=method_id, body={"actor": actor}) for user_id, method_id, channel, address in methods])
    return len(methods)


def _acted(cursor: Cursor, now_db, incident_id: int, action: Action, by, webhooks: int | None) -> bool:
    if action in (Action.ACKNOWLEDGE, Action.RESOLVE):
        word = "acknowledged" if action is Action.ACKNOWLEDGE else "resolved"
        cursor.execute(STOP_ESCALATION, {"id": incident_id})
        cursor.execute(CANCEL_PAGES, {"id": incident_id, "now": now_db,
                                      "why": f"not sent: the incident was {word} first"})
        kind = Kind.ACKNOWLEDGED if action is Action.ACKNOWLEDGE else Kind.RESOLVED
        followed = _follow_ups(cursor, now_db, incident_id, kind, by.actor, by.user_id)
        return queue_events(cursor, now_db, incident_id, f"incident.{word}", webhooks) + followed > 0
    if action in (Action.UNACKNOWLEDGE, Action.SNOOZE_ENDED):
        # Back to triggered (by a person, or a snooze's time is up): the policy starts again
        # from its first level at the next tick.
        cursor.execute(RESTART_ESCALATION, {"id": incident_id, "now": now_db})
        return True
    return False


def after_changes(cursor: Cursor, changes, pending: Pending) -> bool:
    """Write what the unit's changes mean for paging, in its transaction; whether that queued
    anything for the worker (a notification, an escalation due): whether to wake it."""
    queued = False
    for incident_id, urgency, service in pending.opened:
        queued |= _open(cursor, changes, changes.now_db, incident_id, urgency, service)
    for incident_id, action, by, webhooks in pending.acted:
        queued |= _acted(cursor, changes.now_db, incident_id, action, by, webhooks)
    for incident_id, status, was, urgency, by in pending.raised:
        queued |= _raised(cursor, changes, incident_id, status, was, urgency, by)
    return queued


def escalate_now(cursor: Cursor, now_db, incident_id: int) -> bool:
    """Make the next level due at once (a phone keypress of 3); the worker notifies it."""
    return cursor.changed(ESCALATE_NOW, {"id": incident_id, "now": now_db}) == 1


def due_escalations(cursor: Cursor, now: float, limit: int = 200) -> list[int]:
    return [row[0] for row in cursor.execute(DUE_ESCALATIONS, {"now": clock.to_db(now), "limit": limit}).fetchall()]


def escalate_one(cursor: Cursor, changes, incident_id: int) -> str | None:
    """One due escalation step, in the caller's transaction: notify the next level, repeat the
    policy, or finish it. Returns what it did (None when it was no longer due)."""
    now_db = changes.now_db
    row = cursor.execute(ESCALATION_OF, {"id": incident_id, "now": now_db}).fetchone()
    if row is None:
        return None
    policy_doc, level, round_, status, urgency = row
    if status != Status.TRIGGERED.value:
        cursor.execute(STOPPED, {"id": incident_id})
        return "stopped"
    policy = Policy.from_json(policy_doc)
    step = next_step(policy, level, round_)
    if step is None or not policy.levels:
        cursor.execute(FINISH, {"id": incident_id})
        changes.note(incident_id, "exhausted", Note("exhausted"))
        return "finished"
    sent = notify_level(cursor, changes, now_db, incident_id, urgency, policy, step.level)
    delay = 0 if sent is None else level_delay(policy, step.level)  # nobody on call: on at once
    cursor.execute(ADVANCE, {"id": incident_id, "level": step.level, "round": step.round, "now": now_db,
                             "next_at": now_db + timedelta(seconds=delay)})
    sent = sent or 0
    restarted = level == -1
    changes.note(incident_id, "escalated", Note("paging_again" if restarted else "escalated", num=step.level + 1,
                                                repeat=step.round, sent=sent))
    if not restarted:
        queue_events(cursor, now_db, incident_id, "incident.escalated")
    return "escalated"
