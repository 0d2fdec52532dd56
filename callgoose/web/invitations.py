"""Invitations and "Forgot password?" (issue 19): public pages whose credential is a signed,
single-use link mailed to the person (services/invitations.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, render_template, request
from flask_babel import gettext as _

from .. import clock
from ..engine import SpecError
from ..engine.signing import BadLink
from ..services import invitations
from ..services.contact_methods import check_method
from .access import after_password
from .forms import ForgotForm, NewPasswordForm
from .i18n import LANGUAGES, fault, link_problem

bp = Blueprint("invitations", __name__)
FIRST_CHANNELS = ("email", "sms")  # an invitation's optional first contact method


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """Ask for a reset link: the same answer whether or not the address has an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        invitations.forgot(invitations.Links.of(current_app.config), form.email.data, clock.now())
        return render_template("auth/forgot.html", form=form, sent=True)
    return render_template("auth/forgot.html", form=form, sent=False), 422 if form.errors else 200


def _void(problem: str):
    return render_template("auth/link_void.html", problem=link_problem(problem)), 410


def _link_page(token: str, purpose: str):
    """GET shows the form; POST sets the password (and the rest) and signs in."""
    try:
        link = invitations.opened(current_app.config["SECRET_KEY"], token, purpose, clock.now())
    except BadLink as exc:
        return _void(str(exc))
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            method = _first_method() if purpose == "invite" else None
            user_id = invitations.accept(current_app.config["SECRET_KEY"], token, purpose, form.password.data,
                                         clock.now(),
                                         time_zone=request.form.get("time_zone", ""),
                                         language=request.form.get("language", ""), method=method)
        except BadLink as exc:
            return _void(str(exc))
        except SpecError as exc:  # a time zone, a contact method
            flash(fault(exc), "error")
        except ValueError as exc:
            form.password.errors.append(fault(exc))
        else:
            answer = after_password(user_id)  # a reset keeps the second factors: they are asked for
            flash(_("Welcome to Callgoose.") if purpose == "invite" else _("Your new password is set."))
            return answer
    status = 422 if request.method == "POST" else 200
    return render_template("auth/set_password.html", form=form, link=link, languages=LANGUAGES,
                           channels=FIRST_CHANNELS, values=request.form), status


def _first_method():
    """The invitation's optional first contact method, checked; None when left empty."""
    address = request.form.get("method_address", "").strip()
    if not address:
        return None
    channel = request.form.get("method_channel", "sms")
    if channel not in FIRST_CHANNELS:
        channel = "sms"
    return check_method("SMS" if channel == "sms" else "Email", channel, {"address": address})


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _link_page(token, "invite")


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _link_page(token, "reset")
