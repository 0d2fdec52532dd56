"""The outbox's state machine in the database: claim what is due, record how it went.

pending -> sending (with a deadline) -> sent | failed; a temporary failure goes back to
pending with a later ``due_at`` (engine.paging.retry_at); a row still ``sending`` after its
deadline means the sender died mid-send: it becomes ``unknown`` and is never resent by
itself. Rate limits and bundling are applied when claiming: what is due for one contact
method goes out as one message, no more often than the method's limit allows. What is due
for an incident of a shadow run is held instead (pending -> shadow), before any of that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .. import channels, clock
from ..engine.paging import (
    BUNDLED_KINDS,
    RATE_LIMITED,
    SEND_DEADLINE_SECONDS,
    VOICE_WINDOW_SECONDS,
    Kind,
    State,
    allowed_at,
    retry_at,
)
from ..engine.page import DESCRIPTION_READ
from ..store.hotpath import Cursor, Sql, from_json, to_datetime

MARK_UNKNOWN = Sql(f"""
    UPDATE notifications SET status = '{State.UNKNOWN}', finished_at = :now, deadline = NULL,
        error = 'outcome unknown: the sender stopped while sending (it may or may not have arrived); not resent'
    WHERE status = '{State.SENDING}' AND deadline < :now
""")
# A shadow run (issue 18): what comes due for an incident that opened in one is held, in its
# own final state, at the moment it would have gone out; it never reaches a sender, and it
# counts against no rate limit (it is not a send).
HOLD_SHADOW = Sql(f"""
    UPDATE notifications SET status = '{State.SHADOW}', finished_at = :now, deadline = NULL, error = NULL
    WHERE status = '{State.PENDING}' AND due_at <= :now AND incident_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM incidents i WHERE i.id = notifications.incident_id AND i.shadow)
""")
# Whether the delivery job has anything to do (an idle tick then writes nothing): a due row, or
# one left sending past its deadline. Both halves are ranges of ix_notifications_due.
ANY_WORK = Sql(f"""
    SELECT EXISTS (SELECT 1 FROM notifications WHERE status = '{State.PENDING}' AND due_at <= :now)
        OR EXISTS (SELECT 1 FROM notifications WHERE status = '{State.SENDING}')
""")
DUE = Sql(f"""
    SELECT id, kind, contact_method_id, webhook_id, channel, target FROM notifications
    WHERE status = '{State.PENDING}' AND due_at <= :now ORDER BY due_at, id LIMIT :limit
""")
METHOD = Sql("SELECT channel, address, format, last_sent_at, user_id, options FROM contact_methods WHERE id = :id")
RECENT_CALLS = Sql(f"""
    SELECT sent_at FROM notifications
    WHERE user_id = :user AND channel = 'voice' AND bundle_of IS NULL AND status = '{State.SENT}' AND sent_at >= :since
""")
POSTPONE_METHOD = Sql(f"""
    UPDATE notifications SET due_at = :at, error = '{RATE_LIMITED}'
    WHERE contact_method_id = :method AND status = '{State.PENDING}' AND due_at <= :now
""")
_BUNDLED = "(" + ", ".join(f"'{k}'" for k in BUNDLED_KINDS) + ")"
ALONE_OF_METHOD = Sql(f"""
    SELECT id FROM notifications WHERE contact_method_id = :method AND status = '{State.PENDING}'
    AND due_at <= :now AND kind NOT IN {_BUNDLED} ORDER BY id
""")
FIRST_BUNDLED = Sql(f"""
    SELECT min(id) FROM notifications WHERE contact_method_id = :method AND status = '{State.PENDING}'
    AND due_at <= :now AND kind IN {_BUNDLED}
