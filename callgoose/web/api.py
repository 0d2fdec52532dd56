"""The JSON API for scripts (S36), with the same tokens as the endpoint.

A service token reaches only its own service: anything else answers 404.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from .. import clock
from ..engine import SpecError
from ..engine.config import build_tags, parse_document, parse_time
from ..extensions import db
from ..services import incidents
from ..services.catalog import end_maintenance, start_maintenance
from ..store.database import begin_session_write
from ..store.models import Service
from .bearer import require_token
from .errors import json_error
from .params import page_number

bp = Blueprint("api", __name__, url_prefix="/v1")
PER_PAGE = 50


def _not_found(what: str = "incident"):
    return json_error(404, f"No such {what} for this token.")


@bp.get("/incidents")
@require_token
def list_incidents():
    """Incidents newest first: ``?status=triggered|acknowledged|resolved|active&service=&page=``."""
    status = request.args.get("status") or None
    if status is not None and status not in (*incidents.STATUSES, "active"):
        return json_error(400, "status must be triggered, acknowledged, resolved or active")
    page = page_number(request.args)
    service_id = g.api_token.service_id
    name = request.args.get("service")
    if name:
        service = _service(name)
        if service is None:
            return _not_found("service")
        service_id = service.id
    result = incidents.list_incidents(status=status, service_id=service_id, page=page,
                                      per_page=PER_PAGE, with_payload=True)
    return jsonify({"incidents": [incidents.to_dict(i, s) for i, s in result.items],
                    "page": result.page, "per_page": result.per_page, "pages": result.pages,
                    "total": result.total})


@bp.get("/incidents/<int:incident_id>")
@require_token
def get_incident(incident_id: int):
    found = incidents.get_incident(incident_id, g.api_token.service_id)
    return jsonify(incidents.to_dict(*found)) if found else _not_found()


def _act(action, incident_id: int):
    try:
        found = action(incident_id, clock.now(), actor=f"API token {g.api_token.name}",
                       service_id=g.api_token.service_id)
    except incidents.IncidentStateError as exc:
        return json_error(409, str(exc))
    return jsonify(incidents.to_dict(*found)) if found else _not_found()


@bp.post("/incidents/<int:incident_id>/acknowledge")
@require_token
def acknowledge(incident_id: int):
    return _act(incidents.acknowledge, incident_id)


@bp.post("/incidents/<int:incident_id>/resolve")
@require_token
def resolve(incident_id: int):
    return _act(incidents.resolve, incident_id)


def _service(name: str) -> Service | None:
    """A service by name, if this token reaches it."""
    if "\x00" in name:
        return None  # no service has such a name (and PostgreSQL cannot compare it)
    query = select(Service).where(Service.name == name, Service.live())
    if g.api_token.service_id is not None:
        query = query.where(Service.id == g.api_token.service_id)
    return db.session.execute(query).scalar_one_or_none()


@bp.post("/services/<name>/maintenance")
@require_token
def start_service_maintenance(name: str):
    """Start maintenance now, until ``until`` (null: no end), for ``tags`` (empty: every request)."""
    now = clock.now()
    try:
        doc = parse_document(request.get_data(as_text=True) or "{}")
        if not isinstance(doc, dict) or set(doc) - {"tags", "until"}:
            raise SpecError("", 'send a JSON object {"tags": [["staging"]], "until": null}')
        tags = build_tags(doc.get("tags", []), "tags")
        until = parse_time(doc.get("until"), "until")
    except SpecError as exc:
        return json_error(400, str(exc))
    if until is not None and until <= now:
        return json_error(400, "until: must be in the future")
    begin_session_write()
    service = _service(name)
    if service is None:
        return _not_found("service")
    try:
        window = start_maintenance(service, tags, until, now, origin="api")
    except SpecError as exc:  # the cap on windows per service
        db.session.rollback()
        return json_error(400, str(exc))
    db.session.commit()
    return jsonify(window), 201


@bp.delete("/services/<name>/maintenance")
@require_token
def end_service_maintenance(name: str):
    """End the maintenance started through the API or the dashboard."""
    begin_session_write()
    service = _service(name)
    if service is None:
        return _not_found("service")
    ended = end_maintenance(service)
    db.session.commit()
    return jsonify({"service": service.name, "ended": ended})
