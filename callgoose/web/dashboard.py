"""The dashboard: live incident list, incident detail, API tokens.

Every tab is a full page; what htmx swaps comes from a partial route that always returns
the fragment (``/incidents/rows``), so no view branches on ``HX-Request``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms.fields import SelectChoice

from .. import clock
from ..engine.lifecycle import Action, snooze_minutes
from ..engine.priorities import CODES
from ..services import catalog, incidents, priorities, simulator, tokens
from .access import admin_required
from .forms import CommentForm, TokenForm
from .i18n import fault, word
from .params import page_number, text, whole_number
from .presenters import SAMPLE, endpoint_url, pretty_payload

bp = Blueprint("dashboard", __name__)
PER_PAGE = 50
STATUS_FILTERS = incidents.STATUS_FILTERS


def _filters() -> dict:
    args = request.args
    status = args.get("status", "active")
    service = whole_number(args.get("service"), "service")
    return {"status": status if status in STATUS_FILTERS else "active",
            "service": str(service) if service is not None else "",
            "urgency": args.get("urgency") if args.get("urgency") in ("high", "low") else "",
            "priority": args.get("priority") if args.get("priority") in CODES else "",
            "sort": "priority" if args.get("sort") == "priority" else "",
            "q": text(args.get("q"), "the search text"),
            "page": page_number(args)}


def _query(filters: dict) -> incidents.Query:
    return incidents.Query(status=None if filters["status"] == "all" else filters["status"],
                           service_id=int(filters["service"]) if filters["service"] else None,
                           urgency=filters["urgency"] or None, text=filters["q"] or None,
                           priority=filters["priority"] or None, sort=filters["sort"] or "newest",
                           page=filters["page"], per_page=PER_PAGE)


@bp.get("/")
@login_required
def index():
    return redirect(url_for("dashboard.incidents"))


@bp.get("/incidents", endpoint="incidents")
@login_required
def incidents_page():
    """The live incident list with its filters."""
    filters = _filters()
    screen = incidents.list_screen(_query(filters), clock.now())
    return render_template("dashboard/incidents.html", filters=filters, page=screen.page, marker=screen.marker,
                           triggered=screen.triggered, services=screen.services, statuses=STATUS_FILTERS,
                           on_call=screen.on_call, readiness=screen.readiness, priorities=screen.priorities,
                           due=screen.due)


@bp.get("/incidents/rows")
@login_required
def incident_rows():
    """The list body for polling: 204 (htmx swaps nothing) while nothing changed."""
    filters = _filters()
    screen = incidents.rows_if_changed(_query(filters), request.args.get("marker"))
    if screen is None:
        return "", 204
    return render_template("partials/incident_rows.html", filters=filters, page=screen.page,
                           marker=screen.marker, triggered=screen.triggered, partial=True,
                           priorities=screen.priorities, due=screen.due)


@bp.get("/incidents/<int:incident_id>")
@login_required
def incident(incident_id: int):
    """One incident: its fields, the payload that opened it, its timeline and actions."""
    found = incidents.detail(incident_id)
    if found is None:
        abort(404, _("No such incident."))
    item = found.incident
    pretty, links = pretty_payload(item.payload) if item.payload_digest else (None, [])
    return render_template("dashboard/incident.html", incident=item, service_name=found.service_name,
                           marker=found.marker, call=found.call, payload=pretty, links=links,
                           events=found.events, paging=found.paging, form=CommentForm(), drill=found.drill,
                           changes=found.changes, priorities=found.priorities, targets=found.targets)


@bp.get("/incidents/<int:incident_id>/live")
@login_required
def incident_live(incident_id: int):
    """Polled by an open incident page: 204 while nothing changed, else reload the page."""
    if request.args.get("marker") == incidents.incident_marker(incident_id):
        return "", 204
    return "", 200, {"HX-Refresh": "true"}


ACTIONS = {"acknowledge": Action.ACKNOWLEDGE, "unacknowledge": Action.UNACKNOWLEDGE, "resolve": Action.RESOLVE}
BULK_ACTIONS = ("acknowledge", "resolve")


def _back(default: str):
    """Redirect to the page the action came from (same site only), else to ``default``."""
    referrer = request.referrer
    return redirect(referrer if referrer and referrer.startswith(request.host_url) else default)


def _act(incident_id: int, action: Action, **kwargs):
    try:
        found = incidents.act(action, incident_id, clock.now(), actor=current_user.email,
                              user_id=current_user.id, **kwargs)
        if found is None:
            abort(404, _("No such incident."))
    except incidents.IncidentStateError as exc:
        flash(word(str(exc)), "error")  # engine.lifecycle's refusal, in the reader's language
    response = make_response(_back(url_for("dashboard.incident", incident_id=incident_id)))
    response.headers["HX-Trigger"] = "incidents-changed"
    return response


@bp.post("/incidents/<int:incident_id>/<any(acknowledge, unacknowledge, resolve):action>")
@login_required
def incident_action(incident_id: int, action: str):
    """Acknowledge, unacknowledge or resolve one incident."""
    return _act(incident_id, ACTIONS[action])


@bp.post("/incidents/<int:incident_id>/snooze")
@login_required
def snooze(incident_id: int):
    """Snooze an acknowledged incident: one of the choices, or a custom number of minutes."""
    minutes = (request.form.get("custom") or "").strip() or request.form.get("minutes")
    try:
        return _act(incident_id, Action.SNOOZE, until=clock.now() + 60 * snooze_minutes(minutes))
    except ValueError:
        flash(_("Snooze for 15 minutes to 24 hours (1440 minutes)."), "error")
        return redirect(url_for("dashboard.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/comment")
@login_required
def comment(incident_id: int):
    form = CommentForm()
    if not form.validate_on_submit():
        flash(_("A comment needs some text (at most 5000 characters)."), "error")
        return redirect(url_for("dashboard.incident", incident_id=incident_id))
    return _act(incident_id, Action.COMMENT, note=form.text.data.strip())


@bp.post("/incidents/<int:incident_id>/priority")
@login_required
def set_priority(incident_id: int):
    """A responder or admin changes an incident's priority (issue 20): timeline and audit log."""
    code = request.form.get("priority")
    changed = priorities.change_incident(incident_id, code, clock.now(), actor=current_user.email,
                                         user_id=current_user.id) if code in CODES else False
    if changed is None:
        abort(404, _("No such incident."))
    if code not in CODES:
        flash(_("Choose a priority from P1 to P5."), "error")
    response = make_response(_back(url_for("dashboard.incident", incident_id=incident_id)))
    response.headers["HX-Trigger"] = "incidents-changed"
    return response


