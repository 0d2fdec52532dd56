"""Payloads and request helpers the tests share (plain functions; the fixtures are in conftest)."""

import json

NOTHING = {"resolved": {"duplicate": False, "resolved": False},
           "triggered": {"duplicate": False, "created": False}}


T0 = 1_800_000_000.0  # the clock of tests that set it (the ``now`` fixture)

ALERTMANAGER = {
    "name": "checkout-api",
    "trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "commonAnnotations.summary",
                 "description_from": "commonAnnotations.description",
                 "map_incident_with": "groupKey"}],
    "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                 "incident_mapped_with": "groupKey"}],
}


def firing(key: str = "g1", summary: str = "CPU high", **extra) -> dict:
    return {"status": "firing", "groupKey": key,
            "commonAnnotations": {"summary": summary, "description": "cpu at 99%"}, **extra}


def resolved(key: str = "g1") -> dict:
    return {"status": "resolved", "groupKey": key}




def as_json(value):
    """A JSON column as read back: text on SQLite, already parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def post(client, token, body, *, path="/v1/process", query="", headers=None, content_type=None):
    """POST a body (a dict or list is sent as JSON) with a Bearer token."""
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    if isinstance(body, (dict, list)):
        body, content_type = json.dumps(body), content_type or "application/json"
    return client.post(path + query, data=body, headers=headers, content_type=content_type)


def flags(response):
    """The S30 flags of an answer (asserting its keys)."""
    body = response.get_json()
    assert set(body) - {"reason"} == {"id", "resolved", "triggered"}  # S30's fields, exactly as they are
    assert ("reason" in body) == (response.status_code in (202, 208)), body  # issue 10: a 202 or 208 says why
    assert "reason" not in body or (isinstance(body["reason"], str) and body["reason"]), body
    return {k: body[k] for k in ("resolved", "triggered")}
