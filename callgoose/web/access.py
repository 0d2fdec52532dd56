"""Who may do what in the dashboard: signed-in users read and act on incidents; admins change."""

from __future__ import annotations

from functools import wraps

from flask import abort, session
from flask_login import current_user, login_required, login_user

from .. import clock
from ..services import users


def admin_required(view):
    """Only admins change tokens, services, rules and users."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, "Only admins can do this.")
        return view(*args, **kwargs)
    return wrapped


def sign_in(user_id: int, remember: bool = False) -> None:
    """Start a new session row for this browser; its secret goes into the cookies. The one
    place a dashboard session begins (a password, a setup, a mailed link)."""
    session.clear()  # a new session (and CSRF secret) for the signed-in user
    secret = users.start_session(user_id, clock.now())
    user = users.user_for_session(user_id, secret)
    user.session_secret = secret
    login_user(user, remember=remember)