""")
# A bundle is claimed, and later recorded, as one statement however many rows it holds
# (an alert storm of thousands for one person is one message).
CLAIM_BUNDLE = Sql(f"""
    UPDATE notifications SET status = '{State.SENDING}', deadline = :deadline, attempts = attempts + 1,
        bundle_of = CASE WHEN id = :lead THEN NULL ELSE :lead END
    WHERE contact_method_id = :method AND status = '{State.PENDING}' AND due_at <= :now AND kind IN {_BUNDLED}
""")
TOUCH_METHOD = Sql("UPDATE contact_methods SET last_sent_at = :now WHERE id = :id")
# A message that did not leave does not count against its method's minute: it was claimed as
# the method's latest (the claim touched it, and held the method's next claim meanwhile).
UNTOUCH_METHOD = Sql("UPDATE contact_methods SET last_sent_at = NULL WHERE id = :id")
WEBHOOK_SECRET = Sql("SELECT secret, format FROM service_webhooks WHERE id = :id")


CLAIM_ONE = Sql(f"""
    UPDATE notifications SET status = '{State.SENDING}', deadline = :deadline, attempts = attempts + 1,
        bundle_of = NULL
    WHERE status = '{State.PENDING}' AND id = :id
""")


# What a page tells (engine.page) comes with the rows, in the same query: the description's
# start (S22: the payload's, read only when the incident has no description of its own, and
# only its first characters), the facts read when it opened, its repeats, when it opened and
# the recipient's time zone.
_ROW_COLUMNS = f"""
    SELECT n.id, n.kind, n.incident_id, n.body, n.delivery_id, n.attempts, n.queued_at, n.event,
        n.user_id, i.title, i.urgency, i.status, s.name, u.language,
        substr(coalesce(i.description, p.text), 1, {DESCRIPTION_READ}), i.facts, i.duplicate_count, i.created_at,
        u.time_zone, i.priority
    FROM notifications n LEFT JOIN incidents i ON i.id = n.incident_id
        LEFT JOIN services s ON s.id = i.service_id LEFT JOIN users u ON u.id = n.user_id
        LEFT JOIN payloads p ON i.description IS NULL AND p.digest = i.payload_digest
"""
ONE_ROW = Sql(_ROW_COLUMNS + " WHERE n.id = :lead")
BUNDLE_ROWS = Sql(_ROW_COLUMNS + " WHERE n.id = :lead OR n.bundle_of = :lead ORDER BY n.id LIMIT :limit")
BUNDLE_SIZE = Sql("SELECT count(*) FROM notifications WHERE id = :lead OR bundle_of = :lead")
LISTED = 20  # rows of a bundle read to compose its message (it lists ten)
FOLLOW_UPS = (Kind.ACKNOWLEDGED.value, Kind.RESOLVED.value)
EARLIER_PAGES = 5  # of the pages a follow-up's incidents were sent in, the latest this many are edited


@lru_cache(maxsize=32)
def _earlier_pages_sql(count: int) -> Sql:
    """The latest pages (their lead rows) a method was sent for some incidents."""
    marks = ", ".join(f":i{n}" for n in range(count))
    return Sql(f"""
        SELECT DISTINCT coalesce(bundle_of, id) FROM notifications
        WHERE incident_id IN ({marks}) AND contact_method_id = :method AND kind = '{Kind.PAGE}'
            AND status = '{State.SENT}' AND provider_id IS NOT NULL
        ORDER BY 1 DESC LIMIT {EARLIER_PAGES}
    """)


@lru_cache(maxsize=8)
def _carried_sql(count: int) -> Sql:
    """Every incident some pages carried, as it stands now."""
    leads = ", ".join(f":l{n}" for n in range(count))
    return Sql(f"""
        SELECT coalesce(n.bundle_of, n.id), n.provider_id, n.incident_id, i.title, i.urgency, i.status, s.name
        FROM notifications n JOIN incidents i ON i.id = n.incident_id LEFT JOIN services s ON s.id = i.service_id
        WHERE (n.id IN ({leads}) OR n.bundle_of IN ({leads})) AND n.kind = '{Kind.PAGE}' AND n.provider_id IS NOT NULL
        ORDER BY n.id LIMIT {EARLIER_PAGES * LISTED}
    """)


@dataclass(frozen=True)
class Row:
    id: int
    kind: str
    incident_id: int | None
    body: dict | None
    delivery_id: str
    attempts: int
    queued_at: float
    event: str | None
    user_id: int | None
    title: str | None
    urgency: str | None
    status: str | None
    service: str | None
    language: str | None = None  # the recipient's (users.language; None: English)
    description: str | None = None  # the description's start (engine.page.DESCRIPTION_READ characters)
    facts: dict | None = None  # engine.page.facts_of's, read when the incident opened
    repeats: int = 0
    opened: float | None = None  # when the incident opened
    time_zone: str | None = None  # the recipient's
    priority: str | None = None  # the incident's P1-P5 (issue 20)


@dataclass
class Batch:
    """What one message carries: one row, or a contact method's bundle (``rows[0]`` leads)."""

    channel: str
    target: str
    rows: list[Row]  # the lead first; of a big bundle only the first few (``size`` counts all)
    format: str | None = None
    method_id: int | None = None
    webhook_secret: str | None = None
    webhook_id: int | None = None
    size: int = 1
    options: dict | None = None  # the method's fields beyond its address (channels.base.Field)
    # the pages sent before that carried its follow-ups' incidents (for a channel that edits
    # them): (lead id, provider id, incident id, title, urgency, status now, service)
    earlier: list[tuple] = field(default_factory=list)

    @property
    def lead(self) -> Row:
        return self.rows[0]


