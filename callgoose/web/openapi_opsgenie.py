"""The OpenAPI paths of Opsgenie's Alert API and heartbeat pings (issue 18, web/opsgenie.py),
merged into the document of web/openapi.py."""

from __future__ import annotations

from ..engine.opsgenie import IDENTIFIER_TYPES, PRIORITIES

SECURITY = [{"genieKey": []}]
PREFIXES = ("/v2/alerts", "/v2/heartbeats")  # every path here: ingestion (issue 19)
SCHEME = {"type": "apiKey", "in": "header", "name": "Authorization",
          "description": "GenieKey <token>: a Callgoose token of one service (a global token is refused)"}
_FILLED = {"type": "string", "pattern": r"\S"}  # a required text: not only white space
_ACCEPTED = {"type": "object", "required": ["result", "took", "requestId"], "additionalProperties": False,
             "properties": {"result": {"type": "string"}, "took": {"type": "number"}, "requestId": {"type": "string"}}}
_ERROR = {"type": "object", "required": ["message", "took", "requestId"], "additionalProperties": False,
          "properties": {"message": {"type": "string"}, "took": {"type": "number"}, "requestId": {"type": "string"},
                         "errors": {"type": "object", "additionalProperties": {"type": "string"},
                                    "description": "422: the fields at fault"}}}
_STATUS = {"type": "object", "required": ["data", "took", "requestId"], "additionalProperties": False, "properties": {
    "data": {"type": "object", "additionalProperties": False,
             "required": ["success", "action", "processedAt", "integrationId", "isSuccess", "status", "alertId",
                          "alias"],
             "properties": {"success": {"type": "boolean"}, "isSuccess": {"type": "boolean"},
                            "action": {"type": "string"}, "processedAt": {"type": "string"},
                            "integrationId": {"type": "string"}, "status": {"type": "string"},
                            "alertId": {"type": "string"}, "alias": {"type": "string"}}},
    "took": {"type": "number"}, "requestId": {"type": "string"}}}
_TEXT = {"type": "string"}
_WHO = {"user": _TEXT, "source": _TEXT, "note": _TEXT}
_CREATE = {"type": "object", "required": ["message"], "properties": {
    "message": _FILLED, "alias": _TEXT, "description": _TEXT, "tags": {"type": "array", "items": _TEXT},
    "details": {"type": "object", "additionalProperties": _TEXT}, "entity": _TEXT, "source": _TEXT,
    "priority": {"enum": list(PRIORITIES)}, "note": _TEXT, "user": _TEXT,
    "responders": {"type": "array", "description": "read, not used: the service's policy pages"}}}
_WORDS = {202: "Accepted and stored; GET /v2/alerts/requests/{requestId} tells what it did",
          400: "The body is not one JSON object", 401: "Missing, unknown or revoked key, or a global token",
          403: "An API token (read or write scope, issue 19): this API takes an ingestion token",
          404: "No such request (or path)", 413: "Body over the limit (1 MiB by default)",
          422: "A field that cannot be used; errors names it",
          500: "Temporary error: nothing was stored; try again"}


def _answers(*codes: int) -> dict:
    def one(code: int) -> dict:
        schema = _ACCEPTED if code == 202 else _STATUS if code == 200 else _ERROR
        return {"description": _WORDS.get(code, "What the request did"),
                "content": {"application/json": {"schema": schema}}}
    return {str(code): one(code) for code in codes}


def _body(schema: dict) -> dict:
    return {"required": False, "content": {"application/json": {"schema": schema}}}


_IDENTIFIER = [{"name": "identifier", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},
               {"name": "identifierType", "in": "query", "required": False,
                "schema": {"enum": list(IDENTIFIER_TYPES)},
                "description": "id (the default) and tiny: the Callgoose incident id; alias: the open alert's alias"}]


def _action(operation: str, summary: str, body: dict) -> dict:
    return {"operationId": operation, "summary": summary, "security": SECURITY, "parameters": _IDENTIFIER,
            "requestBody": {**_body({"type": "object", **body}), "required": "required" in body},
            "responses": _answers(202, 400, 401, 403, 404, 413, 422, 500)}  # 404: an identifier no URL can carry


def _ping(method: str) -> dict:
    return {"operationId": f"pingHeartbeat{method.title()}", "security": SECURITY,
            "summary": "Ping Heartbeat: the heartbeat of that name of the key's service (the first ping creates it)",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"}}],
            "responses": _answers(202, 401, 403, 413, 422, 500)}


PATHS = {
    "/v2/alerts": {"post": {
        "operationId": "opsgenieCreateAlert", "security": SECURITY, "requestBody": {**_body(_CREATE), "required": True},
        "summary": "Create Alert: an incident on the key's service; an open alert's alias is a duplicate (S26)",
        "responses": _answers(202, 400, 401, 403, 413, 422, 500)}},
    "/v2/alerts/{identifier}/close": {"post": _action("opsgenieCloseAlert", "Close Alert: resolve it", {
        "properties": _WHO})},
    "/v2/alerts/{identifier}/acknowledge": {"post": _action("opsgenieAcknowledgeAlert", "Acknowledge Alert", {
        "properties": _WHO})},
    "/v2/alerts/{identifier}/notes": {"post": _action("opsgenieAddNote", "Add Note: a timeline comment", {
        "required": ["note"], "properties": {**_WHO, "note": _FILLED}})},
    "/v2/alerts/{identifier}/message": {
        method: _action(f"opsgenieUpdateMessage{method.title()}", "Update Alert Message: its title", {
            "required": ["message"], "properties": {"message": _FILLED}}) for method in ("put", "post")},
    "/v2/alerts/{identifier}/description": {
        method: _action(f"opsgenieUpdateDescription{method.title()}", "Update Alert Description", {
            "properties": {"description": _TEXT}}) for method in ("put", "post")},
    "/v2/alerts/requests/{requestId}": {"get": {
        "operationId": "opsgenieRequestStatus", "security": SECURITY,
        "summary": "Get Request Status: what an Alert API request of the key's service did",
        "parameters": [{"name": "requestId", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": _answers(200, 401, 403, 404, 500)}},
    "/v2/heartbeats/{name}/ping": {method: _ping(method) for method in ("get", "post", "put", "patch")},
}
