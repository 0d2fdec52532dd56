"""Single sign-on (issue 19, item 3): "Sign in with <provider>" (OpenID Connect), a trusted
reverse proxy's user header, and break glass at /login/local (services/sso.py, services/oidc.py)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import clock
from ..engine.sso import networks, trusted_peer
from ..services import audit, oidc, sso
from ..services.users import has_users
from .access import NOT_SESSION, after_password, sign_in
from .forms import LoginForm
from .i18n import say
from .params import local_path

bp = Blueprint("sso", __name__)
log = logging.getLogger(__name__)


def oidc_on(config) -> bool:
    return bool(config.get("OIDC_ISSUER"))


def sso_on(config) -> bool:
    """Single sign-on is on: an OpenID provider, or a trusted proxy's user header."""
    return oidc_on(config) or bool(config.get("TRUSTED_HEADER_USER"))


def _client() -> oidc.Client:
    base = current_app.config.get("BASE_URL")
    callback = (str(base).rstrip("/") + url_for("sso.oidc_callback") if base
                else url_for("sso.oidc_callback", _external=True))
    return oidc.Client.of(current_app.config, callback)


def _as_single_sign_on(name: str):
    """The audit log's actor for the users and roles a sign-in makes: single sign-on, from here."""
    return audit.acting(audit.Actor("sso", None, name, request.remote_addr))


def _next(target: str | None) -> str:
    return local_path(target) or url_for("dashboard.incidents")


def _problem(message, status: int):
    """The sign-in page's clear error: what went wrong, and the ways in that remain."""
    return render_template("auth/sso_problem.html", problem=say(message)), status


@bp.get("/login/oidc")
def oidc_start():
    """Send the browser to the provider, keeping the state, nonce and PKCE verifier in the session."""
    if not oidc_on(current_app.config):
        abort(404)
    try:
        started = oidc.start(_client())
    except oidc.ProviderError as exc:
        log.warning("single sign-on unavailable: %s", exc.message)
        return _problem(exc.message, 503)
    session["oidc"] = {"state": started.state, "nonce": started.nonce, "verifier": started.verifier,
                       "next": request.args.get("next")}
    return redirect(started.url)


@bp.get("/login/oidc/callback")
def oidc_callback():
    """The provider sends the browser back here with a code: check it all, then sign in."""
    if not oidc_on(current_app.config):
        abort(404)
    started = session.pop("oidc", None)
    try:
        with _as_single_sign_on(oidc.provider_name(current_app.config)):
            user_id = sso.sign_in_with_provider(current_app.config, _client(), started, request.args.to_dict(),
                                                clock.now())
    except oidc.ProviderError as exc:
        log.warning("single sign-on failed: %s", exc.message)
        return _problem(exc.message, 502)
    except sso.SsoRefused as exc:
        log.info("single sign-on refused: %s", exc.message)
        return _problem(exc.message, 403)
    sign_in(user_id, single_sign_on=True)
    return redirect(_next(started.get("next")))


BREAK_GLASS_REFUSED = _l("Wrong email or password, or not an admin with a password and a second factor: only "
                         "they sign in here.")


@bp.route("/login/local", methods=["GET", "POST"])
def local_login():
    """Break glass: a local admin signs in with a password even when single sign-on is on and
    passwords are hidden on /login; the other admins are told by mail."""
    if not has_users() or not sso_on(current_app.config):  # nothing to break: /login takes passwords
        return redirect(url_for("auth.login", next=request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        result = sso.break_glass(form.email.data, form.password.data, clock.now())
        if result.user_id is not None:  # the second factor follows; then the other admins are told
            return after_password(result.user_id, False, request.args.get("next"), break_glass=True)
        log.info("failed break-glass sign-in for %s from %s", form.email.data.strip().lower()[:254],
                 request.remote_addr)
        form.password.errors.append(_("This account is locked for a while after too many wrong passwords.")
                                    if result.locked_until else str(BREAK_GLASS_REFUSED))
    return render_template("auth/login_local.html", form=form), 422 if form.errors else 200


def trusted_header():
    """Before every request: a trusted proxy's user header signs that user in. Honoured only
    when the socket's peer (REMOTE_ADDR as waitress sets it, never X-Forwarded-For) is inside
    TRUSTED_PROXIES; from anywhere else the headers are ignored completely."""
    config = current_app.config
    header = config.get("TRUSTED_HEADER_USER")
    if not header or request.endpoint is None or request.endpoint == "static" or \
            request.endpoint.startswith(NOT_SESSION):
        return None
    if not trusted_peer(request.environ.get("REMOTE_ADDR"), networks(config.get("TRUSTED_PROXIES") or "")):
        return None
    email = request.headers.get(header, "").strip().lower()
    if not email or (current_user.is_authenticated and current_user.email == email):
        return None
    groups_header = config.get("TRUSTED_HEADER_GROUPS")
    try:
        with _as_single_sign_on("trusted proxy"):
            user_id = sso.sign_in_from_proxy(email, request.headers.get(groups_header) if groups_header else None,
                                             config, clock.now())
    except sso.SsoRefused as exc:
        return _problem(exc.message, 403)
    sign_in(user_id, single_sign_on=True)
    return None