@dataclass
class Claimed:
    batches: list[Batch] = field(default_factory=list)
    postponed: int = 0
    held: int = 0  # notifications of shadow incidents that came due: held, not sent


def has_work(cursor: Cursor, now: float) -> bool:
    """Whether anything is due or being sent (what :func:`mark_unknown` and :func:`claim` act on)."""
    return bool(cursor.execute(ANY_WORK, {"now": clock.to_db(now)}).fetchone()[0])


def mark_unknown(cursor: Cursor, now: float, in_flight: set[int] = frozenset()) -> int:
    """Rows left ``sending`` past their deadline: the sender died mid-send. ``in_flight``: the
    lead ids this process is still sending or recording (it will record them itself)."""
    if not in_flight:
        return cursor.changed(MARK_UNKNOWN, {"now": clock.to_db(now)})
    leads = sorted(in_flight)
    marks = ", ".join(f":l{i}" for i in range(len(leads)))
    sql = Sql(MARK_UNKNOWN.sqlite + f" AND id NOT IN ({marks}) AND (bundle_of IS NULL OR bundle_of NOT IN ({marks}))")
    return cursor.changed(sql, {"now": clock.to_db(now), **{f"l{i}": lead for i, lead in enumerate(leads)}})


def _load(cursor: Cursor, lead: int, bundle: bool = False) -> list[Row]:
    found = cursor.execute(BUNDLE_ROWS if bundle else ONE_ROW, {"lead": lead, "limit": LISTED}).fetchall()
    rows = []
    for (nid, kind, incident_id, body, delivery_id, attempts, queued, event, user_id, title, urgency,
         status, service, language, description, facts, repeats, opened, time_zone, priority) in found:
        rows.append(Row(nid, kind, incident_id, from_json(body), delivery_id, attempts,
                        clock.from_db(to_datetime(queued)), event, user_id, title, urgency, status, service,
                        language, description, from_json(facts), repeats or 0,
                        clock.from_db(to_datetime(opened)) if opened is not None else None, time_zone, priority))
    return rows


