"""Second factors (issue 19): an authenticator app (TOTP, RFC 6238) with ten single-use recovery
codes, and passkeys (services/passkeys.py). Each function here is one transaction.

A code is good for the current 30-second step and the one either side; once a step's code
is accepted, no code of that step or an earlier one is accepted again (no replay). Wrong
codes count toward the password lockout (users.MAX_FAILURES), so six digits are not guessable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash

from ..extensions import db
from ..store.models import Passkey, RecoveryCode, User
from ..store.transactions import write
from . import audit
from .users import count_failure, end_sessions, is_locked

STEP = 30
RECOVERY_CODES = 10
ISSUER = "Callgoose"
REQUIREMENTS = ("admins", "all")  # REQUIRE_SECOND_FACTOR; unset: optional
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


@dataclass(frozen=True)
class Factors:
    """What a user has set up."""

    totp: bool
    recovery_left: int
    passkeys: tuple  # (id, name, created_at, last_used_at)

    @property
    def any(self) -> bool:
        return self.totp or bool(self.passkeys)


@dataclass(frozen=True)
class Check:
    """The outcome of a code: accepted, or refused (and locked until when the lockout started)."""

    ok: bool
    locked_until: datetime | None = None


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def required(requirement: str | None, role: str) -> bool:
    """Whether REQUIRE_SECOND_FACTOR covers a user of ``role``."""
    return requirement == "all" or (requirement == "admins" and role == "admin")


def check_requirement(value) -> str | None:
    """REQUIRE_SECOND_FACTOR as set: admins, all, or unset. :raises ValueError:"""
    if value in (None, "", "none"):
        return None
    if value not in REQUIREMENTS:
        raise ValueError(f"setting REQUIRE_SECOND_FACTOR must be admins or all (or unset), not {value!r}")
    return value


def factors_of(user_id: int) -> Factors:
    secret = db.session.execute(select(User.totp_secret).where(User.id == user_id)).scalar_one_or_none()
    left = db.session.execute(select(func.count()).select_from(RecoveryCode)
                              .where(RecoveryCode.user_id == user_id)).scalar_one()
    keys = db.session.execute(select(Passkey.id, Passkey.name, Passkey.created_at, Passkey.last_used_at)
                              .where(Passkey.user_id == user_id).order_by(Passkey.id)).all()
    return Factors(secret is not None, left, tuple(tuple(k) for k in keys))


def has_factor(user_id: int) -> bool:
    """One query: an authenticator app or a passkey."""
    return db.session.execute(select(User.id).where(User.id == user_id).where(
        (User.totp_secret.is_not(None)) | select(Passkey.id).where(Passkey.user_id == user_id).exists()
    )).first() is not None


def users_with_factors() -> set[int]:
    """The ids of users with a second factor (the Users page's column)."""
    totp = db.session.execute(select(User.id).where(User.totp_secret.is_not(None))).scalars()
    keys = db.session.execute(select(Passkey.user_id).distinct()).scalars()
    return set(totp) | set(keys)


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The 30-second step (now's, or one either side) whose code ``code`` is; None for none."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp, step = pyotp.TOTP(secret), int(now // STEP)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(candidate * STEP), code):
            return candidate
    return None


def _code_digest(code: str) -> str:
    normal = "".join(c for c in code.lower() if c.isalnum())
    return hashlib.sha256(normal.encode("utf-8", errors="replace")).hexdigest()


def _new_codes(user_id: int) -> list[str]:
    """Ten fresh recovery codes replace the user's old ones, in the caller's transaction."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(digest=_code_digest(raw), user_id=user_id))
    return codes


def enrol_totp(user_id: int, secret: str, code: str, now: float) -> list[str] | None:
    """Turn on the authenticator app whose ``secret`` made ``code``; its recovery codes (shown once),
    or None when the code is not the app's or an app is on already (replacing it means removing it,
    which asks for a proof)."""
    step = matching_step(secret, code, now)
    if step is None:
        return None

    def work():
        user = db.session.get(User, user_id)
        if user.totp_secret is not None:
            return None
        user.totp_secret, user.totp_last_step = secret, step
        return _new_codes(user_id)
    return write(audit.tracking("user", user_id, work))


def check_code(user_id: int, code: str, now: float) -> Check:
    """A second-factor code at sign-in (or to confirm a change): the app's current code or an unused
    recovery code (used up by this). A wrong one counts toward the lockout; a locked account is refused."""
    def work() -> Check:
        user = db.session.get(User, user_id)
        if user is None or not user.active:
            return Check(False)
        if is_locked(user, now):
            return Check(False, user.locked_until)
        if user.totp_secret is not None and _accept(user, code, now):
            user.failed_logins = 0
            return Check(True)
        return Check(False, user.locked_until if count_failure(user, now) else None)
    return write(work)


def _accept(user: User, code: str, now: float) -> bool:
    step = matching_step(user.totp_secret, code, now)
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return False  # this step's code was used: a replay
        user.totp_last_step = step
        return True
    used = db.session.execute(delete(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.digest == _code_digest(code)))
    return used.rowcount == 1


def confirm(user_id: int, proof: str, now: float) -> Check:
    """A change to one's own factors is confirmed by the current password or a code."""
    stored = db.session.execute(select(User.password_hash).where(User.id == user_id)).scalar_one_or_none()
    if stored and check_password_hash(stored, proof):  # the hash is checked before the write
        return Check(True)
    return check_code(user_id, proof, now)


def remove_totp(user_id: int, keep: str) -> None:
    """Turn the authenticator app off (its recovery codes go too); every other session ends."""
    def work():
        user = db.session.get(User, user_id)
        user.totp_secret, user.totp_last_step = None, None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        end_sessions(user_id, keep=keep)
    write(audit.tracking("user", user_id, work))


def new_recovery_codes(user_id: int) -> list[str] | None:
    """Ten new recovery codes (the old ones stop working); None without an authenticator app."""
    def work():
        user = db.session.get(User, user_id)
        return _new_codes(user_id) if user is not None and user.totp_secret else None
    return write(work)


def reset(user_id: int) -> User | None:
    """An admin removes every second factor of a user (a lost phone); their sessions end."""
    def work():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        user.totp_secret, user.totp_last_step = None, None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        db.session.execute(delete(Passkey).where(Passkey.user_id == user_id))
        end_sessions(user_id)
        return user
    return write(audit.tracking("user", user_id, work))
