"""Who may do what in the dashboard: signed-in users read and act on incidents; admins change."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def admin_required(view):
    """Only admins change tokens, services, rules and users."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, "Only admins can do this.")
        return view(*args, **kwargs)
    return wrapped
