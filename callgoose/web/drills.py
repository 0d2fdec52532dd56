"""Fire drills for admins (issue 17, item 6): the drills, their runs' reports, add, delete, run now."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from .. import clock
from ..engine import SpecError
from ..services import drills
from .access import admin_required
from .forms import DrillForm
from .i18n import say

bp = Blueprint("drills", __name__)


def _page(form: DrillForm | None = None, status: int = 200):
    screen = drills.screen()
    form = form or DrillForm(formdata=None, time_zone=current_user.time_zone or "UTC")
    form.target.choices = [(f"schedule:{i}", _("Schedule %(name)s", name=n)) for i, n in screen.schedules] + \
        [(f"user:{i}", e) for i, e in screen.people]
    return render_template("drills/drills.html", screen=screen, form=form, minutes=drills.DRILL_MINUTES), status


@bp.get("/drills", endpoint="drills")
@admin_required
def drills_page():
    return _page()


@bp.post("/drills")
@admin_required
def add():
    form = DrillForm()
    if form.validate_on_submit():
        try:
            drills.add(form.target.data, form.weekday.data, form.week.data, form.time.data.strip(),
                       form.time_zone.data.strip(), current_user.id, clock.now())
        except SpecError as exc:
            getattr(form, exc.path, form.target).errors.append(say(exc.message))
        else:
            flash(_("Drill added."))
            return redirect(url_for("drills.drills"))
    return _page(form, 422)


@bp.post("/drills/<int:drill_id>/delete")
@admin_required
def delete(drill_id: int):
    if not drills.delete(drill_id, clock.now()):
        abort(404, _("No such drill."))
    flash(_("Drill deleted."))
    return redirect(url_for("drills.drills"))


@bp.post("/drills/<int:drill_id>/run")
@admin_required
def run_now(drill_id: int):
    incident_id = drills.run_now(drill_id, clock.now())
    if incident_id is None:
        abort(404, _("No such drill."))
    flash(ngettext("The drill is running: it resolves itself when acknowledged, or after %(num)s minute.",
                   "The drill is running: it resolves itself when acknowledged, or after %(num)s minutes.",
                   drills.DRILL_MINUTES))
    return redirect(url_for("dashboard.incident", incident_id=incident_id))
