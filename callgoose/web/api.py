"""The JSON API for scripts (S36), with the same tokens as the endpoint.

A service token reaches only its own service: anything else answers 404. Each route declares the
scope it needs (issue 19): reads take ``read``, acknowledge, snooze, resolve and maintenance ``write``;
an ingestion token has both, a read-only API token only ``read`` (services/tokens.GRANTS).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from .. import clock
from ..engine import SpecError
from ..engine.config import build_tags, parse_document, parse_time
from ..engine.lifecycle import Action
from ..engine.priorities import CODES as PRIORITIES
from ..services import audit, catalog, incidents, reviews, schedules, simulator
from ..services.reports import NAMES as REPORTS
from .bearer import require_token
from .errors import json_error
from .params import audit_filters, page_number, query_time, report_args

bp = Blueprint("api", __name__, url_prefix="/v1")
PER_PAGE = 50


def _not_found(what: str = "incident"):
    return json_error(404, f"No such {what} for this token.")


def _list_fault(status: str | None, priority: str | None, sort: str | None) -> str | None:
    """Why the incident list's query is refused (400), or None."""
    if status is not None and status not in (*incidents.STATUSES, "active"):
        return "status must be triggered, acknowledged, resolved or active"
    if priority is not None and priority not in PRIORITIES:
        return f"priority must be one of {', '.join(PRIORITIES)}"
    if sort not in (None, "newest", "priority"):
        return "sort must be newest or priority"
    return None


@bp.get("/incidents")
@require_token("read")
def list_incidents():
    """Incidents newest first (or ``sort=priority``: P1 first): ``?status=triggered|acknowledged|
    resolved|active&service=&priority=P1..P5&sort=newest|priority&page=``."""
    status, priority, sort = (request.args.get(name) or None for name in ("status", "priority", "sort"))
    fault = _list_fault(status, priority, sort)
    if fault:
        return json_error(400, fault)
    service = catalog.reachable_service(request.args["service"], g.api_token.service_id) \
        if request.args.get("service") else None
    if request.args.get("service") and service is None:
        return _not_found("service")
    scope = service.id if service is not None else g.api_token.service_id
    result = incidents.list_incidents(incidents.Query(status=status, service_id=scope, page=page_number(request.args),
                                                      per_page=PER_PAGE, priority=priority, sort=sort or "newest"),
                                      with_payload=True)
    return jsonify({"incidents": [incidents.to_dict(i, s) for i, s in result.items], "page": result.page,
                    "per_page": result.per_page, "pages": result.pages, "total": result.total})


@bp.get("/incidents/<int:incident_id>")
@require_token("read")
def get_incident(incident_id: int):
    found = incidents.get_incident(incident_id, g.api_token.service_id)
    return jsonify(incidents.to_dict(*found)) if found else _not_found()


@bp.get("/incidents/<int:incident_id>/review")
@require_token("read")
def get_review(incident_id: int):
    """An incident's review (issue 20, item 5): what people wrote and what Callgoose knows."""
    found = reviews.document(incident_id, g.api_token.service_id)
    return jsonify(found) if found is not None else _not_found()


def _act(action: Action, incident_id: int):
    try:
        found = incidents.act(action, incident_id, clock.now(), actor=f"API token {g.api_token.name}",
                              service_id=g.api_token.service_id)
    except incidents.IncidentStateError as exc:
        return json_error(409, str(exc))
    return jsonify(incidents.to_dict(*found)) if found else _not_found()


@bp.post("/incidents/<int:incident_id>/acknowledge")
@require_token("write")
def acknowledge(incident_id: int):
    return _act(Action.ACKNOWLEDGE, incident_id)


@bp.post("/incidents/<int:incident_id>/snooze")
@require_token("write")
def snooze(incident_id: int):
    """Snooze an acknowledged incident for ``{"minutes": N}`` (15 to 1440); 409 when it is not acknowledged."""
    body = request.get_json(silent=True)
    try:
        found = incidents.snooze(incident_id, clock.now(), body.get("minutes") if isinstance(body, dict) else None,
                                 actor=f"API token {g.api_token.name}", service_id=g.api_token.service_id)
    except incidents.IncidentStateError as exc:
        return json_error(409, str(exc))
    except ValueError as exc:
        return json_error(400, f'Send {{"minutes": N}}: {exc}.')
    return jsonify(incidents.to_dict(*found)) if found else _not_found()


@bp.post("/incidents/<int:incident_id>/resolve")
@require_token("write")
def resolve(incident_id: int):
    return _act(Action.RESOLVE, incident_id)


def _maintenance_request(now: float):
    """``{"tags": [[...]], "until": ISO time | null}`` from the body. :raises SpecError:"""
    doc = parse_document(request.get_data(as_text=True) or "{}")
    if not isinstance(doc, dict) or set(doc) - {"tags", "until"}:
        raise SpecError("", 'send a JSON object {"tags": [["staging"]], "until": null}')
    tags = build_tags(doc.get("tags", []), "tags")
    until = parse_time(doc.get("until"), "until")
    if until is not None and until <= now:
        raise SpecError("until", "must be in the future")
    return tags, until


