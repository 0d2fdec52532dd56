"""Users for the dashboard: password hashing and the Flask-Login loader."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from . import clock
from .extensions import db, login_manager
from .models import User

bp = Blueprint("auth", __name__)
MIN_PASSWORD = 8


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))


def create_user(email: str, password: str, *, admin: bool, now: float) -> User:
    """Add a user; the caller commits. Raises ValueError with a reason a person can act on."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValueError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise ValueError(f"a user {email} exists already")
    user = User(email=email, password_hash=generate_password_hash(password), is_admin=admin,
                active=True, created_at=clock.to_db(now))
    db.session.add(user)
    return user
