"""Users for the dashboard: first admin, login and logout, roles, password hashing."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..extensions import db, login_manager
from ..services.catalog import create_starter_service
from ..store.database import begin_session_write
from ..store.models import User, UserSession

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
MIN_PASSWORD = 8
MAX_FAILURES = 5  # wrong passwords in a row before the account is locked
LOCK_SECONDS = 15 * 60
# Checked against when the email is unknown, so both paths cost one hash (no user probing).
_DUMMY_HASH = generate_password_hash("not a password")
_URL_IGNORED = re.compile(r"[\x00-\x1f\x7f]")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()


@login_manager.user_loader
def load_user(value: str) -> User | None:
    """The user of a live session: ``"<user id>:<session secret>"`` from either cookie."""
    user_id, _, secret = value.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 19) or not secret:
        return None
    user = db.session.execute(select(User).join(UserSession, UserSession.user_id == User.id).where(
        User.id == int(user_id), UserSession.digest == _digest(secret), User.active)).scalar_one_or_none()
    if user is not None:
        user.session_secret = secret
    return user


def end_sessions(user_id: int, keep: str | None = None) -> None:
    """End every session of a user (but ``keep``, a secret); the caller commits."""
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        query = query.where(UserSession.digest != _digest(keep))
    db.session.execute(query)


def has_users() -> bool:
    return db.session.execute(select(func.count(User.id))).scalar_one() > 0


@login_manager.unauthorized_handler
def unauthorized():
    """Send people to the login page; an htmx request (a poll) gets 401 and HX-Redirect."""
    target = url_for("auth.login") if has_users() else url_for("auth.setup")
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": target}
    return redirect(target if request.method != "GET" else f"{target}?next={request.full_path.rstrip('?')}")


def admin_required(view):
    """Only admins change tokens, services and rules."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, "Only admins can do this.")
        return view(*args, **kwargs)
    return wrapped


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


def _safe_next(target: str | None) -> str:
    """Only paths of this server are followed after login, read the way browsers read them.

    Browsers drop tabs and newlines from URLs, strip leading spaces and control characters,
    and take a backslash for a slash: ``/\tevil.example`` and ``/\\evil.example`` are
    other sites to them.
    """
    if target:
        cleaned = _URL_IGNORED.sub("", target).lstrip(" ").replace("\\", "/")
        parts = urlsplit(cleaned)
        if cleaned.startswith("/") and not cleaned.startswith("//") and not parts.scheme and not parts.netloc:
            return cleaned
    return url_for("dashboard.incidents")


def _sign_in(user: User, remember: bool = False):
    """Start a new session row for this browser; its secret goes into the cookies. Commits."""
    session.clear()  # a new session (and CSRF secret) for the signed-in user
    secret = secrets.token_urlsafe(32)
    begin_session_write()
    db.session.add(UserSession(digest=_digest(secret), user_id=user.id, created_at=clock.to_db(clock.now())))
    db.session.commit()
    user = db.session.get(User, user.id)
    user.session_secret = secret
    login_user(user, remember=remember)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin; only while no user exists."""
    from .forms import SetupForm

    if has_users():
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            begin_session_write()
            user = create_user(form.email.data, form.password.data, admin=True, now=clock.now())
            create_starter_service(clock.now())
            db.session.commit()
        except ValueError as exc:
            form.email.errors.append(str(exc))
        else:
            _sign_in(user)
            flash("Welcome. A service named “example” with Alertmanager-style rules is ready: create an API "
                  "token here and press “Send a test call” to see your first incident. Rename or delete "
                  "the example on Services when you add your own.")
            return redirect(url_for("dashboard.tokens"))
    return render_template("auth/setup.html", form=form), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    from .forms import LoginForm

    if not has_users():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        begin_session_write()  # a failure is counted in the same transaction
        user = db.session.execute(
            select(User).where(User.email == form.email.data.strip().lower())).scalar_one_or_none()
        valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
        now = clock.now()
        locked = user is not None and user.locked_until is not None and clock.from_db(user.locked_until) > now
        if user is not None and valid and user.active and not locked:
            user.failed_logins, user.locked_until = 0, None
            db.session.commit()
            _sign_in(user, form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        if user is not None and not locked:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until, user.failed_logins = clock.to_db(now + LOCK_SECONDS), 0
                locked = True
                log.warning("sign-in locked for %s after %d failures", user.email, MAX_FAILURES)
        until = user.locked_until if locked else None
        db.session.commit()
        log.info("failed sign-in for %s from %s", form.email.data.strip().lower()[:254], request.remote_addr)
        if until is not None:
            form.password.errors.append(
                f"This account is locked after {MAX_FAILURES} wrong passwords until "
                f"{until.strftime('%H:%M')} UTC. An admin can set a new password to unlock it now.")
        else:  # the same words for unknown emails and wrong passwords
            form.password.errors.append(
                f"Wrong email or password. After {MAX_FAILURES} wrong passwords an account is locked for "
                f"{LOCK_SECONDS // 60} minutes.")
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():
    """End this browser's session: its session and remember-me cookies stop working everywhere."""
    begin_session_write()
    db.session.execute(delete(UserSession).where(UserSession.digest == _digest(current_user.session_secret)))
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/settings")
@login_required
def settings():
    """The signed-in user's own settings: password and sessions."""
    from .forms import OwnPasswordForm

    return render_template("auth/settings.html", form=OwnPasswordForm(formdata=None))


@bp.post("/settings/password")
@login_required
def change_password():
    """Change one's own password; every other session of the user ends."""
    from .forms import OwnPasswordForm

    form = OwnPasswordForm()
    if form.validate_on_submit():
        begin_session_write()
        user = db.session.get(User, current_user.id)
        if check_password_hash(user.password_hash, form.current.data):
            user.password_hash = generate_password_hash(form.password.data)
            end_sessions(user.id, keep=current_user.session_secret)
            db.session.commit()
            flash("Password changed. Every other browser signed in as you has been signed out.")
            return redirect(url_for("auth.settings"))
        db.session.rollback()
        form.current.errors = ["This is not your current password."]
    return render_template("auth/settings.html", form=form), 422


@bp.post("/settings/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session of the user, this one included."""
    begin_session_write()
    end_sessions(current_user.id)
    db.session.commit()
    logout_user()
    session.clear()
    flash("Signed out on every device.")
    return redirect(url_for("auth.login"))
