"""The dashboard: live incident list, incident detail, API tokens.

Every tab is a full page; what htmx swaps comes from a partial route that always returns
the fragment (``/incidents/rows``), so no view branches on ``HX-Request``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields import SelectChoice

from .. import clock
from ..engine import Payload, clean
from ..engine.payload import pretty_json
from ..extensions import db
from ..services import incidents
from ..services.tokens import create_token, find_token, revoke_token
from ..store.database import begin_session_write
from ..store.models import ApiToken, Service
from .auth import admin_required
from .forms import CommentForm, TokenForm
from .params import page_number, text, whole_number
from .presenters import plural
from .testpayload import SAMPLE

bp = Blueprint("dashboard", __name__)
PER_PAGE = 50
STATUS_FILTERS = {"active": "Open (triggered or acknowledged)", "triggered": "Triggered",
                  "acknowledged": "Acknowledged", "resolved": "Resolved", "all": "All"}


def endpoint_url() -> str:
    """The full endpoint URL: from BASE_URL when set, else from the request's host."""
    base = current_app.config.get("BASE_URL") or request.host_url
    return base.rstrip("/") + "/v1/process"


def _filters() -> dict:
    args = request.args
    status = args.get("status", "active")
    service = whole_number(args.get("service"), "service")
    return {"status": status if status in STATUS_FILTERS else "active",
            "service": str(service) if service is not None else "",
            "urgency": args.get("urgency") if args.get("urgency") in ("high", "low") else "",
            "q": text(args.get("q"), "the search text"),
            "page": page_number(args)}


def _incident_page(filters: dict) -> incidents.Page:
    return incidents.list_incidents(
        status=None if filters["status"] == "all" else filters["status"],
        service_id=int(filters["service"]) if filters["service"] else None,
        urgency=filters["urgency"] or None, text=filters["q"] or None,
        page=filters["page"], per_page=PER_PAGE)


def _services() -> list[Service]:
    return list(db.session.execute(select(Service).where(Service.live()).order_by(Service.name)).scalars())


@bp.get("/")
@login_required
def index():
    return redirect(url_for("dashboard.incidents"))


@bp.get("/incidents", endpoint="incidents")
@login_required
def incidents_page():
    """The live incident list with its filters."""
    filters = _filters()
    return render_template("dashboard/incidents.html", filters=filters, page=_incident_page(filters),
                           marker=incidents.change_marker(), triggered=incidents.triggered_count(),
                           services=_services(), statuses=STATUS_FILTERS)


@bp.get("/incidents/rows")
@login_required
def incident_rows():
    """The list body for polling: 204 (htmx swaps nothing) while nothing changed."""
    marker = incidents.change_marker()
    if request.args.get("marker") == marker:
        return "", 204
    filters = _filters()
    return render_template("partials/incident_rows.html", filters=filters, page=_incident_page(filters),
                           marker=marker, triggered=incidents.triggered_count(), partial=True)


def pretty_payload(text: str) -> tuple[str, list[str]]:
    """Indented JSON (or the text as sent), and the http(s) links found in the payload."""
    data = Payload.from_text(text).data  # the engine's own reading of "is JSON" (S8)
    if data is None:
        return text, []
    links, stack = [], [data]
    while stack and len(links) < 10:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and node.startswith(("http://", "https://")) and node not in links:
            links.append(clean(node))
    return pretty_json(data), links


@bp.get("/incidents/<int:incident_id>")
@login_required
def incident(incident_id: int):
    """One incident: its fields, the payload that opened it, its timeline and actions."""
    found = incidents.get_incident(incident_id)
    if found is None:
        abort(404, "No such incident.")
    item, service_name = found
    call = incidents.creating_call(item)
    pretty, links = pretty_payload(item.payload) if item.payload_digest else (None, [])
    return render_template("dashboard/incident.html", incident=item, service_name=service_name,
                           marker=incidents.incident_marker(incident_id),
                           call=call, payload=pretty, links=links, events=incidents.timeline(incident_id),
                           form=CommentForm())


@bp.get("/incidents/<int:incident_id>/live")
@login_required
def incident_live(incident_id: int):
    """Polled by an open incident page: 204 while nothing changed, else reload the page."""
    if request.args.get("marker") == incidents.incident_marker(incident_id):
        return "", 204
    return "", 200, {"HX-Refresh": "true"}


ACTIONS = {"acknowledge": incidents.acknowledge, "unacknowledge": incidents.unacknowledge,
           "resolve": incidents.resolve}
BULK_ACTIONS = ("acknowledge", "resolve")


def _back(default: str):
    """Redirect to the page the action came from (same site only), else to ``default``."""
    referrer = request.referrer
    return redirect(referrer if referrer and referrer.startswith(request.host_url) else default)


def _act(incident_id: int, action, **kwargs):
    try:
        found = action(incident_id, clock.now(), actor=current_user.email, user_id=current_user.id, **kwargs)
        if found is None:
            abort(404, "No such incident.")
    except incidents.IncidentStateError as exc:
        flash(str(exc), "error")
    response = make_response(_back(url_for("dashboard.incident", incident_id=incident_id)))
    response.headers["HX-Trigger"] = "incidents-changed"
    return response


