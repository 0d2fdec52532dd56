"""Passkeys (WebAuthn, with py_webauthn): register them, and sign in with one, after a password
or on its own (a discoverable credential; the authenticator verifies the user).

The relying party is this server as CALLGOOSE_BASE_URL names it: its host is the passkeys' id,
its scheme and host the origin a browser must report. Each function here is one transaction
or none; a challenge is kept by the caller (the signed session), used once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from .. import clock
from ..engine.words import Say
from ..extensions import db
from ..store.models import Passkey, User
from ..store.transactions import write
from . import audit
from .users import end_sessions, is_locked

MAX_BODY = 64 * 1024  # a credential is a few kilobytes
CHALLENGE_SECONDS = 2 * 60  # a challenge is answered within this, once
REQUIRED = UserVerificationRequirement.REQUIRED


class PasskeyError(ValueError):
    """A passkey refused, with a reason a person can act on."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str

    @classmethod
    def of(cls, base_url: str | None) -> RelyingParty:
        """From CALLGOOSE_BASE_URL. :raises PasskeyError: unset, or not https (http only for localhost)."""
        parts = urlsplit(base_url or "")
        host = (parts.hostname or "").lower()
        local = host == "localhost" or host.endswith(".localhost")
        if parts.scheme not in ("https", "http") or not host or (parts.scheme == "http" and not local) \
                or host.replace(".", "").isdigit() or ":" in host:
            raise PasskeyError(Say("Passkeys need CALLGOOSE_BASE_URL set to this server's https:// address "
                                   "(http:// only for localhost), as browsers reach it by name, not by IP address."))
        return cls(host, f"{parts.scheme}://{parts.netloc.lower()}")


def _handle(user_id: int) -> bytes:
    return f"callgoose-user-{user_id}".encode()


def registration_options(rp: RelyingParty, user: User) -> tuple[str, str]:
    """The options for navigator.credentials.create() as JSON, and their challenge (base64url)."""
    known = db.session.execute(select(Passkey.credential_id).where(Passkey.user_id == user.id)).scalars()
    options = generate_registration_options(
        rp_id=rp.id, rp_name="Callgoose", user_name=user.email, user_id=_handle(user.id),
        user_display_name=user.name or user.email,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in known],
        authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.REQUIRED,
                                                               user_verification=REQUIRED))
    return options_to_json(options), bytes_to_base64url(options.challenge)


def register(rp: RelyingParty, user_id: int, challenge: str, credential, name: str, now: float) -> Passkey:
    """Keep a new passkey of the user. :raises PasskeyError:"""
    name = " ".join(name.split())[:100] or "Passkey"
    try:
        verified = verify_registration_response(
            credential=_parsed(credential), expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id, expected_origin=rp.origin, require_user_verification=True)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyError(Say("The browser's passkey was refused: %(reason)s", reason=str(exc)[:200])) from None

    def work():
        key = Passkey(user_id=user_id, credential_id=bytes_to_base64url(verified.credential_id),
                      public_key=verified.credential_public_key, sign_count=verified.sign_count, name=name,
                      created_at=clock.to_db(now))
        db.session.add(key)
        return key
    if db.session.execute(select(Passkey.id).where(
            Passkey.credential_id == bytes_to_base64url(verified.credential_id))).first():
        raise PasskeyError(Say("This passkey is registered already."))
    return write(audit.tracking("user", user_id, work))


def authentication_options(rp: RelyingParty, user_id: int | None) -> tuple[str, str]:
    """Options for navigator.credentials.get(): the user's passkeys after a password, or any
    passkey of this site (the browser offers its discoverable ones) for a sign-in on its own."""
    allow = []
    if user_id is not None:
        ids = db.session.execute(select(Passkey.credential_id).where(Passkey.user_id == user_id)).scalars()
        allow = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in ids]
    options = generate_authentication_options(rp_id=rp.id, allow_credentials=allow, user_verification=REQUIRED)
    return options_to_json(options), bytes_to_base64url(options.challenge)


def authenticate(rp: RelyingParty, challenge: str, credential, user_id: int | None, now: float) -> int:
    """The user a passkey proves (``user_id``'s after a password). :raises PasskeyError:"""
    parsed = _parsed(credential)
    refused = PasskeyError(Say("This passkey is not one of this server's, or not yours."))
    key = db.session.execute(select(Passkey).where(Passkey.credential_id == str(parsed.get("id", ""))[:1400])
                             ).scalar_one_or_none()
    if key is None or (user_id is not None and key.user_id != user_id):
        raise refused
    handle = (parsed.get("response") or {}).get("userHandle") if isinstance(parsed.get("response"), dict) else None
    if handle and handle != bytes_to_base64url(_handle(key.user_id)):
        raise refused
    try:
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=base64url_to_bytes(challenge), expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count, require_user_verification=True)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyError(Say("The browser's passkey was refused: %(reason)s", reason=str(exc)[:200])) from None

    def work() -> int:
        user = db.session.get(User, key.user_id)
        if user is None or not user.active or is_locked(user, now):
            raise refused
        # The counter moves on only from the value checked (a cloned authenticator racing loses).
        moved = db.session.execute(update(Passkey).where(Passkey.id == key.id, Passkey.sign_count == key.sign_count)
                                   .values(sign_count=verified.new_sign_count, last_used_at=clock.to_db(now)))
        if moved.rowcount != 1:
            raise refused
        user.failed_logins = 0
        return user.id
    return write(work)


def _parsed(credential) -> dict:
    """The browser's answer (a JSON text or its object). :raises PasskeyError:"""
    parsed = credential
    if isinstance(credential, str):
        try:
            parsed = json.loads(credential) if len(credential) <= MAX_BODY else None
        except ValueError:
            parsed = None
    if not isinstance(parsed, dict):
        raise PasskeyError(Say("This is not a passkey answer."))
    return parsed


def remove(user_id: int, passkey_id: int, keep: str) -> bool:
    """Delete one of the user's passkeys; every other session of the user ends."""
    def work() -> bool:
        gone = db.session.execute(delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id))
        if gone.rowcount:
            end_sessions(user_id, keep=keep)
        return bool(gone.rowcount)
    return write(audit.tracking("user", user_id, work))
