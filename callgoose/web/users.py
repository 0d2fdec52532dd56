"""User administration for admins: add, set a new password, change a role, deactivate, reactivate."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from .. import clock
from ..engine.oncall import ROLES
from ..services import invitations, second_factors, users
from .access import admin_required
from .forms import InviteForm, PasswordForm, UserForm
from .i18n import fault, word

bp = Blueprint("users", __name__)


def _page(form=None, status=200, invite_form=None):
    return render_template("users/users.html", users=users.all_users(), form=form or UserForm(formdata=None),
                           now=clock.to_db(clock.now()), password_form=PasswordForm(formdata=None),
                           roles=ROLES, with_factors=second_factors.users_with_factors(),
                           invite_form=invite_form or InviteForm(formdata=None, prefix="invite")), status


def _found(user):
    if user is None:
        abort(404, _("No such user."))
    return user


@bp.get("/users", endpoint="users")
@admin_required
def users_page():
    return _page()


@bp.post("/users")
@admin_required
def add():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = users.add_user(form.email.data, form.password.data, role=form.role.data,
                                  now=clock.now())
        except ValueError as exc:
            form.email.errors.append(fault(exc))
        else:
            flash(_("Added %(email)s. They sign in with the password you set.", email=user.email))
            return redirect(url_for("users.users"))
    return _page(form, 422)


@bp.post("/users/<int:user_id>/password")
@admin_required
def set_password(user_id: int):
    form = PasswordForm()
    if not form.validate_on_submit():
        flash(ngettext("A password needs at least %(count)d character.", "A password needs at least %(count)d characters.",
                       users.MIN_PASSWORD, count=users.MIN_PASSWORD), "error")
        return redirect(url_for("users.users"))
    user = _found(users.set_password(user_id, form.password.data))
    flash(_("New password set for %(email)s.", email=user.email))
    return redirect(url_for("users.users"))


@bp.post("/users/<int:user_id>/active")
@admin_required
def toggle_active(user_id: int):
    """Deactivate (they cannot sign in; their name stays in timelines) or reactivate."""
    try:
        user = _found(users.toggle_active(user_id, current_user.id))
        flash(_("%(email)s is active again.", email=user.email) if user.active
              else _("%(email)s is deactivated.", email=user.email))
    except users.UserError as exc:
        flash(fault(exc), "error")
    return redirect(url_for("users.users"))


@bp.post("/users/<int:user_id>/role")
@admin_required
def set_role(user_id: int):
    """Make a user an admin, a responder or a viewer; it holds from their next request."""
    try:
        user = _found(users.set_role(user_id, request.form.get("role", ""), current_user.id))
        flash(_("%(email)s is now: %(role)s.", email=user.email, role=word(user.role)))
    except users.UserError as exc:
        flash(fault(exc), "error")
    return redirect(url_for("users.users"))


@bp.post("/users/<int:user_id>/second-factors/reset")
@admin_required
def reset_factors(user_id: int):
    """Remove a user's second factors (a lost phone): they sign in with their password, then set one up."""
    user = _found(second_factors.reset(user_id))
    flash(_("Second factors of %(email)s removed; their sessions ended.", email=user.email))
    return redirect(url_for("users.users"))


@bp.post("/users/invite")
@admin_required
def invite():
    """Invite someone by email: a link to set their own password (issue 19)."""
    form = InviteForm(prefix="invite")
    if form.validate_on_submit():
        try:
            user, _created = invitations.invite(invitations.Links.of(current_app.config), form.email.data,
                                                role=form.role.data, now=clock.now())
        except ValueError as exc:
            form.email.errors.append(fault(exc))
        else:
            flash(_("Invitation mailed to %(email)s.", email=user.email))
            return redirect(url_for("users.users"))
    return _page(invite_form=form, status=422)


@bp.post("/users/<int:user_id>/invite")
@admin_required
def invite_again(user_id: int):
    """Mail a user without a password a new invitation."""
    try:
        user = _found(invitations.invite_again(invitations.Links.of(current_app.config), user_id, clock.now()))
        flash(_("Invitation mailed to %(email)s.", email=user.email))
    except invitations.InviteError as exc:
        flash(fault(exc), "error")
    return redirect(url_for("users.users"))


@bp.post("/users/invite-all")
@admin_required
def invite_all():
    """Invite every user without a password (made by an import)."""
    count = invitations.invite_all(invitations.Links.of(current_app.config), clock.now())
    flash(_("Invitations mailed: %(count)d.", count=count))
    return redirect(url_for("users.users"))
