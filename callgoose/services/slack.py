"""Slack accounts linked to Callgoose users (issue 17): a button pressed in Slack acts as
whoever pressed it, so Callgoose must know who that is. The first press of an unknown
account answers with a signed link; opened while signed in, it asks, and its POST links that
Slack account to the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from .. import clock
from ..engine.signing import BadLink, read_slack_link
from ..extensions import db
from ..store.hotpath import Sql
from ..store.models import SlackIdentity, User
from ..store.transactions import session_cursor, write
from . import audit

LINK = Sql("INSERT INTO slack_identities (team_id, slack_user_id, name, user_id, linked_at) "
           "VALUES (:team, :user, :name, :uid, :now) ON CONFLICT (team_id, slack_user_id) DO NOTHING")


@dataclass(frozen=True)
class Offer:
    """What the linking page shows: the Slack account, and whether it is linked to the
    reader already (``mine``) or cannot be linked (``problem``)."""

    team: str | None = None
    user: str | None = None
    name: str | None = None
    mine: bool = False
    problem: str | None = None


def linked_user(team: str, user: str) -> User | None:
    """The Callgoose user this Slack account is linked to, if any."""
    return db.session.execute(select(User).join(SlackIdentity, SlackIdentity.user_id == User.id).where(
        SlackIdentity.team_id == team, SlackIdentity.slack_user_id == user)).scalar()


def _owner(team: str, user: str) -> int | None:
    return db.session.execute(select(SlackIdentity.user_id).where(
        SlackIdentity.team_id == team, SlackIdentity.slack_user_id == user)).scalar()


def offer(key: str, token: str, user_id: int, now: float) -> Offer:
    """The linking page's question (a GET links nothing)."""
    try:
        fields = read_slack_link(key, token, now)
    except BadLink as exc:
        return Offer(problem=str(exc))
    owner = _owner(fields["team"], fields["user"])
    if owner is not None and owner != user_id:
        return Offer(**fields, problem="this Slack account is linked to another Callgoose user")
    return Offer(**fields, mine=owner == user_id)


def link(key: str, token: str, user_id: int, now: float) -> Offer:
    """Link the token's Slack account to ``user_id`` (the signed-in user): an account belongs
    to one user; linking it again to the same user changes nothing."""
    found = offer(key, token, user_id, now)
    if found.problem or found.mine:
        return found

    def work() -> int | None:  # one statement: two tabs confirming at once link it once
        session_cursor().changed(LINK, {"team": found.team, "user": found.user, "name": found.name[:200],
                                        "uid": user_id, "now": clock.to_db(now)})
        return _owner(found.team, found.user)
    if write(audit.tracking("user", user_id, work)) != user_id:
        return Offer(found.team, found.user, found.name, problem="this Slack account is linked to another Callgoose user")
    return Offer(found.team, found.user, found.name, mine=True)


def of(user_id: int) -> list[SlackIdentity]:
    """The Slack accounts linked to a user, for My notifications."""
    return list(db.session.execute(select(SlackIdentity).where(SlackIdentity.user_id == user_id)
                                   .order_by(SlackIdentity.id)).scalars())


def unlink(user_id: int, identity_id: int) -> bool:
    """Unlink one of the user's Slack accounts: its presses no longer act."""
    return write(audit.tracking("user", user_id, lambda: db.session.execute(delete(SlackIdentity).where(
        SlackIdentity.id == identity_id, SlackIdentity.user_id == user_id)).rowcount)) == 1
