"""The test payload form: a dry run (the real pipeline, rolled back) or a real call."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields import SelectChoice

from .. import clock
from ..extensions import db
from ..services.ingestion import process_call, specs_for
from ..services.tokens import TokenInfo
from ..store.models import ApiToken, Service
from .forms import TestPayloadForm
from .presenters import explain, outcome, why_nothing

bp = Blueprint("testpayload", __name__)

SAMPLE = json.dumps({
    "version": "4", "status": "firing", "receiver": "callgoose", "groupKey": "{}:{alertname=\"HighCPU\"}",
    "commonLabels": {"alertname": "HighCPU", "instance": "db1:9100", "severity": "critical"},
    "commonAnnotations": {"summary": "CPU above 90% on db1", "description": "5m load average is 12.3"},
    "alerts": [{"status": "firing", "labels": {"alertname": "HighCPU", "instance": "db1:9100"},
                "startsAt": "2026-11-26T10:00:00Z", "generatorURL": "http://prometheus.local/graph"}],
}, indent=2)
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "none"]


def _form() -> TestPayloadForm:
    form = TestPayloadForm()
    rows = db.session.execute(select(ApiToken, Service.name).outerjoin(Service, Service.id == ApiToken.service_id)
                              .where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.name)).all()
    form.token.choices = [SelectChoice(str(t.id), f"{t.name} ({name or 'global'}, {t.prefix}…)")
                          for t, name in rows]
    form.content_type.choices = [SelectChoice(c, c) for c in CONTENT_TYPES]
    if request.method == "GET":
        form.body.data = SAMPLE
    return form


@bp.route("/test", methods=["GET", "POST"])
@login_required
def form():
    """Show the form; on submit, run the payload and show the answer and the reasons."""
    form = _form()
    result = None
    if form.validate_on_submit():
        token = db.session.get(ApiToken, int(form.token.data))
        info = TokenInfo(token.id, token.name, token.service_id, token.last_used_at)
        specs = specs_for(db.engine, current_app.extensions["callgoose_specs"], info.service_id)
        content_type = None if form.content_type.data == "none" else form.content_type.data
        dry = not form.send.data
        if not dry and not current_user.is_admin:
            abort(403, "Responders can dry-run payloads; only admins send real calls with a token.")
        result = process_call(db.engine, info, specs, form.body.data.encode("utf-8"), content_type,
                              form.source.data or None, clock.now(),
                              current_app.config["DUPLICATE_WINDOW_SECONDS"], dry_run=dry)
        result = {"dry": dry, "status": result.status, "body": json.dumps(result.body, indent=2),
                  "call_id": result.call_id,
                  "why": why_nothing(result.results) if result.status == 202 else None,
                  "services": [(r, explain(r)) for r in result.results]}
    response = make_response(render_template("testpayload/form.html", form=form, result=result,
                                             outcome=outcome),
                             422 if form.errors else 200)
    if result and not result["dry"]:
        response.headers["HX-Trigger"] = "incidents-changed"
    return response
