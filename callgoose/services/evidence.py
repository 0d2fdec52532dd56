"""Escalate on evidence, not only on the clock (issue 17, item 4).

A provider reports what became of a page once it was sent: a call answered or not, an SMS
delivered or not, a Pushover emergency that expired unacknowledged. These functions are
channel-neutral (a notification id and what happened): each records the answer on the
message's ledger rows once (the first report wins, so a provider's retry changes nothing),
and a page nobody took moves its person on to their next notification rule at once, in one
short write transaction. A person's rules still say "if not acknowledged within N minutes";
this only brings the next one forward when the evidence says the last did not reach them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from .. import channels, clock
from ..engine.lifecycle import Status
from ..engine.notes import Note
from ..engine.paging import Kind, State
from ..extensions import db
from ..store.hotpath import Cursor, Sql
from ..store.transactions import run_read, run_write
from .lifecycle import Changes

ANSWERED = "answered"
DELIVERED = "delivered"
# What a provider says when a page did not reach its person (stored as the answer).
NOT_ANSWERED = ("no-answer", "busy", "failed", "canceled", "undelivered", "expired")

_MESSAGE = "(id = :lead OR bundle_of = :lead)"
RECORD = Sql(f"""
    UPDATE notifications SET answer = :answer WHERE {_MESSAGE} AND answer IS NULL
    AND EXISTS (SELECT 1 FROM notifications l WHERE l.id = :lead AND l.answer IS NULL)
""")
LEAD = Sql("SELECT n.kind, n.user_id, n.channel, u.name, u.email FROM notifications n "
           "LEFT JOIN users u ON u.id = n.user_id WHERE n.id = :lead")
# The incidents the message carried that still wait for someone.
WAITING = Sql(f"""
    SELECT DISTINCT n.incident_id FROM notifications n JOIN incidents i ON i.id = n.incident_id
    WHERE (n.id = :lead OR n.bundle_of = :lead) AND i.status = '{Status.TRIGGERED.value}'
""")
# For each of those incidents, the person's earliest page still waiting for its minutes
# becomes due now: their next notification rule, at once.
MOVE_ON = Sql(f"""
    UPDATE notifications SET due_at = :now
    WHERE kind = '{Kind.PAGE.value}' AND status = '{State.PENDING.value}' AND user_id = :user AND due_at > :now
    AND incident_id IN (
        SELECT n.incident_id FROM notifications n JOIN incidents i ON i.id = n.incident_id
        WHERE (n.id = :lead OR n.bundle_of = :lead) AND i.status = '{Status.TRIGGERED.value}')
    AND due_at = (
        SELECT min(m.due_at) FROM notifications m
        WHERE m.kind = '{Kind.PAGE.value}' AND m.status = '{State.PENDING.value}' AND m.user_id = :user
        AND m.incident_id = notifications.incident_id AND m.due_at > :now)
    RETURNING incident_id
""")
BUMP_INCIDENTS = Sql(f"""
    UPDATE incidents SET version = version + 1
    WHERE id IN (SELECT incident_id FROM notifications WHERE {_MESSAGE} AND incident_id IS NOT NULL)
