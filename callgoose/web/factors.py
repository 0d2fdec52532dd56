"""One's own second factors (issue 19), on /settings/second-factor: an authenticator app (TOTP)
with recovery codes, and passkeys. Removing one asks for the password or a code, and ends
every other session of the user."""

from __future__ import annotations

import segno
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from .. import clock
from ..services import passkeys, second_factors
from .i18n import fault

bp = Blueprint("factors", __name__)


def _qr(uri: str) -> Markup:
    """The otpauth address as an inline SVG (no image file, no request; CSP-safe: no style attribute)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title=_("QR code"))
    return Markup(svg)  # made here from our own address; segno escapes the title


def _page(codes=None, status=200, error=None):
    secret = session.get("totp_enrolling")
    enrolling = None
    if secret and not current_user.totp_secret:
        uri = second_factors.provisioning_uri(secret, current_user.email)
        enrolling = {"secret": secret, "qr": _qr(uri)}
    try:
        passkeys.RelyingParty.of(current_app.config.get("BASE_URL"))
        passkey_problem = None
    except passkeys.PasskeyError as exc:
        passkey_problem = fault(exc)
    required = second_factors.required(current_app.config.get("REQUIRE_SECOND_FACTOR"), current_user.role)
    return render_template("auth/factors.html", factors=second_factors.factors_of(current_user.id),
                           enrolling=enrolling, codes=codes, error=error, required=required,
                           passkey_problem=passkey_problem), status


@bp.get("/settings/second-factor")
@login_required
def manage():
    return _page()


@bp.post("/settings/second-factor/totp/start")
@login_required
def totp_start():
    """A new secret for an authenticator app, kept in the session until a code confirms it."""
    session["totp_enrolling"] = second_factors.new_secret()
    return redirect(url_for("factors.manage"))


@bp.post("/settings/second-factor/totp/confirm")
@login_required
def totp_confirm():
    """The app's first code turns it on; the recovery codes are shown this once."""
    secret = session.get("totp_enrolling")
    if not secret:
        return redirect(url_for("factors.manage"))
    codes = second_factors.enrol_totp(current_user.id, secret, request.form.get("code", ""), clock.now())
    if codes is None:
        return _page(status=422, error=_("This is not the app's current code. Check the phone's clock and try again."))
    session.pop("totp_enrolling", None)
    return _page(codes=codes)


def _confirmed() -> bool:
    """The current password or a code confirms a change; a wrong one counts toward the lockout."""
    return second_factors.confirm(current_user.id, request.form.get("proof", ""), clock.now()).ok


@bp.post("/settings/second-factor/totp/remove")
@login_required
def totp_remove():
    if not _confirmed():
        return _page(status=422, error=_("Not your current password, nor a valid code: nothing changed."))
    second_factors.remove_totp(current_user.id, keep=current_user.session_secret)
    flash(_("The authenticator app is removed. Every other browser signed in as you has been signed out."))
    return redirect(url_for("factors.manage"))


@bp.post("/settings/second-factor/recovery-codes")
@login_required
def recovery_codes():
    if not _confirmed():
        return _page(status=422, error=_("Not your current password, nor a valid code: nothing changed."))
    return _page(codes=second_factors.new_recovery_codes(current_user.id))


@bp.post("/settings/second-factor/passkeys/options")
@login_required
def passkey_options():
    """Options for registering a passkey; the challenge stays in the signed session, for one use."""
    try:
        options, challenge = passkeys.registration_options(
            passkeys.RelyingParty.of(current_app.config.get("BASE_URL")), current_user)
    except passkeys.PasskeyError as exc:
        return jsonify(error=fault(exc)), 400
    session["passkey_challenge"] = {"c": challenge, "for": "register", "user": current_user.id,
                                    "until": clock.now() + passkeys.CHALLENGE_SECONDS}
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/settings/second-factor/passkeys")
@login_required
def passkey_register():
    kept, body = session.pop("passkey_challenge", None), request.get_json(silent=True)
    if not isinstance(kept, dict) or kept.get("for") != "register" or kept.get("user") != current_user.id \
            or kept.get("until", 0) < clock.now():
        return jsonify(error=_("The passkey request expired; try again.")), 400
    body = body if isinstance(body, dict) else {}
    try:
        passkeys.register(passkeys.RelyingParty.of(current_app.config.get("BASE_URL")), current_user.id,
                          kept["c"], body.get("credential"), str(body.get("name") or ""), clock.now())
    except passkeys.PasskeyError as exc:
        return jsonify(error=fault(exc)), 400
    flash(_("Passkey added."))
    return jsonify(redirect=url_for("factors.manage"))


@bp.post("/settings/second-factor/passkeys/<int:passkey_id>/delete")
@login_required
def passkey_delete(passkey_id: int):
    if not _confirmed():
        return _page(status=422, error=_("Not your current password, nor a valid code: nothing changed."))
    if passkeys.remove(current_user.id, passkey_id, keep=current_user.session_secret):
        flash(_("Passkey removed. Every other browser signed in as you has been signed out."))
    return redirect(url_for("factors.manage"))
