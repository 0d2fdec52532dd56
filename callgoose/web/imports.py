"""Services → Import (issue 18, item 4): upload what PagerDuty, Opsgenie or Grafana OnCall's
API returned, see the plan and the rota check, then import it (admins only).

The plan page carries the importer's result back in a hidden field, so the Import button
imports exactly what was shown (checked again against the database when it is pressed).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from .. import clock
from ..services import audit, importing
from ..services.importing import ExportError
from .access import admin_required

bp = Blueprint("imports", __name__)
TEMPLATE = "services/import_from.html"


def _limit() -> int:
    """Let this request be as large as an export may be (the app's limit is the API's)."""
    request.max_content_length = request.max_form_memory_size = current_app.config["IMPORT_MAX_BYTES"]
    return request.max_content_length


def _page(status: int = 200, tool: str = "pagerduty", **values):
    return render_template(TEMPLATE, tools=importing.TOOLS, tool=tool, **values), status


@bp.get("/services/import-from")
@admin_required
def form():
    """The upload form."""
    return _page()


@bp.post("/services/import-from")
@admin_required
def plan():
    """Read the uploaded files and show the plan; nothing is saved."""
    limit = _limit()
    try:
        files = [(f.filename or "", f.read(limit + 1)) for f in request.files.getlist("files")]
        report = importing.read_upload(request.form.get("tool", ""), files, limit)
    except RequestEntityTooLarge:
        return _page(413, error=_("the upload is larger than %(size)s", size=importing.size(limit)))
    except ExportError as exc:
        return _page(422, request.form.get("tool", ""), error=str(exc))
    return _page(plan=report.data(), bundle=importing.bundle(report))


@bp.post("/services/import-from/apply")
@admin_required
def apply():
    """Import what the plan showed, in one transaction, and show the plan again."""
    _limit()
    try:
        with audit.acting_as("import", current_user.id, current_user.email):
            report, counts = importing.apply_bundle(request.form.get("bundle", ""), clock.now())
    except RequestEntityTooLarge:
        return _page(413, error=_("the plan is too large for the dashboard: use %(command)s",
                                  command="flask --app callgoose import-from"))
    except ExportError as exc:
        return _page(422, error=str(exc))
    return _page(plan=report.data(), done=counts)