def _earlier(cursor: Cursor, method_id: int, rows: list[Row]) -> list[tuple]:
    """The pages this method was sent for the follow-ups among ``rows``, and what they carried."""
    incidents = sorted({r.incident_id for r in rows if r.kind in FOLLOW_UPS and r.incident_id is not None})
    if not incidents:
        return []
    leads = [lead for (lead,) in cursor.execute(_earlier_pages_sql(len(incidents)), {"method": method_id, **{
        f"i{n}": incident for n, incident in enumerate(incidents)}}).fetchall()]
    if not leads:
        return []
    return [tuple(row) for row in cursor.execute(_carried_sql(len(leads)), {
        f"l{n}": lead for n, lead in enumerate(leads)}).fetchall()]


def _take(cursor: Cursor, notification_id: int, now: float) -> bool:
    """Claim one row to send on its own (a webhook event, a test, a code)."""
    return cursor.changed(CLAIM_ONE, {"id": notification_id,
                                      "deadline": clock.to_db(now + SEND_DEADLINE_SECONDS)}) == 1


def claim(cursor: Cursor, now: float, limit: int = 200, room=None) -> Claimed:
    """Take what is due, in one write transaction: each service webhook row alone; each contact
    method's due rows as one bundle, unless its rate limit says later (then they wait, and
    more may join them). What is due for a shadow incident is held first, so it is neither
    sent, nor bundled, nor counted by a limit. ``room(channel, target, options)``: whether a sender is free for a message
    there now (None: always); a message without one stays pending for a later claim."""
    now_db = clock.to_db(now)
    room = room or (lambda _channel, _target, _options=None: True)
    claimed = Claimed(held=cursor.changed(HOLD_SHADOW, {"now": now_db}))
    methods: dict[int, None] = {}  # the contact methods with something due, in order
    for nid, kind, method_id, webhook_id, channel, target in cursor.execute(
            DUE, {"now": now_db, "limit": limit}).fetchall():
        if kind == Kind.EVENT.value:
            if room("webhook", target) and _take(cursor, nid, now):
                secret = cursor.execute(WEBHOOK_SECRET, {"id": webhook_id}).fetchone() if webhook_id else None
                rows = _load(cursor, nid)
                claimed.batches.append(Batch("webhook", target, rows, secret[1] if secret else None,
                                             webhook_id=webhook_id, webhook_secret=secret[0] if secret else None))
        elif method_id is not None:
            methods[method_id] = None
        elif kind == Kind.ACCESS.value:  # a sign-in link goes to the address it was queued for
            if room(channel, target) and _take(cursor, nid, now):
                claimed.batches.append(Batch(channel, target, _load(cursor, nid)))
        elif room(channel, "") and _take(cursor, nid, now):  # its method was deleted since it was queued
            claimed.batches.append(Batch(channel, "", _load(cursor, nid)))
    for method_id in methods:
        found = cursor.execute(METHOD, {"id": method_id}).fetchone()
        if found is None:
            continue
        channel, address, fmt, last_sent, user_id, options = found
        options = from_json(options) or {}
        found_channel = channels.get(channel)
        calls = found_channel is not None and found_channel.calls
        params = {"method": method_id, "now": now_db}
        for (nid,) in cursor.execute(ALONE_OF_METHOD, params).fetchall():  # tests and codes: at once, alone
            if room(channel, address, options) and _take(cursor, nid, now):
                claimed.batches.append(Batch(channel, address, _load(cursor, nid), fmt, method_id, options=options))
        lead = cursor.execute(FIRST_BUNDLED, params).fetchone()[0]
        if lead is None:
            continue
        recent = []
        if calls:
            recent = [clock.from_db(to_datetime(r[0])) for r in cursor.execute(RECENT_CALLS, {
                "user": user_id, "since": clock.to_db(now - VOICE_WINDOW_SECONDS)}).fetchall()]
        at = allowed_at(calls, clock.from_db(to_datetime(last_sent)), recent, now)
        if at <= now and not room(channel, address, options):
            continue
        if at > now:
            claimed.postponed += cursor.changed(POSTPONE_METHOD, {"method": method_id, "at": clock.to_db(at),
                                                                  "now": now_db})
            continue
        taken = cursor.changed(CLAIM_BUNDLE, {**params, "lead": lead,
                                              "deadline": clock.to_db(now + SEND_DEADLINE_SECONDS)})
        if taken:
            cursor.execute(TOUCH_METHOD, {"id": method_id, "now": now_db})
            size = cursor.execute(BUNDLE_SIZE, {"lead": lead}).fetchone()[0]
            rows = _load(cursor, lead, bundle=True)
            earlier = _earlier(cursor, method_id, rows) if found_channel is not None and found_channel.edits else []
            claimed.batches.append(Batch(channel, address, rows, fmt, method_id, size=size, options=options,
                                         earlier=earlier))
    return claimed


