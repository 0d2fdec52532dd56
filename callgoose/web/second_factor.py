"""Signing in with a second factor (issue 19): after a correct password, a user with an
authenticator app or a passkey proves it here before a session starts; a passkey also signs
in on its own. The pending step lives in the signed session cookie (bound to this browser),
lasts a few minutes, and no other URL skips it: no session exists until it is passed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from .. import clock
from ..services import passkeys, second_factors, sso
from ..services.users import MAX_FAILURES
from .access import sign_in
from .i18n import fault
from .params import local_path

bp = Blueprint("second_factor", __name__)
log = logging.getLogger(__name__)


def _pending() -> dict | None:
    pending = session.get("pending_factor")
    if not isinstance(pending, dict) or pending.get("until", 0) < clock.now():
        session.pop("pending_factor", None)
        return None
    return pending


def _finish(pending: dict):
    if pending.get("break_glass"):  # both steps passed at /login/local: the other admins are told
        sso.tell_break_glass(pending["user"], request.remote_addr, clock.now())
    sign_in(pending["user"], pending["remember"])  # clears the pending step with the old session
    return pending["next"]


@bp.route("/login/second-factor", methods=["GET", "POST"])
def step():
    """The second step: a code of the authenticator app, a recovery code, or a passkey."""
    pending = _pending()
    if pending is None:
        flash(_("Sign in again: the second step waits a few minutes only."), "error")
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        result = second_factors.check_code(pending["user"], request.form.get("code", ""), clock.now())
        return redirect(_finish(pending)) if result.ok else _wrong_code(pending, result)
    return render_template("auth/second_factor.html", factors=second_factors.factors_of(pending["user"]))


def _wrong_code(pending: dict, result):
    log.info("wrong second-factor code for user %s from %s", pending["user"], request.remote_addr)
    if result.locked_until is not None:
        session.pop("pending_factor", None)
        flash(_("Too many wrong codes: this account is locked until %(time)s UTC.",
                time=result.locked_until.strftime("%H:%M")), "error")
        return redirect(url_for("auth.login"))
    error = ngettext("This code is not valid (or was used already). After %(count)d wrong code or password "
                     "the account is locked for a while.", "This code is not valid (or was used already). After "
                     "%(count)d wrong codes or passwords the account is locked for a while.", MAX_FAILURES,
                     count=MAX_FAILURES)
    return render_template("auth/second_factor.html", factors=second_factors.factors_of(pending["user"]),
                           error=error), 422


def _relying_party():
    return passkeys.RelyingParty.of(current_app.config.get("BASE_URL"))


def _options(user_id: int | None, purpose: str):
    """Passkey options for the browser; the challenge stays in the signed session, for one use."""
    try:
        options, challenge = passkeys.authentication_options(_relying_party(), user_id)
    except passkeys.PasskeyError as exc:
        return jsonify(error=fault(exc)), 400
    session["passkey_challenge"] = {"c": challenge, "for": purpose, "user": user_id,
                                    "until": clock.now() + passkeys.CHALLENGE_SECONDS}
    return current_app.response_class(options, mimetype="application/json")


def _challenge(purpose: str, user_id: int | None) -> str | None:
    """The challenge given for ``purpose``, once: a second answer finds none."""
    kept = session.pop("passkey_challenge", None)
    if not isinstance(kept, dict) or kept.get("for") != purpose or kept.get("user") != user_id \
            or kept.get("until", 0) < clock.now():
        return None
    return kept["c"]


def _verify(purpose: str, user_id: int | None):
    challenge = _challenge(purpose, user_id)
    if challenge is None:
        return None, _("The passkey request expired; try again.")
    try:
        return passkeys.authenticate(_relying_party(), challenge, request.get_json(silent=True),
                                     user_id, clock.now()), None
    except passkeys.PasskeyError as exc:
        log.info("passkey refused from %s: %s", request.remote_addr, exc)
        return None, fault(exc)


@bp.post("/login/second-factor/passkey/options")
def step_passkey_options():
    pending = _pending()
    if pending is None:
        return jsonify(error=_("Sign in again: the second step waits a few minutes only.")), 401
    return _options(pending["user"], "step")


@bp.post("/login/second-factor/passkey")
def step_passkey():
    pending = _pending()
    if pending is None:
        return jsonify(error=_("Sign in again: the second step waits a few minutes only.")), 401
    user_id, error = _verify("step", pending["user"])
    if user_id is None:
        return jsonify(error=error), 400
    return jsonify(redirect=_finish(pending))


def _local_sign_in_on():
    """A passkey alone is a local sign-in: PASSWORD_SIGN_IN=false (single sign-on only) refuses it."""
    if not current_app.config["PASSWORD_SIGN_IN"]:
        abort(403, _("Sign in through single sign-on: local sign-in is off here."))


@bp.post("/login/passkey/options")
def passkey_options():
    """A sign-in with a passkey alone: the browser offers this site's discoverable passkeys."""
    _local_sign_in_on()
    return _options(None, "login")


@bp.post("/login/passkey")
def passkey_login():
    _local_sign_in_on()
    user_id, error = _verify("login", None)
    if user_id is None:
        return jsonify(error=error), 400
    sign_in(user_id)
    return jsonify(redirect=local_path(request.args.get("next")) or url_for("dashboard.incidents"))
