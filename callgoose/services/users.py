"""People who sign in to the dashboard: accounts, passwords, lockout and sessions.

A session is a row (``user_sessions``) whose secret is in the browser's cookies: ending
the row ends the session everywhere. Each function here is one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..engine import languages
from ..engine.oncall import ROLES, check_time_zone
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from ..extensions import db
from ..store.models import User, UserSession
from ..store.transactions import write
from . import audit
from .catalog import create_starter_service
from .contact_methods import add_default_method

log = logging.getLogger(__name__)
MIN_PASSWORD = 8
MAX_FAILURES = 5  # wrong passwords in a row before the account is locked
LOCK_SECONDS = 15 * 60
# Checked against when the email is unknown, so both paths cost one hash (no user probing).
_DUMMY_HASH = generate_password_hash("not a password")


class UserError(ValueError):
    """A change to users that is refused, with a reason a person can act on."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()


def user_for_session(user_id: int, secret: str) -> User | None:
    """The active user of a live session."""
    return db.session.execute(select(User).join(UserSession, UserSession.user_id == User.id).where(
        User.id == user_id, UserSession.digest == _digest(secret), User.active)).scalar_one_or_none()


def has_users() -> bool:
    return db.session.execute(select(func.count(User.id))).scalar_one() > 0


def all_users() -> list[User]:
    """Active users first, by email."""
    return list(db.session.execute(select(User).order_by(User.active.desc(), User.email)).scalars())


def create_user(email: str, password: str, *, role: str, now: float) -> User:
    """Add a user; the caller's transaction holds it. :raises ValueError: a reason a person can act on."""
    if role not in ROLES:
        raise ValueError(Say("%(role)s is not a role", role=repr(role)))
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or len(email.split()) > 1:  # it signs actions in mail subjects
        raise ValueError(Say("%(email)s is not an email address", email=repr(email)))
    if len(password) < MIN_PASSWORD:
        raise ValueError(Plural("the password needs at least %(num)s character", "the password needs at least %(num)s characters", MIN_PASSWORD, num=MIN_PASSWORD))
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise ValueError(Say("a user %(email)s exists already", email=email))
    user = User(email=email, password_hash=generate_password_hash(password), role=role,
                active=True, created_at=clock.to_db(now))
    db.session.add(user)
    add_default_method(user, now)
    audit.track("user", None).done(user.id)
    return user


def add_user(email: str, password: str, *, role: str, now: float) -> User:
    """Add a user in its own transaction. :raises ValueError:"""
    return write(lambda: create_user(email, password, role=role, now=now))


def set_up(email: str, password: str, now: float) -> User | None:
    """The first admin, with the example service; None when someone set up first."""
    def work():
        if has_users():
            return None
        user = create_user(email, password, role="admin", now=now)
        create_starter_service(now)
        return user
    return write(work)


def end_sessions(user_id: int, keep: str | None = None) -> None:
    """End every session of a user (but ``keep``, a secret); the caller's transaction holds it."""
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        query = query.where(UserSession.digest != _digest(keep))
    db.session.execute(query)


def start_session(user_id: int, now: float) -> str:
    """A new session row for one browser; its secret (for the cookies) is returned, never stored."""
    secret = secrets.token_urlsafe(32)

    def work():
        db.session.add(UserSession(digest=_digest(secret), user_id=user_id, created_at=clock.to_db(now)))
    write(work)
    return secret


def end_session(secret: str) -> None:
    """End one browser's session."""
    write(lambda: db.session.execute(delete(UserSession).where(UserSession.digest == _digest(secret))))