@bp.post("/incidents/<int:incident_id>/<any(acknowledge, unacknowledge, resolve):action>")
@login_required
def incident_action(incident_id: int, action: str):
    """Acknowledge, unacknowledge or resolve one incident."""
    return _act(incident_id, ACTIONS[action])


@bp.post("/incidents/<int:incident_id>/comment")
@login_required
def comment(incident_id: int):
    form = CommentForm()
    if not form.validate_on_submit():
        flash("A comment needs some text (at most 5000 characters).", "error")
        return redirect(url_for("dashboard.incident", incident_id=incident_id))
    return _act(incident_id, incidents.comment, text=form.text.data)


@bp.post("/incidents/bulk")
@login_required
def bulk():
    """Acknowledge or resolve the incidents ticked in the list."""
    name = request.form.get("action")
    ids = [whole_number(i, "incident id") for i in request.form.getlist("ids")]
    ids = [i for i in ids if i is not None]
    if name not in BULK_ACTIONS or not ids:
        flash("Tick some incidents and choose an action.", "error")
    else:
        done = 0
        for incident_id in ids:
            try:
                done += ACTIONS[name](incident_id, clock.now(), actor=current_user.email,
                                      user_id=current_user.id) is not None
            except incidents.IncidentStateError:
                pass
        flash(f"{name.capitalize()}d {plural(done, 'incident')}.")
    return _back(url_for("dashboard.incidents"))


# -- API tokens ---------------------------------------------------------------------------

def _token_form(empty: bool = False) -> TokenForm:
    form = TokenForm(formdata=None) if empty else TokenForm()
    form.service.choices = [SelectChoice("", "Global: all enabled services")] + [
        SelectChoice(str(s.id), f"Service: {s.name}") for s in _services()]
    return form


def _token_rows():
    return db.session.execute(select(ApiToken, Service.name).outerjoin(
        Service, Service.id == ApiToken.service_id).order_by(ApiToken.revoked_at.is_not(None),
                                                            ApiToken.created_at.desc())).all()


@bp.get("/tokens")
@login_required
def tokens():
    """The API Token tab: the endpoint, how to call it, and the tokens.

    A token just made is shown here once: it waits in the session for this one page, so a
    reload neither shows it again nor makes another (post, redirect, get).
    """
    new = session.pop("new_token", None)
    token = find_token(new["id"]) if new else None
    if token is not None:
        return _show_new_token(token, new["plaintext"])
    return render_template("dashboard/tokens.html", endpoint=endpoint_url(), form=_token_form(),
                           rows=_token_rows(), created=None)


@bp.post("/tokens")
@admin_required
def create_token_view():
    """Create a token and show it, once."""
    form = _token_form()
    if not form.validate_on_submit():
        return render_template("dashboard/tokens.html", endpoint=endpoint_url(), form=form,
                               rows=_token_rows(), created=None), 422
    begin_session_write()
    try:
        token, plaintext = create_token(form.name.data, int(form.service.data) if form.service.data else None,
                                        clock.now())
    except ValueError as exc:
        db.session.rollback()
        form.name.errors = [str(exc)]
        return render_template("dashboard/tokens.html", endpoint=endpoint_url(), form=form,
                               rows=_token_rows(), created=None), 422
    db.session.commit()
    session["new_token"] = {"id": token.id, "plaintext": plaintext}
    return redirect(url_for("dashboard.tokens"), 303)


def _show_new_token(token: ApiToken, plaintext: str):
    """The tab with a new token shown, this once (never cached)."""
    response = make_response(render_template("dashboard/tokens.html", endpoint=endpoint_url(),
                                             form=_token_form(empty=True), rows=_token_rows(),
                                             created={"token": token, "plaintext": plaintext},
                                             sample=SAMPLE))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<int:token_id>/rotate")
@admin_required
def rotate_token_view(token_id: int):
    """Replace a token: a new one with the same name and scope; the old one is revoked."""
    begin_session_write()
    old = find_token(token_id)
    if old is None or old.revoked_at is not None:
        abort(404, "No such live token.")
    revoke_token(old, clock.now())
    token, plaintext = create_token(old.name, old.service_id, clock.now())
    db.session.commit()
    flash(f"The old {old.name} token ({old.prefix}…) is revoked; put the new one into the tool now.")
    session["new_token"] = {"id": token.id, "plaintext": plaintext}
    return redirect(url_for("dashboard.tokens"), 303)


@bp.post("/tokens/<int:token_id>/revoke")
@admin_required
def revoke_token_view(token_id: int):
    begin_session_write()
    token = find_token(token_id)
    if token is None:
        abort(404, "No such token.")
    if token.revoked_at is None:
        revoke_token(token, clock.now())
        db.session.commit()
        flash(f"Token {token.name} ({token.prefix}…) is revoked: calls with it now get 401.")
    return redirect(url_for("dashboard.tokens"))
