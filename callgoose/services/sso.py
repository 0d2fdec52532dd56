"""Single sign-on's users (issue 19, item 3): who an OpenID provider's or a trusted proxy's
identity is, made when OIDC_CREATE_USERS allows, with the role its claim gives at every
sign-in; and break glass, the local admins' way in while the provider is the incident.

Each function here is one transaction (the provider is asked before, never inside one).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select

from .. import clock
from ..engine.paging import Kind
from ..engine.sso import RoleMap
from ..engine.words import Say, to_data
from ..extensions import db
from ..store.models import User
from ..store.transactions import session_cursor, write
from . import audit, oidc
from .contact_methods import add_default_method
from .paging import INSERT_NOTIFICATION, notification
from .second_factors import has_factor
from .users import SignIn, _last_admin, check_password

log = logging.getLogger(__name__)


class SsoRefused(ValueError):
    """A single sign-on that is refused; ``message`` (Say) says why and what to do."""

    def __init__(self, message: Say):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Identity:
    """Who the provider or the proxy says signs in. ``subject``: ``"<iss> <sub>"`` (None from a
    proxy); ``role``: what the claim gives, None when no claim is configured (kept as it is)."""

    subject: str | None
    email: str
    verified: bool
    role: str | None


def from_claims(claims: dict, config) -> Identity:
    """The identity of an ID token's (and userinfo's) claims."""
    email = claims.get("email")
    claim = config.get("OIDC_ROLES_CLAIM")
    role = RoleMap.of(config).role(claims.get(claim)) if claim else None
    return Identity(f"{claims['iss']} {claims['sub']}", email.strip().lower() if isinstance(email, str) else "",
                    claims.get("email_verified") is True, role)


def sign_in_with_provider(config, client: oidc.Client, started: dict, args: dict, now: float) -> int:
    """The returning browser's user: the code exchanged and the token checked (oidc.finish),
    then matched or made. :raises oidc.ProviderError: :raises SsoRefused:"""
    identity = from_claims(oidc.finish(client, started, args, now), config)
    return sign_in_as(identity, create=bool(config["OIDC_CREATE_USERS"]), now=now)


def sign_in_from_proxy(email: str, groups: str | None, config, now: float) -> int:
    """The user a trusted proxy names (its groups header, when configured, gives the role).
    :raises SsoRefused:"""
    role = RoleMap.of(config).role(groups or "") if config.get("TRUSTED_HEADER_GROUPS") else None
    return sign_in_as(Identity(None, email.strip().lower()[:254], True, role),
                      create=bool(config["OIDC_CREATE_USERS"]), now=now)


def sign_in_as(identity: Identity, *, create: bool, now: float) -> int:
    """The user of ``identity``: by its subject once known, else by a verified email (then the
    subject is kept on the user), else made when ``create``. The claim's role is applied,
    but the last active admin is never demoted. :raises SsoRefused:"""
    def work() -> int:
        user = None
        if identity.subject is not None:
            user = db.session.execute(select(User).where(User.sso_subject == identity.subject)).scalar_one_or_none()
        known = user or db.session.execute(select(User).where(User.email == identity.email)).scalar_one_or_none()
        tracked = audit.track("user", known.id if known is not None else None)  # made, or its role changed
        if user is None:
            user = _by_email(identity, create, now)
        if not user.active:
            raise SsoRefused(Say("%(email)s is deactivated here; an admin can reactivate the account",
                                 email=user.email))
        if identity.role is not None and identity.role != user.role:
            if identity.role != "admin" and _last_admin(user):
                log.warning("single sign-on kept %s an admin: the last active admin", user.email)
            else:
                user.role = identity.role
        tracked.done(user.id)
        return user.id
    return write(work)


def _by_email(identity: Identity, create: bool, now: float) -> User:
    if "@" not in identity.email or len(identity.email) > 254 or len(identity.email.split()) != 1:
        raise SsoRefused(Say("the identity provider gave no email address"))
    if not identity.verified:
        raise SsoRefused(Say("the identity provider has not verified %(email)s", email=identity.email))
    user = db.session.execute(select(User).where(User.email == identity.email)).scalar_one_or_none()
    if user is None:
        if not create:
            raise SsoRefused(Say("no user here has the address %(email)s; an admin can invite you",
                                 email=identity.email))
        user = User(email=identity.email, password_hash="", role=identity.role or "responder", active=True,
                    created_at=clock.to_db(now))
        db.session.add(user)
        add_default_method(user, now)
        db.session.flush()
        log.info("single sign-on made the user %s (%s)", user.email, user.role)
    if identity.subject is not None:
        if user.sso_subject is not None and user.sso_subject != identity.subject:
            raise SsoRefused(Say("%(email)s signs in as another account of the identity provider",
                                 email=identity.email))
        user.sso_subject = identity.subject
    return user


def may_break_glass(user: User | None) -> bool:
    """Who may sign in at /login/local past single sign-on: the one place for this rule. An
    active admin with a password and a second factor (so a leaked password alone never does)."""
    return (user is not None and user.active and user.is_admin and bool(user.password_hash)
            and has_factor(user.id))


def break_glass(email: str, password: str, now: float) -> SignIn:
    """The first step at /login/local: the password, then :func:`may_break_glass`. A refused
    user gets no id; the second factor follows, then :func:`tell_break_glass`."""
    result = check_password(email, password, now)
    if result.user_id is None:
        return result
    return SignIn(result.user_id) if may_break_glass(db.session.get(User, result.user_id)) else SignIn(None)


def tell_break_glass(user_id: int, address: str | None, now: float) -> None:
    """A break-glass sign-in is complete (password and second factor): log it and mail every
    other active admin, in one transaction."""
    def work() -> None:
        user = db.session.get(User, user_id)
        text = Say("Break-glass sign-in to Callgoose\n%(email)s signed in with a password at /login/local, "
                   "past single sign-on, from %(address)s at %(time)s UTC.\nIf nobody expected this, "
                   "check who it was and set a new password for that account.",
                   email=user.email, address=address or "?", time=clock.to_db(now).strftime("%Y-%m-%d %H:%M"))
        others = db.session.execute(select(User).where(User.is_admin, User.active, User.id != user.id)
                                    .order_by(User.id)).scalars()
        for admin in others:
            values = notification(clock.to_db(now), kind=Kind.ACCESS, channel="email", target=admin.email,
                                  user_id=admin.id)
            values["body"] = json.dumps({"text": text, "say": to_data(text)}, ensure_ascii=False)
            session_cursor().execute(INSERT_NOTIFICATION, values)
        log.warning("break-glass sign-in by %s from %s", user.email, address)
        audit.record("user", user.id, user.email, "break glass", actor=audit.Actor("user", user.id, user.email, address))
    write(work)
