"""Who may do what in the dashboard: signed-in users read; responders act on incidents and
schedules; admins change configuration; viewers change nothing but their own settings."""

from __future__ import annotations

from functools import wraps

from flask import abort, g, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user

from .. import clock
from ..services import audit, users

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# What a viewer may still change (issue 19): their own sign-in, password and sessions, how they
# are reached (methods, rules, handoff notices, Web Push, Slack identity), their calendar feeds,
# and a test payload's dry run (sending one is admin-only in its view).
VIEWER_MAY = frozenset({
    "auth.login", "auth.setup", "auth.logout", "auth.change_password", "auth.profile", "auth.sign_out_everywhere",
    "paging.add_method", "paging.method_action", "paging.add_rule", "paging.delete_rule",
    "paging.slack_link_confirm", "paging.slack_unlink", "schedules.handoff_notices", "webpush.subscribe",
    "schedules.create_feed", "schedules.revoke_feed", "testpayload.form",
})
# The credential of these is not the session: a token, a routing key, a provider's signature or
# a signed link; a signed link acts as the person it was sent to, whatever their role (a viewer
# paged because a policy names them may acknowledge from the page).
NOT_SESSION = ("ingest.", "api.", "opsgenie.", "pagerduty.", "outside.")


def admin_required(view):
    """Only admins change tokens, services, rules and users."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, "Only admins can do this.")
        return view(*args, **kwargs)
    return wrapped


def refuse_viewers():
    """Before every request, the one place for the viewer rule: a signed-in viewer's state-changing
    request is refused (403) unless it changes only their own settings. Deny by default, so a new
    route is closed to viewers until it is listed here."""
    endpoint = request.endpoint
    if request.method in SAFE or endpoint is None or endpoint in VIEWER_MAY or endpoint.startswith(NOT_SESSION):
        return
    if current_user.is_authenticated and not current_user.may_act:
        abort(403, _l("Viewers can read but not change this."))


def sign_in(user_id: int, remember: bool = False) -> None:
    """Start a new session row for this browser; its secret goes into the cookies. The one
    place a dashboard session begins (a password, a setup, a mailed link)."""
    session.clear()  # a new session (and CSRF secret) for the signed-in user
    secret = users.start_session(user_id, clock.now())
    user = users.user_for_session(user_id, secret)
    user.session_secret = secret
    login_user(user, remember=remember)


def web_actor() -> audit.Actor | None:
    """Who acts in this request: the API token of a JSON API call, else the signed-in user."""
    if not has_request_context():
        return None
    address = request.remote_addr
    token = g.get("api_token")
    if token is not None:
        return audit.Actor("token", token.id, token.name, address)
    if current_user and current_user.is_authenticated:
        return audit.Actor("user", current_user.id, current_user.email, address)
    return audit.Actor("system", address=address)