@bp.post("/incidents/bulk")
@login_required
def bulk():
    """Acknowledge or resolve the incidents ticked in the list."""
    name = request.form.get("action")
    ids = [i for i in (whole_number(i, "incident id") for i in request.form.getlist("ids")) if i is not None]
    if name not in BULK_ACTIONS or not ids:
        flash(_("Tick some incidents and choose an action."), "error")
    else:
        done = incidents.bulk(ACTIONS[name], ids, clock.now(), actor=current_user.email, user_id=current_user.id)
        flash(ngettext("Acknowledged %(num)d incident.", "Acknowledged %(num)d incidents.", done) if name == "acknowledge"
              else ngettext("Resolved %(num)d incident.", "Resolved %(num)d incidents.", done))
    return _back(url_for("dashboard.incidents"))


# -- API tokens ---------------------------------------------------------------------------

def _token_form(empty: bool = False) -> TokenForm:
    form = TokenForm(formdata=None) if empty else TokenForm()
    form.service.choices = [SelectChoice("", _("Global: all enabled services"))] + [
        SelectChoice(str(s.id), _("Service: %(name)s", name=s.name)) for s in catalog.live_services()]
    return form


def _tokens_tab(form: TokenForm, created: dict | None = None, status: int = 200):
    # Who the test call would page, said before it is sent (it opens a real incident).
    paged = (simulator.paged_at_once(created["token"].service_id, clock.now())
             if created and created["token"].scope == tokens.INGEST else [])
    return render_template("dashboard/tokens.html", endpoint=endpoint_url(), events_url=endpoint_url("/v2/enqueue"),
                           api_url=endpoint_url("/v1/incidents"), form=form,
                           rows=tokens.token_rows(), created=created, sample=SAMPLE, paged=paged), status


@bp.get("/tokens", endpoint="tokens")
@login_required
def tokens_tab():
    """The API Token tab: the endpoint, how to call it, and the tokens.

    A token just made is shown here once: it waits in the session for this one page, so a
    reload neither shows it again nor makes another (post, redirect, get).
    """
    new = session.pop("new_token", None)
    token = tokens.find_token(new["id"]) if new else None
    if token is None:
        return _tokens_tab(_token_form())
    response = make_response(_tokens_tab(_token_form(empty=True), {"token": token, "plaintext": new["plaintext"]}))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens")
@admin_required
def create_token_view():
    """Create a token and show it, once."""
    form = _token_form()
    if not form.validate_on_submit():
        return _tokens_tab(form, status=422)
    try:
        token, plaintext = tokens.add_token(form.name.data, int(form.service.data) if form.service.data else None,
                                            clock.now(), tokens.ROUTING_KEY if form.routing_key.data else "token",
                                            form.kind.data)
    except ValueError as exc:
        form.name.errors = [fault(exc)]
        return _tokens_tab(form, status=422)
    return _show_once(token, plaintext)


def _show_once(token, plaintext: str):
    """Post, redirect, get: the token waits in the session for the one page that shows it."""
    session["new_token"] = {"id": token.id, "plaintext": plaintext}
    return redirect(url_for("dashboard.tokens"), 303)


@bp.post("/tokens/<int:token_id>/rotate")
@admin_required
def rotate_token_view(token_id: int):
    """Replace a token: a new one with the same name and scope; the old one is revoked."""
    rotated = tokens.rotate(token_id, clock.now())
    if rotated is None:
        abort(404, _("No such live token."))
    old, token, plaintext = rotated
    flash(_("The old %(name)s token (%(prefix)s…) is revoked; put the new one into the tool now.", name=old.name,
            prefix=old.prefix))
    return _show_once(token, plaintext)


@bp.post("/tokens/<int:token_id>/revoke")
@admin_required
def revoke_token_view(token_id: int):
    revoked = tokens.revoke(token_id, clock.now())
    if revoked is None:
        abort(404, _("No such token."))
    token, was_live = revoked
    if was_live:
        flash(_("Token %(name)s (%(prefix)s…) is revoked: calls with it now get 401.", name=token.name,
                prefix=token.prefix))
    return redirect(url_for("dashboard.tokens"))
