"""The Priorities page (issue 20): P1-P5 with their labels, colours, urgencies and response
targets; everyone signed in reads it, admins change it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..engine import SpecError
from ..engine.priorities import ON_MISS
from ..services import priorities
from .access import admin_required
from .i18n import fault

bp = Blueprint("priorities", __name__)


@bp.get("/priorities")
@login_required
def page():
    return render_template("priorities/priorities.html", priorities=priorities.table(), on_miss=ON_MISS)


@bp.post("/priorities")
@admin_required
def save():
    try:
        priorities.save_form(request.form)
    except SpecError as exc:
        flash(fault(exc), "error")
        return render_template("priorities/priorities.html", priorities=priorities.table(), on_miss=ON_MISS,
                               posted=request.form), 400
    flash(_("Priorities saved; new incidents use them now."))
    return redirect(url_for("priorities.page"))
