"""Schedules in the dashboard: who is on call now and next, a two-week timeline in the
viewer's zone, and overrides ("I'll take Ana's shift on 24 December")."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import clock
from ..engine import SpecError
from ..engine.schedules import known_zone, local_instant
from ..services import readiness, schedules, simulator
from .access import admin_required
from .i18n import fault, say
from .params import local_path

bp = Blueprint("schedules", __name__)
ZONE_CHOICES = sorted(available_timezones())


def viewer_zone(schedule_zone: str) -> str:
    """``?tz=`` when it names a zone, else the viewer's own zone (one zone per reader on every
    page), else the schedule's."""
    asked = request.args.get("tz") or request.form.get("tz") or ""
    mine = current_user.time_zone or ""
    return next((name for name in (asked, mine, schedule_zone) if known_zone(name)), "UTC")


@bp.get("/schedules")
@login_required
def overview():
    return render_template("schedules/list.html", rows=schedules.now_and_next(clock.now()))


@bp.get("/schedules/<int:schedule_id>")
@login_required
def schedule(schedule_id: int):
    page = schedules.timeline_page(schedule_id, viewer_zone, request.args.get("from"), clock.now())
    if page is None:
        abort(404, _("No such schedule."))
    return render_template("schedules/schedule.html", page=page, now=clock.now())


@bp.post("/schedules/<int:schedule_id>/overrides")
@login_required
def add_override(schedule_id: int):
    try:
        added = schedules.add_override(schedule_id, request.form.get("user", type=int) or current_user.id,
                                       request.form.get("start", ""), request.form.get("end", ""), viewer_zone,
                                       clock.now())
    except SpecError as exc:
        flash(_("No override: %(path)s %(message)s.", path=exc.path, message=say(exc.message)), "error")
        return redirect(url_for("schedules.schedule", schedule_id=schedule_id, tz=request.form.get("tz"),
                                **{"from": request.form.get("from")}))
    if added is None:
        abort(404, _("No such schedule."))
    flash(_("Override added."), "message")
    return redirect(url_for("schedules.schedule", schedule_id=schedule_id, tz=added[1],
                            **{"from": request.form.get("from")}))


@bp.post("/schedules/<int:schedule_id>/overrides/<int:override_id>/delete")
@login_required
def delete_override(schedule_id: int, override_id: int):
    done = schedules.delete_override(schedule_id, override_id)
    flash(_("Override deleted.") if done else _("That override was already gone."), "message" if done else "error")
    return redirect(url_for("schedules.schedule", schedule_id=schedule_id))


@bp.get("/services/<int:service_id>/simulate")
@login_required
def simulate(service_id: int):
    """Who would be paged if an incident opened at a moment (now, or any time ahead)."""
    zone = viewer_zone("UTC")
    urgency = request.args.get("urgency") if request.args.get("urgency") in ("high", "low") else "high"
    at = local_instant(request.args.get("at"), zone) or clock.now()
    found = simulator.for_service_id(service_id, urgency, at)
    if found is None:
        abort(404, _("No such service."))
    return render_template("schedules/simulate.html", sim=found, zone=zone, at_text=request.args.get("at", ""))


@bp.get("/ical/<secret>.ics")
def feed(secret: str):
    """A secret calendar feed (the URL is the credential; revoking it ends it)."""
    text = schedules.feed_text(secret, clock.now())
    if text is None:
        abort(404, _("No such calendar feed (it may have been revoked)."))
    return Response(text, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=300"})


@bp.post("/calendar-feeds")
@login_required
def create_feed():
    schedule_id = request.form.get("schedule_id", type=int)
    secret = schedules.create_feed(current_user.id, schedule_id, clock.now())
    if secret is None:
        abort(404, _("No such schedule."))
    flash(_("Subscribe in your calendar to %(url)s (shown once; anyone with the link sees the shifts: revoke it on "
            "My notifications).", url=url_for("schedules.feed", secret=secret, _external=True)), "message")
    return redirect(local_path(request.form.get("next")) or url_for("paging.mine"))


@bp.post("/calendar-feeds/<int:feed_id>/revoke")
@login_required
def revoke_feed(feed_id: int):
    done = schedules.revoke_feed(feed_id, current_user.id, current_user.is_admin, clock.now())
    flash(_("Calendar link revoked: it no longer works.") if done else _("No such calendar link."),
          "message" if done else "error")
    return redirect(url_for("paging.mine"))


@bp.get("/readiness")
@login_required
def readiness_page():
    """What would page nobody in the next 14 days."""
    return render_template("schedules/readiness.html", findings=readiness.report(clock.now()))


@bp.post("/notifications/me/handoffs")
@login_required
def handoff_notices():
    on = request.form.get("on") == "1"
    readiness.set_handoff_notices(current_user.id, on)
    flash(_("You get a notice when a shift of yours starts.") if on else _("No more notices when your shifts start."),
          "message")
    return redirect(url_for("paging.mine"))


@bp.get("/schedules/new")
@bp.get("/schedules/<int:schedule_id>/edit")
@login_required
def edit(schedule_id: int | None = None):
    """The schedule's form: its name, zone and layers, one row each."""
    editor = schedules.editor_of(schedule_id, current_user.email, viewer_zone("UTC"), clock.now())
    if editor is None:
        abort(404, _("No such schedule."))
    return render_template("schedules/edit.html", editor=editor, zones=ZONE_CHOICES)


@bp.post("/schedules/new")
@bp.post("/schedules/<int:schedule_id>/edit")
@admin_required
def save(schedule_id: int | None = None):
    editor = schedules.edit_with_form(schedule_id, request.form.to_dict(), clock.now())
    if editor is None:
        abort(404, _("No such schedule."))
    if editor.saved is None:
        return render_template("schedules/edit.html", editor=editor, zones=ZONE_CHOICES), 422 if editor.error else 200
    flash(_("Schedule saved.") + (" " + say(editor.warning) if editor.warning else ""),
          "error" if editor.warning else "message")
    return redirect(url_for("schedules.schedule", schedule_id=editor.saved))


@bp.get("/schedules/new/json")
@bp.get("/schedules/<int:schedule_id>/json")
@login_required
def edit_json(schedule_id: int | None = None):
    """The schedule as JSON (the configuration document's entry, overrides included)."""
    text = schedules.document_of(schedule_id)
    if text is None:
        abort(404, _("No such schedule."))
    return render_template("schedules/edit_json.html", schedule_id=schedule_id, text=text, error=None)


@bp.post("/schedules/new/json")
@bp.post("/schedules/<int:schedule_id>/json")
@admin_required
def save_json(schedule_id: int | None = None):
    text = request.form.get("document", "")
    try:
        saved = schedules.save_document(schedule_id, text, clock.now())
    except SpecError as exc:
        return render_template("schedules/edit_json.html", schedule_id=schedule_id, text=text, error=fault(exc)), 422
    if saved is None:
        abort(404, _("No such schedule."))
    flash(_("Schedule saved."), "message")
    return redirect(url_for("schedules.schedule", schedule_id=saved))


@bp.post("/schedules/<int:schedule_id>/delete")
@admin_required
def delete(schedule_id: int):
    try:
        name = schedules.delete_schedule(schedule_id)
    except SpecError as exc:
        flash(_("Not deleted: %(message)s.", message=say(exc.message)), "error")
        return redirect(url_for("schedules.schedule", schedule_id=schedule_id))
    if name is None:
        abort(404, _("No such schedule."))
    flash(_("Schedule %(name)s deleted.", name=name), "message")
    return redirect(url_for("schedules.overview"))