def end_all_sessions(user_id: int) -> None:
    write(lambda: end_sessions(user_id))


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password check: the user, or when the account is locked until."""

    user_id: int | None
    locked_until: datetime | None = None


def check_password(email: str, password: str, now: float) -> SignIn:
    """Check an email and password; count a failure and lock after :data:`MAX_FAILURES`.
    A user with a second factor has passed only the first step (web.second_factor)."""
    email = email.strip().lower()
    # The hash is checked (scrypt, about 0.3 s) before the write, never while it holds the lock.
    stored = db.session.execute(select(User.password_hash).where(User.email == email)).scalar_one_or_none()
    matches = check_password_hash(stored or _DUMMY_HASH, password) and bool(stored)

    def work() -> SignIn:
        user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        # An imported user has no password until an admin sets one: nothing matches it.
        valid = matches and user is not None and user.password_hash == stored
        locked = user is not None and is_locked(user, now)
        if user is not None and valid and user.active and not locked:
            user.failed_logins, user.locked_until = 0, None
            return SignIn(user.id)
        if user is not None and not locked:
            locked = count_failure(user, now)
        return SignIn(None, user.locked_until if locked else None)
    return write(work)


def is_locked(user: User, now: float) -> bool:
    return user.locked_until is not None and clock.from_db(user.locked_until) > now


def count_failure(user: User, now: float) -> bool:
    """One more wrong password or second-factor code, in the caller's transaction: after
    :data:`MAX_FAILURES` in a row the account is locked for :data:`LOCK_SECONDS`. True when locked."""
    user.failed_logins += 1
    if user.failed_logins < MAX_FAILURES:
        return False
    user.locked_until, user.failed_logins = clock.to_db(now + LOCK_SECONDS), 0
    log.warning("sign-in locked for %s after %d failures", user.email, MAX_FAILURES)
    return True


def change_own_password(user_id: int, current: str, new: str, keep: str) -> bool:
    """Change one's own password (every other session ends); False when ``current`` is wrong."""
    stored = db.session.get(User, user_id).password_hash  # hashes are made before the write
    if not check_password_hash(stored, current):
        return False
    new_hash = generate_password_hash(new)

    def work() -> bool:
        user = db.session.get(User, user_id)
        if user.password_hash != stored:  # changed meanwhile: the current password was another
            return False
        user.password_hash = new_hash
        end_sessions(user.id, keep=keep)
        return True
    return write(audit.tracking("user", user_id, work))


def set_password(user_id: int, password: str) -> User | None:
    """An admin sets a user's password: it lifts a lock and ends the user's sessions."""
    new_hash = generate_password_hash(password)  # made before the write, never while it holds the lock

    def work():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        user.password_hash = new_hash
        user.failed_logins, user.locked_until = 0, None
        end_sessions(user.id)  # whoever knew the old password is signed out
        return user
    return write(audit.tracking("user", user_id, work))


def toggle_active(user_id: int, by_user_id: int) -> User | None:
    """Deactivate a user (they cannot sign in; their name stays in timelines) or reactivate.

    :raises UserError: for oneself, or for the last active admin.
    """
    def work():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        if user.id == by_user_id:
            raise UserError(Say("You cannot deactivate yourself."))
        if user.active and _last_admin(user):
            raise UserError(Say("This is the last active admin."))
        user.active = not user.active
        if not user.active:
            end_sessions(user.id)
        return user
    return write(audit.tracking("user", user_id, work))


LANGUAGE_CODES = languages.OFFERED  # the complete catalogues in callgoose/translations


def set_profile(user_id: int, name: str, time_zone: str, language: str = "") -> None:
    """A user's own name (shown in policies and messages), time zone (their pages' times) and
    dashboard language (empty: the browser's).

    :raises SpecError: a zone that is not an IANA name, a name too long, an unknown language."""
    def work():
        user = db.session.get(User, user_id)
        if user is not None:
            set_profile_of(user, name, time_zone, language)
    write(audit.tracking("user", user_id, work))


def set_profile_of(user: User, name: str, time_zone: str, language: str = "") -> None:
    """:func:`set_profile` in the caller's transaction. :raises SpecError:"""
    zone = check_time_zone(time_zone.strip() or "UTC", "time_zone")
    name = name.strip()
    if len(name) > 100:
        raise SpecError("name", Say("must be at most 100 characters"))
    if language and not languages.normalise(language):
        raise SpecError("language", Say("must be one of %(choices)s", choices=", ".join(LANGUAGE_CODES)))
    language = languages.normalise(language)  # "pt" -> "pt-BR", "zh-TW" -> "zh-Hant"
    user.name, user.time_zone, user.language = name or None, zone, language or None


def _last_admin(user: User) -> bool:
    return user.is_admin and db.session.execute(
        select(func.count(User.id)).where(User.is_admin, User.active)).scalar_one() <= 1


def set_role(user_id: int, role: str, by_user_id: int) -> User | None:
    """Give a user another role (admin, responder or viewer); it holds from their next request.

    :raises UserError: for oneself, for the last active admin, or for an unknown role.
    """
    def work():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        if role not in ROLES:
            raise UserError(Say("%(role)s is not a role", role=repr(role)))
        if user.id == by_user_id:
            raise UserError(Say("You cannot change your own role."))
        if role != "admin" and user.active and _last_admin(user):
            raise UserError(Say("This is the last active admin."))
        user.role = role
        return user
    return write(audit.tracking("user", user_id, work))
