"""Users for the dashboard: first admin, login and logout, roles, password hashing."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required, logout_user

from .. import clock
from ..engine import SpecError
from ..extensions import login_manager
from ..services import users
from ..services.oidc import provider_name
from ..services.users import MAX_FAILURES, has_users
from .access import after_password, sign_in
from .forms import LoginForm, OwnPasswordForm, SetupForm
from .i18n import LANGUAGES, browser_language, fault, say
from .params import local_path

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


@login_manager.user_loader
def load_user(value: str):
    """The user of a live session: ``"<user id>:<session secret>"`` from either cookie."""
    user_id, _, secret = value.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 19) or not secret:
        return None
    user = users.user_for_session(int(user_id), secret)
    if user is not None:
        user.session_secret = secret
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """Send people to the login page; an htmx request (a poll) gets 401 and HX-Redirect."""
    target = url_for("auth.login") if has_users() else url_for("auth.setup")
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": target}
    return redirect(target if request.method != "GET" else f"{target}?next={request.full_path.rstrip('?')}")


def _safe_next(target: str | None) -> str:
    """Only paths of this server are followed after login (:func:`params.local_path`)."""
    return local_path(target) or url_for("dashboard.incidents")


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin; only while no user exists."""
    form = SetupForm()
    if has_users():
        return redirect(url_for("auth.login"))
    if form.validate_on_submit():
        try:
            user = users.set_up(form.email.data, form.password.data, clock.now())
        except ValueError as exc:
            form.email.errors.append(fault(exc))
        else:
            if user is None:
                return redirect(url_for("auth.login"))
            sign_in(user.id)
            flash(str(WELCOME))
            return redirect(url_for("integrations.welcome"))
    return render_template("auth/setup.html", form=form), 422 if form.errors else 200


WELCOME = _l("Welcome. Pick the tool that will send your alerts: Callgoose makes a service for it, with "
             "a token, and shows what to paste into the tool. (A service named “example” with "
             "Alertmanager-style rules is there too; rename or delete it on Services.)")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not has_users():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if not current_app.config["PASSWORD_SIGN_IN"] and request.method == "POST":  # single sign-on only
        return _login_page(form), 403
    if form.validate_on_submit():
        result = users.check_password(form.email.data, form.password.data, clock.now())
        if result.user_id is not None:  # the first step; a second factor may follow
            return after_password(result.user_id, form.remember.data, request.args.get("next"))
        form.password.errors.append(_refusal(result.locked_until, form.email.data))
    return _login_page(form), 422 if form.errors else 200


def _login_page(form):
    """The sign-in page: the password form unless PASSWORD_SIGN_IN is false, and "Sign in with
    <provider>" when OpenID Connect is configured."""
    config = current_app.config
    return render_template("auth/login.html", form=form, passwords=config["PASSWORD_SIGN_IN"],
                           provider=provider_name(config) if config.get("OIDC_ISSUER") else None)


def _refusal(locked_until, email: str) -> str:
    """Why a sign-in failed (logged): the same words for unknown emails and wrong passwords."""
    log.info("failed sign-in for %s from %s", email.strip().lower()[:254], request.remote_addr)
    if locked_until is not None:
        return ngettext("This account is locked after %(num)d wrong password until %(time)s UTC. An admin can set a "
                        "new password to unlock it now.", "This account is locked after %(num)d wrong passwords until "
                        "%(time)s UTC. An admin can set a new password to unlock it now.", MAX_FAILURES,
                        time=locked_until.strftime("%H:%M"))
    return ngettext("Wrong email or password. After %(num)d wrong password an account is locked for %(minutes)s "
                    "minutes.", "Wrong email or password. After %(num)d wrong passwords an account is locked for "
                    "%(minutes)s minutes.", MAX_FAILURES, minutes=users.LOCK_SECONDS // 60)


@bp.post("/logout")
@login_required
def logout():
    """End this browser's session: its session and remember-me cookies stop working everywhere."""
    users.end_session(current_user.session_secret)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/settings")
@login_required
def settings():
    """The signed-in user's own settings: password and sessions."""
    return render_template("auth/settings.html", form=OwnPasswordForm(formdata=None), languages=LANGUAGES,
                           browser_language=browser_language())


@bp.post("/settings/password")
@login_required
def change_password():
    """Change one's own password; every other session of the user ends."""
    form = OwnPasswordForm()
    if form.validate_on_submit():
        if users.change_own_password(current_user.id, form.current.data, form.password.data,
                                     keep=current_user.session_secret):
            flash(_("Password changed. Every other browser signed in as you has been signed out."))
            return redirect(url_for("auth.settings"))
        form.current.errors = ["This is not your current password."]
    return render_template("auth/settings.html", form=form, languages=LANGUAGES,
                           browser_language=browser_language()), 422


@bp.post("/settings/profile")
@login_required
def profile():
    """Your name and time zone (schedules and your shifts are shown in it)."""
    try:
        users.set_profile(current_user.id, request.form.get("name", ""), request.form.get("time_zone", ""),
                          request.form.get("language", ""))
    except SpecError as exc:
        flash(_("Not saved: %(path)s %(message)s.", path=exc.path, message=say(exc.message)), "error")
    else:
        flash(_("Saved."))
    return redirect(url_for("auth.settings"))


@bp.post("/settings/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session of the user, this one included."""
    users.end_all_sessions(current_user.id)
    logout_user()
    session.clear()
    flash(_("Signed out on every device."))
    return redirect(url_for("auth.login"))
