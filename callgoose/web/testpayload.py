"""The test payload form: a dry run (the real pipeline, rolled back) or a real call."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields import SelectChoice

from .. import clock
from ..extensions import db
from ..services import ingestion, tokens
from .forms import TestPayloadForm
from .presenters import SAMPLE, explain, outcome, why_nothing
from .wake import wake_worker

bp = Blueprint("testpayload", __name__)
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "none"]


def _form() -> TestPayloadForm:
    form = TestPayloadForm()
    form.token.choices = [SelectChoice(str(t.id), _("%(token)s (service %(service)s, %(prefix)s…)", token=t.name,
                                                    service=name, prefix=t.prefix) if name else
                                        _("%(token)s (global, %(prefix)s…)", token=t.name, prefix=t.prefix))
                          for t, name in tokens.live_tokens()]
    form.content_type.choices = [SelectChoice(c, _("none") if c == "none" else c) for c in CONTENT_TYPES]
    if request.method == "GET":
        form.body.data = SAMPLE
    return form


def _shown(result: ingestion.CallResult, dry: bool) -> dict:
    """What the form shows of a result: the answer a tool would get, and per service why."""
    return {"dry": dry, "status": result.status, "body": json.dumps(result.body, indent=2),
            "call_id": result.call_id, "why": why_nothing(result.results) if result.status == 202 else None,
            "services": [(r, explain(r)) for r in result.results]}


@bp.route("/test", methods=["GET", "POST"])
@login_required
def form():
    """Show the form; on submit, run the payload and show the answer and the reasons."""
    form, result, dry = _form(), None, True
    if form.validate_on_submit():
        dry = not form.send.data
        if not dry and not current_user.is_admin:
            abort(403, _("Responders can dry-run payloads; only admins send real calls with a token."))
        result = ingestion.test_call(
            db.engine, current_app.extensions["callgoose_specs"], int(form.token.data),
            form.body.data.encode("utf-8"), None if form.content_type.data == "none" else form.content_type.data,
            form.source.data or None, clock.now(), current_app.config["DUPLICATE_WINDOW_SECONDS"], dry_run=dry)
    return _respond(form, _shown(result, dry) if result else None, dry)


def _respond(form, shown, dry: bool):
    response = make_response(render_template("testpayload/form.html", form=form, result=shown, outcome=outcome),
                             422 if form.errors else 200)
    if shown and not dry:  # a real call: the list refreshes, and this process's worker looks now
        response.headers["HX-Trigger"] = "incidents-changed"
        wake_worker()
    return response
