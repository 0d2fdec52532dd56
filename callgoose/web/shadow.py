"""The Shadow page (issue 18): what the incidents of shadow runs would have paged, per day in
the reader's time zone; and a service's switch in and out of its shadow run."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from .. import clock
from ..services import shadow
from .access import admin_required
from .i18n import viewer_zone

bp = Blueprint("shadow", __name__)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@bp.get("/shadow")
@login_required
def page():
    """Held notifications of the 14 days up to ``?until=`` (default today), newest day first."""
    found = shadow.shadow_page(viewer_zone(), clock.now(), _day(request.args.get("until")))
    return render_template("shadow/shadow.html", page=found)


@bp.post("/services/<int:service_id>/shadow")
@admin_required
def switch(service_id: int):
    """Start (``shadow=on``) or stop a service's shadow run; incidents open now stay as they are."""
    on = request.form.get("shadow") == "on"
    name = shadow.set_shadow(service_id, on)
    if name is None:
        abort(404, _("No such service (it may have been deleted)."))
    flash(_("%(name)s runs in shadow mode: its next incidents page nobody.", name=name) if on else
          _("%(name)s pages again from its next incident; incidents open in the shadow run stay in it.", name=name))
    return redirect(url_for("services.service", service_id=service_id) + "#shadow")
