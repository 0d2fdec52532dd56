"""The API log: every call received, and why each service did what it did (S33)."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from .. import clock
from ..extensions import db
from ..services import apilog, replay
from .access import admin_required
from .params import page_number, whole_number
from .presenters import (
    charset_note,
    explain,
    outcome,
    payload_tree,
    pretty_payload,
    rule_key,
)

bp = Blueprint("apilog", __name__)
PER_PAGE = 50
_CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STATUSES = (201, 200, 208, 202, 413)


def _filters() -> dict:
    args = request.args
    status = whole_number(args.get("status"), "status", 100, 599)
    return {"status": status if status in STATUSES else None,
            "token": whole_number(args.get("token"), "token"),
            "service": whole_number(args.get("service"), "service"),
            "page": page_number(args)}


@bp.get("/calls")
@login_required
def calls():
    """Calls newest first, filtered by status, token and service."""
    f = _filters()
    found = apilog.calls(status=f["status"], token_id=f["token"], service_id=f["service"], page=f["page"],
                         per_page=PER_PAGE)
    return render_template("apilog/calls.html", calls=found, rows=found.rows, filters=f, statuses=STATUSES,
                           pages=max(1, -(-found.total // PER_PAGE)), outcome=outcome)


@bp.get("/calls/<call_id>")
@login_required
def call(call_id: str):
    """One call: what was received, what was answered, and per service what happened and why."""
    found = apilog.call_page(call_id) if _CALL_ID.fullmatch(call_id) else None
    if found is None:
        abort(404, _("No such API call (it may have been deleted by retention)."))
    item, targets = found
    payload, links = pretty_payload(item.payload)
    return render_template("apilog/call.html", call=item, payload=payload, tree=payload_tree(item.payload),
                           targets=targets, services=[(r, explain(r)) for r in item.outcomes], outcome=outcome,
                           charset_note=charset_note(item.content_type), rule_key=rule_key)


@bp.post("/calls/replay")
@admin_required
def replay_calls():
    """Process stored calls again through the current rules (S26-S28 apply: nothing doubles)."""
    ids = [i for i in request.form.getlist("call") if _CALL_ID.fullmatch(i)]
    status = whole_number(request.form.get("status"), "status", 100, 599)
    done = replay.replay_request(db.engine, ids, status, whole_number(request.form.get("hours"), "hours", 1, 720),
                                 current_user.email, clock.now(), current_app.config["DUPLICATE_WINDOW_SECONDS"],
                                 current_app.config["SHADOW"])
    said = ", ".join(f"{n} × {s} {outcome(s)}" for s, n in done.summary().items()) or _("nothing to replay")
    flash(ngettext("Replayed %(num)d call: %(said)s.", "Replayed %(num)d calls: %(said)s.", len(done.statuses),
                   said=said) + (" " + ngettext("%(num)d could not be replayed (not found, or not a 2xx).",
                                                 "%(num)d could not be replayed (not found, or not a 2xx).",
                                                 len(done.skipped)) if done.skipped else ""))
    return redirect(url_for("apilog.calls", status=request.form.get("back_status") or None))
