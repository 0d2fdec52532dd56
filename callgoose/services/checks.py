"""Checking a contact method: a verification code (sent, then confirmed) and a test
notification. Both go through the outbox like every other notification."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select

from .. import clock
from ..engine.paging import Kind
from ..engine.signing import code_digest, new_code
from ..engine.words import Say, to_data
from ..extensions import db
from ..store.models import ContactMethod
from ..store.transactions import session_cursor, write
from .paging import INSERT_NOTIFICATION, notification

CODE_SECONDS = 15 * 60


@dataclass(frozen=True)
class Checked:
    """A code or test queued (``refused`` None), or why not and when the next may go."""

    refused: Say | None = None


def _method(user_id: int, method_id: int) -> ContactMethod | None:
    return db.session.execute(select(ContactMethod).where(ContactMethod.id == method_id,
                                                          ContactMethod.user_id == user_id)).scalar()


def _queue(method: ContactMethod, kind: Kind, text: str, now: float) -> None:
    session_cursor().execute(INSERT_NOTIFICATION, notification(
        clock.to_db(now), kind=kind, channel=method.channel, target=method.address, user_id=method.user_id,
        contact_method_id=method.id, body={"text": text, "say": to_data(text)}))


def send_code(user_id: int, method_id: int, now: float, key: str = "") -> Checked | None:
    """Queue a verification code to the method (a new code replaces the last)."""
    def work():
        method = _method(user_id, method_id)
        if method is None:
            return None
        code = new_code()
        method.verify_digest = code_digest(code)
        method.verify_expires_at = clock.to_db(now + CODE_SECONDS)
        db.session.flush()
        _queue(method, Kind.VERIFY, Say("Your Callgoose verification code is %(code)s\n"
                                        "Enter it on the My notifications page within 15 minutes.", code=code), now)
        return Checked()
    return write(work)


def confirm_code(user_id: int, method_id: int, code: str, now: float) -> str:
    """"verified", "wrong" or "expired" (or "missing")."""
    def work():
        method = _method(user_id, method_id)
        if method is None:
            return "missing"
        if method.verify_digest is None or method.verify_expires_at is None or \
                clock.from_db(method.verify_expires_at) < now:
            return "expired"
        if not hmac.compare_digest(method.verify_digest, code_digest(code or "")):
            return "wrong"
        method.verified_at = clock.to_db(now)
        method.verify_digest = method.verify_expires_at = None
        return "verified"
    return write(work)


def send_test(user_id: int, method_id: int, now: float) -> Checked | None:
    def work():
        method = _method(user_id, method_id)
        if method is None:
            return None
        _queue(method, Kind.TEST, Say("Test notification from Callgoose to %(name)s\n"
                                      "If you read this, Callgoose can reach you here.", name=method.name), now)
        return Checked()
    return write(work)