# A code or a sign-in link is a secret: its text is not kept once the message went (or failed).
_SECRET = f"('{Kind.VERIFY}', '{Kind.ACCESS}')"
# Each of these acts on a whole message: its lead row and the rows it carried.
_MESSAGE = "(id = :lead OR bundle_of = :lead)"
SENT = Sql(f"""
    UPDATE notifications SET status = '{State.SENT}', sent_at = :now, finished_at = :now, deadline = NULL,
        error = NULL, provider_id = :provider, body = CASE WHEN kind IN {_SECRET} THEN NULL ELSE body END
    WHERE {_MESSAGE} AND status = '{State.SENDING}'
""")
RETRY = Sql(f"""
    UPDATE notifications SET status = '{State.PENDING}', due_at = :due, deadline = NULL, error = :error,
        bundle_of = NULL
    WHERE {_MESSAGE} AND status = '{State.SENDING}'
""")
FAILED = Sql(f"""
    UPDATE notifications SET status = '{State.FAILED}', finished_at = :now, deadline = NULL, error = :error,
        body = CASE WHEN kind IN {_SECRET} THEN NULL ELSE body END
    WHERE {_MESSAGE} AND status = '{State.SENDING}'
""")
BUMP_INCIDENTS = Sql(f"""
    UPDATE incidents SET version = version + 1
    WHERE id IN (SELECT incident_id FROM notifications WHERE {_MESSAGE} AND incident_id IS NOT NULL)
""")


def record(cursor: Cursor, batch: Batch, now: float, *, provider_id: str | None = None,
           temporary: str | None = None, permanent: str | None = None) -> str:
    """Write how one message went, for every row it carried (the lead's attempts and age
    decide a retry: it is the oldest); return the state it left."""
    now_db = clock.to_db(now)
    lead = batch.lead
    cursor.execute(BUMP_INCIDENTS, {"lead": lead.id})
    if permanent is None and temporary is None:
        cursor.execute(SENT, {"lead": lead.id, "now": now_db, "provider": (provider_id or "")[:64] or None})
        return str(State.SENT)
    if batch.method_id is not None and lead.kind in BUNDLED_KINDS:
        cursor.execute(UNTOUCH_METHOD, {"id": batch.method_id})  # it did not reach its person
    if permanent is not None:
        cursor.execute(FAILED, {"lead": lead.id, "now": now_db, "error": permanent[:1000]})
        return str(State.FAILED)
    due = retry_at(lead.attempts, lead.queued_at, now)
    if due is None:
        cursor.execute(FAILED, {"lead": lead.id, "now": now_db,
                                "error": f"gave up after 24 hours; last: {temporary}"[:1000]})
        return str(State.FAILED)
    cursor.execute(RETRY, {"lead": lead.id, "due": clock.to_db(due),
                           "error": f"attempt {lead.attempts} failed, retrying: {temporary}"[:1000]})
    return str(State.PENDING)


def due_soon(cursor: Cursor, now: float) -> bool:
    """Whether anything is due (the worker's quick check)."""
    return cursor.execute(DUE, {"now": clock.to_db(now), "limit": 1}).fetchone() is not None


__all__ = ["Batch", "Claimed", "Row", "claim", "mark_unknown", "record"]