""")


@dataclass(frozen=True)
class Evidence:
    """What recording a report did: ``recorded`` (False: no such notification, or it had an
    answer already), and the incidents whose next notification became due now."""

    recorded: bool
    moved: tuple[int, ...] = ()


def answered(notification_id: int, now: float, engine: Engine | None = None) -> Evidence:
    """A call was answered (or a message read): the ledger says so; no timing changes."""
    return _record(notification_id, ANSWERED, now, engine)


def delivered(notification_id: int, now: float, engine: Engine | None = None) -> Evidence:
    """A message reached the phone: the ledger says so; no timing changes."""
    return _record(notification_id, DELIVERED, now, engine)


def not_answered(notification_id: int, reason: str, now: float, engine: Engine | None = None) -> Evidence:
    """A page did not reach its person (``reason``: the provider's word, e.g. ``no-answer``):
    recorded, and while an incident it carried is still triggered, that person's next
    notification rule for it is due now; its timeline says so."""
    return _record(notification_id, reason[:16] or "failed", now, engine, move_on=True)


def _record(notification_id: int, answer: str, now: float, engine: Engine | None, move_on: bool = False) -> Evidence:
    now_db = clock.to_db(now)

    def work(cursor: Cursor) -> Evidence:
        if cursor.changed(RECORD, {"lead": notification_id, "answer": answer}) < 1:
            return Evidence(False)
        cursor.execute(BUMP_INCIDENTS, {"lead": notification_id})
        kind, user_id, channel, name, email = cursor.execute(LEAD, {"lead": notification_id}).fetchone()
        if not move_on or kind != Kind.PAGE.value or user_id is None:
            return Evidence(True)
        waiting = [row[0] for row in cursor.execute(WAITING, {"lead": notification_id}).fetchall()]
        moved = sorted({row[0] for row in cursor.execute(MOVE_ON, {
            "lead": notification_id, "user": user_id, "now": now_db}).fetchall()})
        changes = Changes(cursor, now_db)
        for incident_id in waiting:
            changes.note(incident_id, "not_answered", note(name or email or f"user {user_id}", channel, answer,
                                                           incident_id in moved))
        changes.finish()
        return Evidence(True, tuple(moved))
    return run_write(engine if engine is not None else db.engine, work)


def note(name: str, channel: str, reason: str, moved: bool) -> Note:
    """The timeline's note (engine.notes): "Ana's phone call was not answered (no-answer):
    next method now"; the reader sees the channel's noun in their language."""
    found = channels.get(channel)
    noun = str(found.noun) if found is not None else channel
    return Note("not_answered", name=name, channel=channel, method=noun, reason=reason, moved=moved)


# Sent pages of still-triggered high-urgency incidents that no report has answered yet, sent
# between ``oldest`` and ``expired`` (driven from the few triggered incidents, not the ledger).
EXPIRING = Sql(f"""
    SELECT n.id, n.provider_id FROM incidents i JOIN notifications n ON n.incident_id = i.id
    WHERE i.status = '{Status.TRIGGERED.value}' AND i.urgency = 'high' AND n.channel = :channel
    AND n.kind = '{Kind.PAGE.value}' AND n.status = '{State.SENT.value}' AND n.bundle_of IS NULL
    AND n.answer IS NULL AND n.provider_id IS NOT NULL AND n.sent_at <= :expired AND n.sent_at > :oldest
    ORDER BY n.id LIMIT :limit
""")


def expiring(engine: Engine, now: float, expire: int, channel: str, limit: int = 100) -> list[tuple[int, str]]:
    """The pages of ``channel`` whose receipt may have expired by ``now`` (sent ``expire``
    seconds ago or more, for one more ``expire`` at most) and still matter: (id, receipt)."""
    def read(cursor: Cursor) -> list[tuple[int, str]]:
        return [(row[0], row[1]) for row in cursor.execute(EXPIRING, {
            "channel": channel, "expired": clock.to_db(now - expire), "oldest": clock.to_db(now - 2 * expire),
            "limit": limit}).fetchall()]
    return run_read(engine, read)


# Twilio's words (CallStatus, MessageStatus) for how a call or a message ended.
TWILIO_ANSWERED = ("in-progress", "completed")
TWILIO_DELIVERED = ("delivered", "read")


def from_twilio(notification_id: int, form: dict, now: float) -> Evidence:
    """A Twilio status callback (already verified): what it reports, recorded. Statuses on
    the way (queued, ringing, sent) record nothing."""
    status = (form.get("CallStatus") or form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if form.get("CallStatus") and status in TWILIO_ANSWERED:
        return answered(notification_id, now)
    if status in TWILIO_DELIVERED:
        return delivered(notification_id, now)
    if status in NOT_ANSWERED:
        return not_answered(notification_id, status, now)
    return Evidence(False)


__all__ = ["Evidence", "answered", "delivered", "expiring", "from_twilio", "not_answered"]
