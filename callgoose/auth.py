"""Users for the dashboard: first admin, login and logout, roles, password hashing."""

from __future__ import annotations

import logging
import re
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
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import clock
from .database import begin_session_write
from .extensions import db, login_manager
from .models import User

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
MIN_PASSWORD = 8
MAX_FAILURES = 5  # wrong passwords in a row before the account is locked
LOCK_SECONDS = 15 * 60
# Checked against when the email is unknown, so both paths cost one hash (no user probing).
_DUMMY_HASH = generate_password_hash("not a password")
_URL_IGNORED = re.compile(r"[\x00-\x1f\x7f]")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


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
    session.clear()  # a new session (and CSRF secret) for the signed-in user
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
            db.session.commit()
        except ValueError as exc:
            form.email.errors.append(str(exc))
        else:
            _sign_in(user)
            flash("Welcome. Next: create an API token and send a test call.")
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
                log.warning("sign-in locked for %s after %d failures", user.email, MAX_FAILURES)
        db.session.commit()
        log.info("failed sign-in for %s from %s", form.email.data.strip().lower()[:254], request.remote_addr)
        # One message for every failure, so it never tells which emails have an account.
        form.password.errors.append(
            f"Wrong email or password. After {MAX_FAILURES} wrong passwords an account is locked for "
            f"{LOCK_SECONDS // 60} minutes; an admin can set a new password.")
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
