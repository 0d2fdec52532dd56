"""Who may do what in the dashboard: signed-in users read; responders act on incidents and
schedules; admins change configuration; viewers change nothing but their own settings."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, has_request_context, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user

from .. import clock
from ..services import audit, second_factors, users
from .params import local_path

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# What a viewer may still change (issue 19): their own sign-in, password, second factors and sessions, how they
# are reached (methods, rules, handoff notices, Web Push, Slack identity), their calendar feeds,
# and a test payload's dry run (sending one is admin-only in its view).
VIEWER_MAY = frozenset({
    "auth.login", "sso.local_login", "auth.setup", "auth.logout", "auth.change_password", "auth.profile",
    "auth.sign_out_everywhere",
    "paging.add_method", "paging.method_action", "paging.add_rule", "paging.delete_rule",
    "paging.slack_link_confirm", "paging.slack_unlink", "schedules.handoff_notices", "webpush.subscribe",
    "schedules.create_feed", "schedules.revoke_feed", "testpayload.form",
    "second_factor.step", "second_factor.step_passkey_options", "second_factor.step_passkey",
    "second_factor.passkey_options", "second_factor.passkey_login",
    "factors.totp_start", "factors.totp_confirm", "factors.totp_remove", "factors.recovery_codes",
    "factors.passkey_options", "factors.passkey_register", "factors.passkey_delete",
})
# The credential of these is not the session: a token, a routing key, a provider's signature or
# a signed link; a signed link acts as the person it was sent to, whatever their role (a viewer
# paged because a policy names them may acknowledge from the page).
NOT_SESSION = ("ingest.", "api.", "opsgenie.", "pagerduty.", "outside.")
PENDING_SECONDS = 5 * 60  # the second step of a sign-in waits this long
# While REQUIRE_SECOND_FACTOR covers a user without a factor, only these are reachable: the
# enrolment itself and signing out.
ENROLMENT = frozenset({"static", "auth.logout", "factors.manage", "factors.totp_start", "factors.totp_confirm",
                       "factors.passkey_options", "factors.passkey_register"})


def admin_required(view):
    """Only admins change tokens, services, rules and users."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, _l("Only admins can do this."))
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


def sign_in(user_id: int, remember: bool = False, single_sign_on: bool = False) -> None:
    """Start a new session row for this browser; its secret goes into the cookies. The one
    place a dashboard session begins (a password and any second factor, a setup, a mailed link, a passkey)."""
    session.clear()  # a new session (and CSRF secret) for the signed-in user
    secret = users.start_session(user_id, clock.now())
    user = users.user_for_session(user_id, secret)
    user.session_secret = secret
    login_user(user, remember=remember)
    if single_sign_on:  # the provider (or proxy) checked its own factors: REQUIRE_SECOND_FACTOR is for local accounts
        session["single_sign_on"] = True


def after_password(user_id: int, remember: bool = False, next_path: str | None = None, break_glass: bool = False):
    """The answer to a correct password (or a used mailed link): a session, or first the second
    step (always at break glass, whose rule asks for a second factor)."""
    target = local_path(next_path) or url_for("dashboard.incidents")
    if not break_glass and not second_factors.has_factor(user_id):
        sign_in(user_id, remember)
        return redirect(target)
    session.clear()
    session["pending_factor"] = {"user": user_id, "until": clock.now() + PENDING_SECONDS,
                                 "remember": bool(remember), "next": target, "break_glass": break_glass}
    return redirect(url_for("second_factor.step"))


def require_enrolment():
    """Before every request: a signed-in user whom REQUIRE_SECOND_FACTOR covers and who has no
    second factor yet reaches only the enrolment (and signing out) until they set one up."""
    requirement = current_app.config.get("REQUIRE_SECOND_FACTOR")
    if not requirement or request.endpoint in ENROLMENT or request.endpoint is None \
            or not current_user.is_authenticated or not second_factors.required(requirement, current_user.role) \
            or session.get("single_sign_on"):
        return None
    if second_factors.has_factor(current_user.id):
        return None
    target = url_for("factors.manage")
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


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