@bp.post("/services/<name>/maintenance")
@require_token("write")
def start_service_maintenance(name: str):
    """Start maintenance now, until ``until`` (null: no end), for ``tags`` (empty: every request)."""
    now = clock.now()
    try:
        tags, until = _maintenance_request(now)
        window = catalog.token_maintenance(name, g.api_token.service_id, tags, until, now)
    except SpecError as exc:  # a bad body, or the cap on windows per service
        return json_error(400, str(exc))
    return (jsonify(window), 201) if window is not None else _not_found("service")


@bp.delete("/services/<name>/maintenance")
@require_token("write")
def end_service_maintenance(name: str):
    """End the maintenance started through the API or the dashboard."""
    ended = catalog.token_end_maintenance(name, g.api_token.service_id)
    return jsonify(ended) if ended is not None else _not_found("service")


def _global_only(what: str = "The schedule API"):
    """The schedule API and the audit log take global tokens (a service token's scope is one service)."""
    if g.api_token.service_id is not None:
        return json_error(403, f"{what} takes a global token; this one is scoped to a service.")
    return None


@bp.get("/audit")
@require_token("read")
def list_audit():
    """Audit entries newest first (issue 19): ``?since=&actor=&subject=&page=``, a global token only."""
    refused = _global_only("The audit log")
    if refused:
        return refused
    f = audit_filters(request.args)
    found = audit.entries(page=f["page"], per_page=PER_PAGE, since=f["since"], actor=f["actor"],
                          subject=f["subject"])
    return jsonify({"entries": [audit.to_dict(e) for e in found.items], "page": found.page,
                    "per_page": found.per_page, "pages": found.pages, "total": found.total})


@bp.get("/schedules")
@require_token("read")
def list_schedules():
    refused = _global_only()
    return refused or jsonify({"schedules": [{"name": n, "time_zone": z} for n, z in schedules.names()]})


@bp.get("/schedules/<name>/oncall")
@require_token("read")
def schedule_oncall(name: str):
    """Who is on call ``at`` (default now), and ``until`` when that stays so."""
    refused = _global_only()
    if refused:
        return refused
    at = query_time(request.args.get("at"), "at") or clock.now()
    found = schedules.who_is_on_call(name, at)
    if found is None:
        return _not_found("schedule")
    return jsonify({"schedule": found.schedule, "at": clock.iso(clock.to_db(found.at)), "users": found.users,
                    "until": clock.iso(clock.to_db(found.until))})


@bp.get("/schedules/<name>/shifts")
@require_token("read")
def schedule_shifts(name: str):
    """The final merged rota between ``from`` and ``to`` (both required, at most 90 days apart)."""
    refused = _global_only()
    start, end = query_time(request.args.get("from"), "from"), query_time(request.args.get("to"), "to")
    if refused or start is None or end is None:
        return refused or json_error(400, "from and to are required ISO 8601 times with an offset or Z.")
    try:
        found = schedules.shifts(name, start, end)
    except schedules.BadRange as exc:
        return json_error(400, str(exc))
    return jsonify({"shifts": found}) if found is not None else _not_found("schedule")


@bp.get("/services/<name>/simulate")
@require_token("read")
def simulate_service(name: str):
    """Who would be paged, by what and when, for an incident of ``urgency`` opened ``at`` (default
    now), if nobody acknowledged."""
    urgency = request.args.get("urgency", "high")
    if urgency not in ("high", "low"):
        return json_error(400, "urgency must be high or low")
    at = query_time(request.args.get("at"), "at") or clock.now()
    found = simulator.for_token(name, g.api_token.service_id, urgency, at)
    if found is None:
        return _not_found("service")
    result, emails = found
    return jsonify({"service": name, "urgency": urgency, "at": clock.iso(clock.to_db(at)), "policy": result.policy,
                    "steps": [{"at": clock.iso(clock.to_db(s.at)), "level": s.level + 1, "repeat": s.round,
                               "user": emails.get(s.user) if s.user is not None else None, "channel": s.channel,
                               "reason": s.reason} for s in result.steps]})


@bp.get("/reports/<name>")
@require_token("read")
def report(name: str):
    """A report of the Reports page as JSON (issue 20): ``?from=&to=&zone=&country=`` (dates or
    ISO times; default the last 30 days in UTC), a global token only."""
    refused = _global_only("The reports API")
    if not refused and name not in REPORTS:
        return _not_found("report")
    found = refused or report_args((name,), request.args, "UTC")[name]
    return refused or jsonify({"report": name, "from": clock.iso(clock.to_db(found.range.start)),
                               "to": clock.iso(clock.to_db(found.range.end)), "zone": found.range.zone, **found.data})
