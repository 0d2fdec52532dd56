"""Checking a contact method: a verification code (sent, then confirmed) and a test
notification. Both go through the outbox like every other notification.

Both are rate-limited (engine.paging.check_limits: per contact method and per person, calls
more strictly), and a code takes at most ``CODE_ATTEMPTS`` tries. Each limit is one
conditional write, so two presses at once, in two processes, cannot both pass.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

from sqlalchemy import select

from .. import channels, clock
from ..engine.paging import CODE_ATTEMPTS, CODE_SECONDS, Kind, check_limits
from ..engine.signing import code_digest, keyed_code
from ..engine.words import Say, to_data
from ..extensions import db
from ..store.hotpath import Sql, to_datetime
from ..store.models import ContactMethod
from ..store.transactions import session_cursor, write
from .paging import INSERT_NOTIFICATION, notification

# engine.paging.Limit.write's values: advance the key's time when it is at most the threshold.
ADMIT = Sql("""
    INSERT INTO rate_limits (key, tat) VALUES (:key, :first)
    ON CONFLICT (key) DO UPDATE SET tat = CASE WHEN rate_limits.tat < :now THEN :now ELSE rate_limits.tat END + :step
    WHERE rate_limits.tat <= :threshold
""")
STORED = Sql("SELECT tat FROM rate_limits WHERE key = :key")
TRY_CODE = Sql("""
    UPDATE contact_methods SET verify_attempts = verify_attempts + 1
    WHERE id = :id AND user_id = :user AND verify_digest IS NOT NULL AND verify_expires_at >= :now
        AND verify_attempts < :attempts
""")
CODE_STATE = Sql("""
    SELECT verify_digest, verify_attempts, verify_expires_at FROM contact_methods WHERE id = :id AND user_id = :user
""")
VERIFIED = Sql("""
    UPDATE contact_methods SET verified_at = :now, verify_digest = NULL, verify_expires_at = NULL, verify_attempts = 0
    WHERE id = :id
""")


@dataclass(frozen=True)
class Checked:
    """A code or test queued (``refused`` None), or why not and when the next may go."""

    refused: Say | None = None


class _TooSoon(Exception):
    def __init__(self, refusal: Say):
        super().__init__(refusal)
        self.refusal = refusal


def _method(user_id: int, method_id: int) -> ContactMethod | None:
    return db.session.execute(select(ContactMethod).where(ContactMethod.id == method_id,
                                                          ContactMethod.user_id == user_id)).scalar()


def _admit(method: ContactMethod, now: float) -> None:
    """Pass every limit of the method, or raise :class:`_TooSoon` (the transaction rolls back,
    so a limit passed before the one that refused is not spent)."""
    cursor = session_cursor()
    channel = channels.get(method.channel)
    for scope, limit in check_limits(channel is not None and channel.calls):
        key = f"{scope}:{method.id if scope == 'method' else method.user_id}"
        if cursor.changed(ADMIT, {"key": key, **limit.write(now)}) != 1:
            stored = cursor.execute(STORED, {"key": key}).fetchone()[0]
            raise _TooSoon(limit.refusal(int(stored), now))


def _checked(work) -> Checked | None:
    try:
        return write(work)
    except _TooSoon as exc:
        return Checked(exc.refusal)


def _queue(method: ContactMethod, kind: Kind, now: float, text: Say | None = None, code_key: str | None = None) -> None:
    """Queue a test, or (``code_key`` given) a code made from the notification's delivery id
    (so that a call's TwiML can say it again: engine.signing.keyed_code)."""
    values = notification(clock.to_db(now), kind=kind, channel=method.channel, target=method.address,
                          user_id=method.user_id, contact_method_id=method.id)
    if code_key is not None:
        code = keyed_code(code_key, values["delivery_id"])
        method.verify_digest = code_digest(code)
        method.verify_expires_at = clock.to_db(now + CODE_SECONDS)
        method.verify_attempts = 0
        db.session.flush()
        text = Say("Your Callgoose verification code is %(code)s\n"
                   "Enter it on the My notifications page within 15 minutes.", code=code)
    values["body"] = json.dumps({"text": text, "say": to_data(text)}, ensure_ascii=False)
    session_cursor().execute(INSERT_NOTIFICATION, values)


def send_code(user_id: int, method_id: int, now: float, key: str) -> Checked | None:
    """Queue a verification code to the method (a new code replaces the last, with five
    attempts again); ``key`` is the app's secret key, which makes the code. None: no such
    method."""
    def work():
        method = _method(user_id, method_id)
        if method is None:
            return None
        _admit(method, now)
        _queue(method, Kind.VERIFY, now, code_key=key)
        return Checked()
    return _checked(work)


def send_test(user_id: int, method_id: int, now: float) -> Checked | None:
    """Queue a test notification to the method. None: no such method."""
    def work():
        method = _method(user_id, method_id)
        if method is None:
            return None
        _admit(method, now)
        _queue(method, Kind.TEST, now, Say("Test notification from Callgoose to %(name)s\n"
                                           "If you read this, Callgoose can reach you here.", name=method.name))
        return Checked()
    return _checked(work)


def confirm_code(user_id: int, method_id: int, code: str, now: float) -> str:
    """"verified", "wrong", "void" (the fifth wrong try: the code no longer works), "expired"
    (none sent, or too old) or "missing". Each try is counted by a conditional write first,
    so tries at once cannot exceed the limit."""
    def work():
        cursor = session_cursor()
        where = {"id": method_id, "user": user_id}
        tried = cursor.changed(TRY_CODE, {**where, "now": clock.to_db(now), "attempts": CODE_ATTEMPTS}) == 1
        row = cursor.execute(CODE_STATE, where).fetchone()
        if row is None:
            return "missing"
        digest, attempts, expires = row
        if not tried:
            fresh = expires is not None and clock.from_db(to_datetime(expires)) >= now
            return "void" if digest is not None and fresh and attempts >= CODE_ATTEMPTS else "expired"
        if hmac.compare_digest(digest, code_digest(code or "")):
            cursor.execute(VERIFIED, {"id": method_id, "now": clock.to_db(now)})
            return "verified"
        return "void" if attempts >= CODE_ATTEMPTS else "wrong"
    return write(work)
