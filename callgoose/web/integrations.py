"""Integration templates in the dashboard (issue 10, items 1 and 2): pick a tool, get a service
with its rules and a token, the tool's guide with this server's endpoint and the token filled
in, and a button that sends the tool's sample through the real endpoint code."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from .. import clock
from ..engine import SpecError
from ..services import templates
from .access import admin_required
from .presenters import endpoint_url
from .i18n import say

bp = Blueprint("integrations", __name__)


@bp.get("/welcome")
@admin_required
def welcome():
    """The first run: which tool sends your alerts?"""
    return render_template("integrations/pick.html", choices=templates.all_templates().values(), first_run=True)


@bp.get("/integrations")
@login_required
def pick():
    return render_template("integrations/pick.html", choices=templates.all_templates().values(), first_run=False)


@bp.post("/integrations")
@admin_required
def create():
    """Make the service and its token from a template, and show the guide with the token (once)."""
    key = request.form.get("template", "")
    try:
        made = templates.set_up(request.form.get("name", "").strip() or key, key, clock.now())
    except SpecError as exc:
        flash(_("Not created: %(message)s.", message=say(exc.message)), "error")
        return redirect(url_for("integrations.welcome" if request.form.get("first_run") else "integrations.pick"))
    response = make_response(render_template("integrations/guide.html", made=made,
                                             endpoint=endpoint_url(made.template.path)))
    response.headers["Cache-Control"] = "no-store"  # the token is on this page
    return response


@bp.get("/services/<int:service_id>/guide/<key>")
@login_required
def guide(service_id: int, key: str):
    """A template's guide for a service that exists (the token placeholder stays)."""
    made = templates.guide_for(service_id, key)
    if made is None:
        abort(404, _("No such service or template."))
    return render_template("integrations/guide.html", made=made, endpoint=endpoint_url(made.template.path))
