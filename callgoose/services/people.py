"""Users as the paging pages name them: one read of every user, by id."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..store.models import User


def display_name(user: User) -> str:
    return user.name or user.email


def names() -> dict[int, str]:
    """Each user's display name (their name, else their email), by id."""
    return {u.id: display_name(u) for u in db.session.execute(select(User)).scalars()}


def emails() -> dict[int, str]:
    """Each user's email (what the JSON API and the configuration document name them by), by id."""
    return {u.id: u.email for u in db.session.execute(select(User)).scalars()}
