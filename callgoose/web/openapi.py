"""The OpenAPI 3.1 document of ``POST /v1/process``, the PagerDuty-compatible ``/v2/enqueue``
(issue 18) and the JSON API (S30-S31, S36).

Served at ``/openapi.json``; ``docs/openapi.json`` is the same document (a test keeps them equal)
and schemathesis checks the live app against it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..engine.lifecycle import STATUSES
from ..services.tokens import INGEST, READ, WRITE
from . import openapi_opsgenie

bp = Blueprint("openapi", __name__)

_ERROR = {"type": "object", "required": ["error", "message"], "additionalProperties": False,
          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_INCIDENT = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "service", "title", "description", "status", "urgency", "priority", "mapping_value",
                 "duplicate_count", "created_at", "acknowledged_at", "resolved_at"],
    "properties": {
        "id": {"type": "integer"},
        "service": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "title": {"type": "string"}, "description": {"type": "string"},
        "status": {"enum": list(STATUSES)}, "urgency": {"enum": ["high", "low"]},
        "priority": {"enum": ["P1", "P2", "P3", "P4", "P5", None],
                     "description": "issue 20; null for an incident opened before priorities"},
        "mapping_value": {"type": ["string", "null"]}, "duplicate_count": {"type": "integer", "minimum": 0},
        "created_at": {"type": "string", "format": "date-time"}, "acknowledged_at": _TIME, "resolved_at": _TIME,
        "shadow": {"const": True, "description": "only on an incident opened in a shadow run: it pages nobody"},
        "snoozed_until": {"type": "string", "format": "date-time",
                          "description": "only while it is acknowledged and snoozed: then it is triggered again"},
    },
}
_REVIEW = {
    "type": "object", "required": ["incident", "summary", "root_cause", "follow_ups", "updated_at", "updated_by",
                                   "facts"],
    "properties": {
        "incident": {"type": "object", "required": ["id", "title", "service", "status", "urgency", "created_at"]},
        "summary": {"type": "string"}, "root_cause": {"type": "string"},
        "follow_ups": {"type": "array", "items": {
            "type": "object", "required": ["text", "owner_id", "owner", "link", "done"],
            "properties": {"text": {"type": "string"}, "owner_id": {"type": ["integer", "null"]},
                           "owner": {"type": ["string", "null"]}, "link": {"type": ["string", "null"]},
                           "done": {"type": "boolean"}}}},
        "updated_at": _TIME, "updated_by": {"type": ["string", "null"]},
        "facts": {"type": "array", "description": "What Callgoose knows, in order: call, rule, tried, duplicates, "
                  "replays, maintenance, page (person, channel, queued_at, sent_at, delivered, acted), time "
                  "(first_page, acknowledge, resolve: seconds, and target_seconds once incidents have priorities), "
                  "comment", "items": {
                      "type": "object", "required": ["kind", "at", "words"],
                      "properties": {"kind": {"type": "string"}, "at": _TIME, "words": {"type": "string"}}}},
    },
}
_RESULT = {
    "type": "object", "required": ["id", "resolved", "triggered"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "resolved": {"type": "object", "required": ["duplicate", "resolved"], "additionalProperties": False,
                     "properties": {"duplicate": {"type": "boolean"}, "resolved": {"type": "boolean"}}},
        "triggered": {"type": "object", "required": ["duplicate", "created"], "additionalProperties": False,
                      "properties": {"duplicate": {"type": "boolean"}, "created": {"type": "boolean"}}},
        "reason": {"type": "string", "description": "202 and 208 only: why nothing was done, in one line "
                   "(the first trigger rule's unmet condition and the value found), or which open incident "
                   "this duplicates, or that it was a replay"},
    },
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    words = {400: "A query value or body that cannot be used", 401: "Missing, unknown or revoked token",
             403: "This token may not use this operation: its scope lacks the one needed (error "
                  "insufficient_scope, the message names it), or a service token on the schedule API",
             404: "Nothing of that id or name for this token", 409: "Not allowed in the incident's status",
             413: "Body over the limit (1 MiB by default); nothing was processed",
             500: "Temporary error: nothing was stored; try again"}
    return {str(code): _json({"$ref": "#/components/schemas/Error"}, words[code]) for code in codes}


# Issue 18: PagerDuty's Events API v2, as PagerDuty documents it; the credential is the body's
# routing_key (a service token or routing key), so these operations take no header.
_URL = {"type": "string"}
_LINKS = {"type": "array", "items": {"type": "object", "required": ["href"],
                                     "properties": {"href": _URL, "text": {"type": "string"}}}}
_PD_EVENT = {
    "type": "object", "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string"}, "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255,
                      "description": "Required for acknowledge and resolve; generated for a trigger without one"},
        "payload": {"type": "object", "required": ["summary", "source", "severity"], "properties": {
            "summary": {"type": "string"}, "source": {"type": "string"},
            "severity": {"enum": ["critical", "error", "warning", "info"]},
            "timestamp": {"type": "string"}, "component": {"type": "string"}, "group": {"type": "string"},
            "class": {"type": "string"}, "custom_details": {}}},
        "links": _LINKS,
        "images": {"type": "array", "items": {"type": "object", "required": ["src"], "properties": {
            "src": _URL, "href": _URL, "alt": {"type": "string"}}}},
        "client": {"type": "string"}, "client_url": _URL},
}
_PD_CHANGE = {
    "type": "object", "required": ["routing_key", "payload"],
    "properties": {"routing_key": {"type": "string"}, "links": _LINKS,
                   "payload": {"type": "object", "required": ["summary"], "properties": {
                       "summary": {"type": "string"}, "source": {"type": "string"},
                       "timestamp": {"type": "string", "format": "date-time"}, "custom_details": {}}}},
}
_PD_SUCCESS = {"type": "object", "required": ["status", "message"], "additionalProperties": False,
               "properties": {"status": {"const": "success"}, "message": {"type": "string"},
                              "dedup_key": {"type": "string"}}}
_PD_ERROR = {"type": "object", "required": ["status", "message", "errors"], "additionalProperties": False,
             "properties": {"status": {"const": "invalid event"}, "message": {"type": "string"},
                            "errors": {"type": "array", "items": {"type": "string"}}}}


_NULLABLE_TEXT = {"type": ["string", "null"]}
_AUDIT_ENTRY = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "at", "actor_kind", "actor_id", "actor_name", "address", "subject_kind", "subject_id",
                 "subject_name", "action", "changes", "reverts", "previous_hash", "hash", "words"],
    "properties": {
        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
        "actor_kind": {"enum": ["user", "token", "link", "keypress", "push", "import", "system", "cli"]},
        "actor_id": {"type": ["integer", "null"]}, "actor_name": _NULLABLE_TEXT, "address": _NULLABLE_TEXT,
        "subject_kind": {"type": "string"}, "subject_id": {"type": ["integer", "null"]},
        "subject_name": _NULLABLE_TEXT, "action": {"type": "string"},
        "changes": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["path"],
            "properties": {"path": {"type": "array"}, "old": {}, "new": {}, "secret": {"type": "boolean"}}}},
        "reverts": {"type": ["integer", "null"]},
        "previous_hash": {"type": "string"}, "hash": {"type": "string"},
        "words": {"type": "array", "items": {"type": "string"}}}}


def _pagerduty(operation: str, summary: str, schema: dict, answer: str) -> dict:
    return {"post": {
        "operationId": operation, "summary": summary, "security": [],
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {
            "202": _json(_PD_SUCCESS, answer),
            "400": _json(_PD_ERROR, "A fault, each field named; or 'Invalid routing key' (unknown, revoked or "
                                    "global): nothing was done"),
            "413": _json(_PD_ERROR, "Body over MAX_BODY_BYTES (1 MiB by default); nothing was done"),
            **_errors(500)}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_INCIDENT_REF = {"$ref": "#/components/schemas/Incident"}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Callgoose", "version": "1",
             "description": "Incident intake (POST /v1/process, aliases /api/v1/process and "
                            "/sqibs-api/v1/process), PagerDuty's Events API v2 (POST /v2/enqueue, "
                            "/v2/change/enqueue), Opsgenie's Alert API and heartbeat pings under /v2 "
                            "(issue 18), and a JSON API for scripts. Retry every 5xx. A token has a scope: ingest "
                            "(sends alerts, and reaches the JSON API), read or write (API tokens: they send no "
                            "alerts); each operation names the one it needs in x-callgoose-scope."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "query": {"type": "apiKey", "in": "query", "name": "token"},
                            "genieKey": openapi_opsgenie.SCHEME},
        "schemas": {"Error": _ERROR, "Incident": _INCIDENT, "ProcessResult": _RESULT},
    },
    "security": [{"bearer": []}, {"query": []}],
    "paths": {
        "/v1/process": {"post": {
            "operationId": "process",
            "summary": "Process one call from a monitoring tool (S1-S33)",
            "parameters": [{"name": "from", "in": "query", "required": False, "schema": {"type": "string"},
                            "description": "Names the sender; goes into titles (S21)."}],
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": {}}, "text/plain": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "201": _json({"$ref": "#/components/schemas/ProcessResult"}, "An incident was created"),
                "200": _json({"$ref": "#/components/schemas/ProcessResult"}, "An incident was resolved"),
                "208": _json({"$ref": "#/components/schemas/ProcessResult"}, "A duplicate or a replay"),
                "202": _json({"$ref": "#/components/schemas/ProcessResult"}, "Stored; nothing to do"),
                **_errors(401, 403, 413, 500)},
        }},
        "/v2/enqueue": _pagerduty("pagerdutyEnqueue", "PagerDuty Events API v2: trigger, acknowledge or resolve "
                                  "the incident of a dedup_key (issue 18)", _PD_EVENT,
                                  '{"status": "success", "message": "Event processed", "dedup_key": ...}'),
        "/v2/change/enqueue": _pagerduty("pagerdutyChangeEnqueue", "PagerDuty change event: stored on the "
                                         "service, shown on its incidents as recent changes", _PD_CHANGE,
                                         '{"status": "success", "message": "Change event processed"}'),
        "/v1/incidents": {"get": {
            "operationId": "listIncidents", "summary": "Incidents, newest first (S36)",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": [*STATUSES, "active"]}},
                {"name": "service", "in": "query", "schema": {"type": "string"}},
                {"name": "priority", "in": "query", "schema": {"enum": ["P1", "P2", "P3", "P4", "P5"]}},
                {"name": "sort", "in": "query", "schema": {"enum": ["newest", "priority"]},
                 "description": "priority: P1 first (incidents without one last), newest first within each"},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}}],
            "responses": {"200": _json({
                "type": "object", "required": ["incidents", "page", "per_page", "pages", "total"],
                "additionalProperties": False,
                "properties": {"incidents": {"type": "array", "items": _INCIDENT_REF},
                               "page": {"type": "integer"}, "per_page": {"type": "integer"},
                               "pages": {"type": "integer"}, "total": {"type": "integer"}}}, "One page"),
                          **_errors(400, 401, 403, 404)},
        }},
        "/v1/incidents/{id}": {"get": {
            "operationId": "getIncident", "parameters": [_ID],
            "responses": {"200": _json(_INCIDENT_REF, "The incident"), **_errors(401, 403, 404)}}},
        "/v1/incidents/{id}/review": {"get": {
            "operationId": "getIncidentReview", "summary": "An incident's review (issue 20): what people wrote "
            "and what Callgoose knows", "parameters": [_ID],
            "responses": {"200": _json(_REVIEW, "The review, as the dashboard's JSON export"),
                          **_errors(401, 403, 404)}}},
        "/v1/incidents/{id}/acknowledge": {"post": {
            "operationId": "acknowledgeIncident", "parameters": [_ID],
            "responses": {"200": _json(_INCIDENT_REF, "Acknowledged (again: unchanged)"), **_errors(401, 403, 404, 409)}}},
        "/v1/incidents/{id}/snooze": {"post": {
            "operationId": "snoozeIncident", "parameters": [_ID],
            "description": "Snooze an acknowledged incident: at the time it ends, the incident is triggered again "
                           "and its escalation policy pages from level 1. Snoozing again sets a new time; a resolve "
                           "ends the snooze.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["minutes"], "additionalProperties": False,
                "properties": {"minutes": {"type": "integer", "minimum": 15, "maximum": 1440}}}}}},
            "responses": {"200": _json(_INCIDENT_REF, "Snoozed (the incident has snoozed_until)"),
                          **_errors(400, 401, 403, 404, 409)}}},
        "/v1/incidents/{id}/resolve": {"post": {
            "operationId": "resolveIncident", "parameters": [_ID],
            "responses": {"200": _json(_INCIDENT_REF, "Resolved (again: unchanged)"), **_errors(401, 403, 404)}}},
        "/v1/services/{name}/maintenance": {
            "post": {
                "operationId": "startMaintenance", "parameters": [_NAME],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"tags": {"type": "array", "maxItems": 20,
                                            "items": {"type": "array", "minItems": 1, "maxItems": 10,
                                                      "items": {"type": "string", "minLength": 1}}},
                                   "until": {"type": ["string", "null"], "format": "date-time"}}}}}},
                "responses": {"201": _json({
                    "type": "object", "required": ["service", "starts_at", "ends_at", "tags", "origin"],
                    "properties": {"service": {"type": "string"}, "starts_at": {"type": "string"},
                                   "ends_at": {"type": ["string", "null"]},
                                   "tags": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                                   "origin": {"type": "string"}}}, "Maintenance started"),
                              **_errors(400, 401, 403, 404)}},
            "delete": {
                "operationId": "endMaintenance", "parameters": [_NAME],
                "responses": {"200": _json({"type": "object", "required": ["service", "ended"],
                                            "properties": {"service": {"type": "string"},
                                                           "ended": {"type": "integer"}}},
                                           "Windows started through the API or dashboard ended"),
                              **_errors(401, 403, 404)}},
        },
        "/v1/services/{name}/simulate": {"get": {
            "operationId": "simulateService",
            "description": "Who would be paged, by what and when, if an incident opened at `at` and nobody acknowledged.",
            "parameters": [_NAME, {"name": "urgency", "in": "query", "required": False, "schema": {"enum": ["high", "low"]}},
                           {"name": "at", "in": "query", "required": False,
                            "schema": {"type": "string", "format": "date-time"}}],
            "responses": {"200": _json({
                "type": "object", "required": ["service", "urgency", "at", "policy", "steps"],
                "properties": {"service": {"type": "string"}, "urgency": {"enum": ["high", "low"]},
                               "at": {"type": "string", "format": "date-time"}, "policy": {"type": ["string", "null"]},
                               "steps": {"type": "array", "items": {
                                   "type": "object", "required": ["at", "level", "repeat", "user", "channel", "reason"],
                                   "properties": {"at": {"type": "string", "format": "date-time"},
                                                  "level": {"type": "integer", "minimum": 1},
                                                  "repeat": {"type": "integer", "minimum": 0},
                                                  "user": {"type": ["string", "null"]},
                                                  "channel": {"type": ["string", "null"]},
                                                  "reason": {"type": "string"}}}}}},
                "The simulated timeline"), **_errors(400, 401, 403, 404)}}},
        "/v1/schedules": {"get": {
            "operationId": "listSchedules", "description": "Schedules by name (global tokens only).",
            "responses": {"200": _json({"type": "object", "required": ["schedules"], "properties": {
                "schedules": {"type": "array", "items": {
                    "type": "object", "required": ["name", "time_zone"],
                    "properties": {"name": {"type": "string"}, "time_zone": {"type": "string"}}}}}},
                "The schedules"), **_errors(401, 403)}}},
        "/v1/schedules/{name}/oncall": {"get": {
            "operationId": "whoIsOnCall", "parameters": [_NAME, {"name": "at", "in": "query", "required": False,
                                                                  "schema": {"type": "string", "format": "date-time"}}],
            "responses": {"200": _json({
                "type": "object", "required": ["schedule", "at", "users", "until"], "additionalProperties": False,
                "properties": {"schedule": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                               "users": {"type": "array", "items": {"type": "string"}}, "until": _TIME}},
                "Who is on call at the instant, and until when"), **_errors(400, 401, 403, 404)}}},
        "/v1/schedules/{name}/shifts": {"get": {
            "operationId": "scheduleShifts", "parameters": [
                _NAME, {"name": "from", "in": "query", "required": True,
                        "schema": {"type": "string", "format": "date-time"}},
                {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date-time"}}],
            "responses": {"200": _json({"type": "object", "required": ["shifts"], "properties": {"shifts": {
                "type": "array", "items": {
                    "type": "object", "required": ["user", "start", "end", "source"], "additionalProperties": False,
                    "properties": {"user": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
                                   "end": {"type": "string", "format": "date-time"},
                                   "source": {"type": "string"}}}}}}, "The merged rota"),
                **_errors(400, 401, 403, 404)}}},
        "/v1/audit": {"get": {
            "operationId": "listAuditEntries",
            "description": "The audit log, newest first (issue 19; global tokens only): who changed what, when, "
                           "from where, as a structural difference and in words.",
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {"name": "actor", "in": "query", "schema": {"type": "string"},
                 "description": "An actor kind (user, token, link, keypress, push, import, system, cli) or name"},
                {"name": "subject", "in": "query", "schema": {"type": "string"},
                 "description": "A subject kind: policy, service, maintenance, service paging, user, token, "
                                "schedule, incident"},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}}],
            "responses": {"200": _json({
                "type": "object", "required": ["entries", "page", "per_page", "pages", "total"],
                "additionalProperties": False,
                "properties": {"entries": {"type": "array", "items": _AUDIT_ENTRY},
                               "page": {"type": "integer"}, "per_page": {"type": "integer"},
                               "pages": {"type": "integer"}, "total": {"type": "integer"}}}, "One page"),
                **_errors(400, 401, 403)}}},
        "/v1/reports/{name}": {"get": {
            "operationId": "getReport",
            "description": "A report of the Reports page (issue 20; global tokens only): response (time to "
                           "acknowledge and to resolve per service and week), interruptions (per person, in their "
                           "own zone), oncall (hours on call per schedule and person, with pay), rules (the "
                           "noisiest trigger rules). Default range: the last 30 days; at most 366 days.",
            "parameters": [
                {"name": "name", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": ["response", "interruptions", "oncall", "rules"]}},
                {"name": "from", "in": "query", "schema": {"type": "string"},
                 "description": "A date (YYYY-MM-DD, local midnight in zone) or an ISO 8601 time with an offset"},
                {"name": "to", "in": "query", "schema": {"type": "string"},
                 "description": "A date (inclusive: the day's end) or an ISO 8601 time with an offset"},
                {"name": "zone", "in": "query", "schema": {"type": "string"},
                 "description": "An IANA time zone the dates and weeks are read in (default UTC)"},
                {"name": "country", "in": "query", "schema": {"type": "string"},
                 "description": "oncall: count the public holidays of this country (ISO 3166 code) separately"}],
            "responses": {"200": _json({
                "type": "object", "required": ["report", "from", "to", "zone"],
                "properties": {"report": {"type": "string"}, "from": {"type": "string", "format": "date-time"},
                               "to": {"type": "string", "format": "date-time"}, "zone": {"type": "string"}}},
                "The report"), **_errors(400, 401, 403)}}},
        **openapi_opsgenie.PATHS,
    },
}


# Issue 19: the scope each operation needs (web/api.py declares the same on its views; a test
# holds the two equal). Opsgenie's API and PagerDuty's are ingestion.
_SCOPES = {"process": INGEST, "pagerdutyEnqueue": INGEST, "pagerdutyChangeEnqueue": INGEST,
           "listIncidents": READ, "getIncident": READ, "simulateService": READ, "listSchedules": READ,
           "whoIsOnCall": READ, "scheduleShifts": READ, "acknowledgeIncident": WRITE, "resolveIncident": WRITE,
            "snoozeIncident": WRITE,
            "startMaintenance": WRITE, "endMaintenance": WRITE, "listAuditEntries": READ,
            "getIncidentReview": READ, "getReport": READ}
_SCOPE_WORDS = {
    INGEST: "Scope ingest: an ingestion token; a read-only or read-write API token gets 403.",
    READ: "Scope read: a read-only or read-write API token, or an ingestion token.",
    WRITE: "Scope write: a read-write API token or an ingestion token; a read-only API token gets 403.",
}
_ROUTING_WORDS = ("Scope ingest: the routing_key is an ingestion token of one service or a routing key; "
                  "an API token is an invalid routing key.")


def _declare_scopes(paths: dict) -> None:
    """Say on every operation which token scope it needs: ``x-callgoose-scope``, the scope in its
    security requirements, and words in its description."""
    for path, item in paths.items():
        for operation in item.values():
            opsgenie = path.startswith(openapi_opsgenie.PREFIXES)
            scope = INGEST if opsgenie else _SCOPES[operation["operationId"]]
            operation["x-callgoose-scope"] = scope
            if operation.get("security") == []:  # PagerDuty's: the body's routing_key
                words = _ROUTING_WORDS
            else:
                schemes = ["genieKey"] if opsgenie else ["bearer", "query"]
                operation["security"] = [{scheme: [scope]} for scheme in schemes]
                words = _SCOPE_WORDS[scope]
            operation["description"] = f"{operation['description']} {words}" if "description" in operation else words


_declare_scopes(DOCUMENT["paths"])


@bp.get("/openapi.json")
def document():
    """The OpenAPI document (no login: it describes, it holds nothing)."""
    return jsonify(DOCUMENT)
