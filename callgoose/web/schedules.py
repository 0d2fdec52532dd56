"""Schedules in the dashboard: who is on call now and next, a two-week timeline in the
viewer's zone, and overrides ("I'll take Ana's shift on 24 December")."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import clock
from ..engine import SpecError
from ..services import schedules

bp = Blueprint("schedules", __name__)


def viewer_zone(schedule_zone: str) -> str:
    """``?tz=`` when it names a zone, else the viewer's own zone unless it is plain UTC, else the
    schedule's."""
    asked = request.args.get("tz") or request.form.get("tz") or ""
    mine = current_user.time_zone if current_user.time_zone not in (None, "", "UTC") else ""
    for name in (asked, mine, schedule_zone):
        try:
            if name:
                ZoneInfo(name)
                return name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return "UTC"


@bp.get("/schedules")
@login_required
def overview():
    return render_template("schedules/list.html", rows=schedules.now_and_next(clock.now()))


@bp.get("/schedules/<int:schedule_id>")
@login_required
def schedule(schedule_id: int):
    page = schedules.timeline_page(schedule_id, viewer_zone, request.args.get("from"), clock.now())
    if page is None:
        abort(404, "No such schedule.")
    return render_template("schedules/schedule.html", page=page, tz=ZoneInfo(page.zone), now=clock.now())


@bp.post("/schedules/<int:schedule_id>/overrides")
@login_required
def add_override(schedule_id: int):
    try:
        added = schedules.add_override(schedule_id, request.form.get("user", type=int) or current_user.id,
                                       request.form.get("start", ""), request.form.get("end", ""), viewer_zone,
                                       clock.now())
    except SpecError as exc:
        flash(f"No override: {exc.path} {exc.message}.", "error")
        return redirect(url_for("schedules.schedule", schedule_id=schedule_id, tz=request.form.get("tz")))
    if added is None:
        abort(404, "No such schedule.")
    flash("Override added.", "message")
    return redirect(url_for("schedules.schedule", schedule_id=schedule_id, tz=added[1]))


@bp.post("/schedules/<int:schedule_id>/overrides/<int:override_id>/delete")
@login_required
def delete_override(schedule_id: int, override_id: int):
    done = schedules.delete_override(schedule_id, override_id)
    flash("Override deleted." if done else "That override was already gone.", "message" if done else "error")
    return redirect(url_for("schedules.schedule", schedule_id=schedule_id))
