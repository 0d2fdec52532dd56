"""User administration for admins: add, set a new password, deactivate, reactivate."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from .. import clock
from ..extensions import db
from ..store.database import begin_session_write
from ..store.models import User
from .auth import MIN_PASSWORD, admin_required, create_user, end_sessions
from .forms import PasswordForm, UserForm

bp = Blueprint("users", __name__)


def _page(form=None, status=200):
    users = db.session.execute(select(User).order_by(User.active.desc(), User.email)).scalars().all()
    return render_template("users/users.html", users=users, form=form or UserForm(formdata=None),
                           now=clock.to_db(clock.now()),
                           password_form=PasswordForm(formdata=None)), status


@bp.get("/users")
@admin_required
def users():
    return _page()


@bp.post("/users")
@admin_required
def add():
    form = UserForm()
    if form.validate_on_submit():
        try:
            begin_session_write()
            user = create_user(form.email.data, form.password.data, admin=form.role.data == "admin",
                               now=clock.now())
            db.session.commit()
        except ValueError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(f"Added {user.email}. They sign in with the password you set.")
            return redirect(url_for("users.users"))
    return _page(form, 422)


def _user(user_id: int) -> User:
    begin_session_write()
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, "No such user.")
    return user


@bp.post("/users/<int:user_id>/password")
@admin_required
def set_password(user_id: int):
    form = PasswordForm()
    if not form.validate_on_submit():
        flash(f"A password needs at least {MIN_PASSWORD} characters.", "error")
        return redirect(url_for("users.users"))
    user = _user(user_id)
    user.password_hash = generate_password_hash(form.password.data)
    user.failed_logins, user.locked_until = 0, None  # a new password also lifts a lock
    end_sessions(user.id)  # whoever knew the old password is signed out
    db.session.commit()
    flash(f"New password set for {user.email}.")
    return redirect(url_for("users.users"))


@bp.post("/users/<int:user_id>/active")
@admin_required
def toggle_active(user_id: int):
    """Deactivate (they cannot sign in; their name stays in timelines) or reactivate."""
    user = _user(user_id)
    if user.id == current_user.id:
        flash("You cannot deactivate yourself.", "error")
    elif user.active and user.is_admin and db.session.execute(
            select(func.count(User.id)).where(User.is_admin, User.active)).scalar_one() <= 1:
        flash("This is the last active admin.", "error")
    else:
        user.active = not user.active
        if not user.active:
            end_sessions(user.id)
        db.session.commit()
        flash(f"{user.email} is {'active again' if user.active else 'deactivated'}.")
    return redirect(url_for("users.users"))
