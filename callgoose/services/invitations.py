"""Invitations and password resets (issue 19, item 1): a signed, single-use link by email.

An invitation (72 hours) lets a person set their password, time zone, language and a first
contact method; a reset link (1 hour) sets a new password and ends every session of the
user. Both links are mailed through the outbox (kind ``access``, to the address itself, not
to a contact method) and sent by the worker, durably. A link names its user, its purpose and
a stamp of the password it was sent for: it works once (used_links) and dies when a
password is set another way. Each function here is one transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from .. import clock
from ..delivery import Settings
from ..engine import languages
from ..engine.paging import RESET_LIMIT, Kind
from ..engine.signing import BadLink, make_access, password_stamp, read_access
from ..engine.words import Plural, Say, to_data
from ..extensions import db
from ..store.models import UsedLink, User
from ..store.transactions import session_cursor, write
from . import audit
from .actions import USE_LINK
from .checks import ADMIT
from .contact_methods import add_default_method, insert_method
from .paging import INSERT_NOTIFICATION, notification
from .users import MIN_PASSWORD, end_sessions, set_profile_of

PATHS = {"invite": "/invite/", "reset": "/reset/"}


class InviteError(ValueError):
    """An invitation that is refused, with a reason a person can act on."""


@dataclass(frozen=True)
class Links:
    """What a sign-in link needs: the secret key that signs it and the base URL it starts with
    (the worker's, so that it matches the other links it mails)."""

    key: str
    base_url: str

    @classmethod
    def of(cls, config) -> "Links":
        return cls(config["SECRET_KEY"], Settings.from_config(config).base_url)


def _queue(links: Links, user: User, purpose: str, now: float) -> None:
    """Mail ``user`` a fresh link for ``purpose``, in the caller's transaction."""
    url = links.base_url + PATHS[purpose] + make_access(links.key, user.id, purpose,
                                                        password_stamp(user.password_hash), now)
    if purpose == "invite":
        text = Say("You are invited to Callgoose\nSet your password and how you want to be paged here "
                   "(the link works once, for 72 hours):\n%(url)s", url=url)
        user.invited_at = clock.to_db(now)
    else:
        text = Say("Reset your Callgoose password\nSomeone (you, we hope) asked to reset the password of "
                   "%(email)s. Set a new one here (the link works once, for an hour; every browser "
                   "signed in as you is signed out):\n%(url)s\nIf it was not you, ignore this mail.",
                   email=user.email, url=url)
    values = notification(clock.to_db(now), kind=Kind.ACCESS, channel="email", target=user.email, user_id=user.id)
    values["body"] = json.dumps({"text": text, "say": to_data(text)}, ensure_ascii=False)
    session_cursor().execute(INSERT_NOTIFICATION, values)


def invite(links: Links, email: str, *, role: str = "responder", now: float) -> tuple[User, bool]:
    """Invite ``email``: create the user when absent (no password yet, with ``role``), mail the
    link; the user and whether it was created. :raises InviteError: not an address, or a user who has a
    password already (they use "Forgot password?")."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or len(email.split()) > 1:
        raise InviteError(Say("%(email)s is not an email address", email=repr(email)))

    def work():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        created = user is None
        if created:
            user = User(email=email, password_hash="", role=role, active=True, created_at=clock.to_db(now))
            db.session.add(user)
            add_default_method(user, now)
            db.session.flush()
            audit.track("user", None).done(user.id)
        elif user.password_hash:
            raise InviteError(Say("%(email)s has a password already", email=email))
        elif not user.active:
            raise InviteError(Say("%(email)s is deactivated", email=email))
        _queue(links, user, "invite", now)
        return user, created
    return write(work)


def invite_again(links: Links, user_id: int, now: float) -> User | None:
    """Mail a user without a password a new invitation. :raises InviteError:"""
    user = db.session.get(User, user_id)
    return None if user is None else invite(links, user.email, role=user.role, now=now)[0]


def invite_all(links: Links, now: float) -> int:
    """Invite every active user who has no password (never signed in: made by an import or
    the configuration document); how many were mailed."""
    def work():
        found = list(db.session.execute(select(User).where(User.password_hash == "", User.active)
                                        .order_by(User.id)).scalars())
        for user in found:
            _queue(links, user, "invite", now)
        return len(found)
    return write(work)


def forgot(links: Links, email: str, now: float) -> None:
    """Mail a reset link when an active user has this address; the same work (a limit
    passed, a lookup) whether or not it does, and no answer either way."""
    email = email.strip().lower()[:254]
    key = "reset:" + hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]

    def work():
        if session_cursor().changed(ADMIT, {"key": key, **RESET_LIMIT.write(now)}) != 1:
            return  # limited: silently, so that the answer tells nothing
        user = db.session.execute(select(User).where(User.email == email, User.active)).scalar_one_or_none()
        if user is not None:
            _queue(links, user, "reset", now)
    write(work)


@dataclass(frozen=True)
class Link:
    """An open link's user and purpose."""

    user_id: int
    email: str
    purpose: str
    time_zone: str
    language: str | None


def opened(key: str, token: str, purpose: str, now: float) -> Link:
    """The link's user, when it is valid for ``purpose`` now.

    :raises BadLink: altered, expired, used, or its password was set another way."""
    fields = read_access(key, token, now)
    if fields["purpose"] != purpose:
        raise BadLink("this link is not valid")
    user = db.session.get(User, fields["user"])
    if user is None or not user.active or password_stamp(user.password_hash) != fields["stamp"]:
        raise BadLink("this link has been used already")
    if db.session.get(UsedLink, fields["nonce"]) is not None:
        raise BadLink("this link has been used already")
    return Link(user.id, user.email, purpose, user.time_zone, user.language)


def accept(key: str, token: str, purpose: str, password: str, now: float, *, time_zone: str = "", language: str = "",
           method: tuple | None = None) -> int:
    """Use the link: set the password (and, for an invitation, the time zone, language and a
    first contact method, ``contact_methods.check_method``'s result); every session of the
    user ends. The user's id.

    :raises BadLink: as :func:`opened`. :raises ValueError: a password too short.
    :raises SpecError: a zone or language not known."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(Plural("the password needs at least %(num)s character", "the password needs at least %(num)s characters", MIN_PASSWORD, num=MIN_PASSWORD))
    language = languages.normalise(language) or ""
    new_hash = generate_password_hash(password)  # made before the write, never while it holds the lock
    fields = read_access(key, token, now)

    def work():
        link = opened(key, token, purpose, now)
        if session_cursor().changed(USE_LINK, {"nonce": fields["nonce"], "now": clock.to_db(now)}) != 1:
            raise BadLink("this link has been used already")
        user = db.session.get(User, link.user_id)
        with audit.acting_as("link", user.id, user.email):  # the person the link was sent to
            _use(user)
        return user.id

    def _use(user: User) -> None:
        tracked = audit.track("user", user.id)
        user.password_hash = new_hash
        user.failed_logins, user.locked_until = 0, None
        if purpose == "invite":
            set_profile_of(user, user.name or "", time_zone, language)
            if method is not None:
                insert_method(user.id, method, now)
        end_sessions(user.id)  # a reset signs out whoever knew the old password, everywhere
        tracked.done()
    return write(work)
