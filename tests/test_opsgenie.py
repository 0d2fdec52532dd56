"""Issue 18: Opsgenie's Alert API and heartbeat pings, on SQLite and PostgreSQL: what a sender
that speaks Opsgenie gets when its URL points at Callgoose."""

from __future__ import annotations

import json

import pytest
from helpers import T0, as_json, configure, paged_service, post

from callgoose import clock

doc = paged_service  # checkout-api paging Ana by email


@pytest.fixture
def key(app, setup):
    """A service token of checkout-api (the GenieKey)."""
    configure(app, doc())
    return setup.token("alertmanager", service="checkout-api")


def call(client, key, path, body=None, method="POST", scheme="GenieKey", raw=None, content_type="application/json"):
    headers = {"Authorization": f"{scheme} {key}"} if key is not None else {}
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return client.open(path, method=method, data=data, headers=headers,
                       content_type=content_type if data is not None else None)


def accepted(response, result="Request will be processed"):
    body = response.get_json()
    assert response.status_code == 202, body
    assert set(body) == {"result", "took", "requestId"} and body["result"] == result
    assert isinstance(body["took"], float) and response.headers["X-Request-ID"] == body["requestId"]
    return body["requestId"]


def incidents(setup):
    return setup.query("SELECT id, title, description, status, urgency, mapping_value, duplicate_count, facts "
                       "FROM incidents ORDER BY id")


def status_of(client, key, request_id):
    response = call(client, key, f"/v2/alerts/requests/{request_id}", method="GET")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"data", "took", "requestId"}
    assert set(body["data"]) == {"success", "action", "processedAt", "integrationId", "isSuccess", "status",
                                 "alertId", "alias"}
    assert body["data"]["success"] is body["data"]["isSuccess"]
    return body["data"]


CREATE = {"message": "Disk full on db-1", "alias": "disk-db-1", "description": "/var at 99%",
          "tags": ["prod"], "details": {"instance": "db-1:9100"}, "priority": "P2", "source": "cron"}


def test_create_duplicate_acknowledge_and_close_by_alias(client, key, setup):
    first = accepted(call(client, key, "/v2/alerts", CREATE))
    [row] = incidents(setup)
    assert row[1:7] == ("Disk full on db-1", "/var at 99%", "triggered", "high", "disk-db-1", 0)
    assert as_json(row[7]) == {"labels": [["instance", "db-1:9100"]], "tags": ["prod"], "source": "cron",
                               "priority": "P2"}
    assert status_of(client, key, first)["status"] == "Created alert"

    again = accepted(call(client, key, "/v2/alerts", CREATE))
    assert [r[6] for r in incidents(setup)] == [1]  # the open alert's alias: a duplicate (S26), one incident
    assert status_of(client, key, again) | {"processedAt": None} == {
        "success": True, "action": "Create", "processedAt": None, "integrationId": status_of(client, key, first)[
            "integrationId"], "isSuccess": True, "status": "Alert is open already; its count was increased",
        "alertId": str(row[0]), "alias": "disk-db-1"}

    ack = accepted(call(client, key, "/v2/alerts/disk-db-1/acknowledge?identifierType=alias",
                        {"user": "ana", "note": "on it"}))
    assert incidents(setup)[0][3] == "acknowledged"
    assert status_of(client, key, ack)["status"] == "Acknowledged alert"
    timeline = setup.query("SELECT kind, note, actor FROM incident_events WHERE incident_id = :i ORDER BY id", i=row[0])
    assert ("acknowledged", None, "ana") in timeline and ("comment", "on it", "ana") in timeline

    close = accepted(call(client, key, "/v2/alerts/disk-db-1/close?identifierType=alias", {"source": "Alertmanager"}))
    assert incidents(setup)[0][3] == "resolved"
    assert status_of(client, key, close)["status"] == "Closed alert"
    again_close = accepted(call(client, key, "/v2/alerts/disk-db-1/close?identifierType=alias", {}))
    assert status_of(client, key, again_close)["success"] is False
    assert status_of(client, key, again_close)["status"] == "Alert is already closed"

    reopened = accepted(call(client, key, "/v2/alerts", CREATE))  # resolved: the alias opens a new incident
    assert len(incidents(setup)) == 2 and status_of(client, key, reopened)["status"] == "Created alert"


def test_actions_by_id_and_tiny_and_updates_by_put(client, key, setup):
    created = accepted(call(client, key, "/v2/alerts", {"message": "No alias"}))
    alert_id = status_of(client, key, created)["alertId"]
    assert alert_id.isdigit() and status_of(client, key, created)["alias"] == alert_id
    accepted(call(client, key, f"/v2/alerts/{alert_id}/notes?identifierType=tiny", {"note": "looking", "user": "bo"}))
    accepted(call(client, key, f"/v2/alerts/{alert_id}/message", {"message": "Now titled"}, method="PUT"))
    accepted(call(client, key, f"/v2/alerts/{alert_id}/description?identifierType=id", {"description": "new text"},
                  method="PUT"))
    accepted(call(client, key, f"/v2/alerts/{alert_id}/acknowledge"))  # identifierType defaults to id
    [row] = incidents(setup)
    assert row[1:4] == ("Now titled", "new text", "acknowledged")
    timeline = setup.query("SELECT kind, note, actor FROM incident_events WHERE incident_id = :i ORDER BY id", i=row[0])
    assert ("comment", "looking", "bo") in timeline and ("retitled", "Now titled", None) in timeline
    again = accepted(call(client, key, f"/v2/alerts/{alert_id}/acknowledge?identifierType=tiny"))
    assert status_of(client, key, again) | {"processedAt": None, "integrationId": None} == {
        "success": False, "action": "Acknowledge", "processedAt": None, "integrationId": None, "isSuccess": False,
        "status": "Alert is already acknowledged", "alertId": alert_id, "alias": alert_id}
    accepted(call(client, key, f"/v2/alerts/{alert_id}/close?identifierType=tiny"))
    assert incidents(setup)[0][3] == "resolved"


def test_a_close_of_an_unknown_alert_is_accepted_and_its_status_says_it_failed(client, key, setup):
    for path in ("/v2/alerts/nope/close?identifierType=alias", "/v2/alerts/not-a-number/close",
                 "/v2/alerts/99999999999999999999999/close?identifierType=tiny"):
        request_id = accepted(call(client, key, path, {}))
        data = status_of(client, key, request_id)
        assert (data["success"], data["action"], data["status"], data["alertId"], data["alias"]) == (
            False, "Close", "Alert does not exist", "", "")
        assert data["processedAt"].endswith("Z") and len(data["processedAt"]) == 24
    [(results,)] = setup.query("SELECT results FROM api_calls WHERE id = :id", id=request_id)
    assert as_json(results)[0]["event"] == "opsgenie close"


def test_request_status_is_only_for_this_services_alert_api_calls(app, client, key, setup):
    created = accepted(call(client, key, "/v2/alerts", CREATE))
    configure(app, {"services": [{"name": "other"}]})
    other = setup.token("other", service="other")
    assert call(client, other, f"/v2/alerts/requests/{created}", method="GET").status_code == 404
    process = post(client, setup.token("global"), {"x": 1}).get_json()["id"]
    ping = accepted(call(client, key, "/v2/heartbeats/nightly/ping", method="GET"), "PONG - Heartbeat received")
    for unknown in (process, ping, "00000000-0000-7000-8000-000000000000", "x" * 400):
        response = call(client, key, f"/v2/alerts/requests/{unknown}", method="GET")
        assert response.status_code == 404 and set(response.get_json()) == {"message", "took", "requestId"}


def test_tags_feed_tag_based_maintenance(app, client, key, setup):
    configure(app, doc(maintenance=[{"starts_at": None, "ends_at": None, "tags": [["staging"]]}]))
    skipped = accepted(call(client, key, "/v2/alerts", {**CREATE, "tags": ["staging"]}))
    assert incidents(setup) == []
    assert status_of(client, key, skipped)["status"] == "Ignored: the service is in maintenance"
    accepted(call(client, key, "/v2/alerts", {**CREATE, "tags": ["production"]}))
    assert len(incidents(setup)) == 1


@pytest.mark.parametrize("priority, urgency", [("P1", "high"), ("P3", "high"), (None, "high"), ("P4", "low"),
                                               ("P5", "low")])
def test_priority_sets_urgency_and_is_kept(client, key, setup, priority, urgency):
    body = {"message": "m", **({"priority": priority} if priority else {})}
    accepted(call(client, key, "/v2/alerts", body))
    [row] = incidents(setup)
    assert row[4] == urgency and as_json(row[7])["priority"] == (priority or "P3")


def test_a_new_alert_pages_and_a_duplicate_pages_nobody(client, key, setup):
    accepted(call(client, key, "/v2/alerts", CREATE))
    accepted(call(client, key, "/v2/alerts", CREATE))
    rows = setup.query("SELECT kind, channel FROM notifications")
    assert [(kind, channel) for kind, channel in rows if kind == "page"] == [("page", "email")]


def refusal(response, status):
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) - {"errors"} == {"message", "took", "requestId"}
    return body


def test_unknown_revoked_and_global_keys_are_refused_alike_and_never_echoed(app, client, key, setup):
    from callgoose.extensions import db
    from callgoose.services.tokens import revoke

    revoked = setup.token("old", service="checkout-api")
    with app.app_context():
        token_id = setup.query("SELECT id FROM api_tokens WHERE name = 'old'")[0][0]
        revoke(token_id, clock.now())
        db.session.commit()
    global_key = setup.token("everything")
    answers = []
    for presented, scheme in ((None, "GenieKey"), ("cg_unknown", "GenieKey"), (revoked, "GenieKey"),
                              (global_key, "GenieKey"), (key, "Bearer"), (key, "Basic")):
        for path, method in (("/v2/alerts", "POST"), ("/v2/alerts/x/close", "POST"),
                             ("/v2/alerts/requests/x", "GET"), ("/v2/heartbeats/x/ping", "GET")):
            response = call(client, presented, path, CREATE if method == "POST" else None, method=method,
                            scheme=scheme)
            body = refusal(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("GenieKey")
            assert (presented or "cg_") not in response.get_data(as_text=True)
            answers.append(body["message"])
    assert len(set(answers)) == 1 and "GenieKey" in answers[0]
    assert incidents(setup) == [] and setup.query("SELECT count(*) FROM heartbeats") == [(0,)]


@pytest.mark.parametrize("path, body, field", [
    ("/v2/alerts", {"alias": "a"}, "message"),
    ("/v2/alerts", {"message": "m", "priority": "urgent"}, "priority"),
    ("/v2/alerts", {"message": "m", "tags": "prod"}, "tags"),
    ("/v2/alerts", {"message": "m", "details": "x"}, "details"),
    ("/v2/alerts/a/notes?identifierType=alias", {}, "note"),
    ("/v2/alerts/a/message?identifierType=alias", {"message": ""}, "message"),
    ("/v2/alerts/a/close?identifierType=fingerprint", {}, "identifierType"),
])
def test_validation_faults_are_422_naming_the_field_and_logged(client, key, setup, path, body, field):
    body = refusal(call(client, key, path, body), 422)
    assert body["message"] == "Request body is not processable. Please check the errors."
    assert list(body["errors"]) == [field]
    [(status, error)] = setup.query("SELECT status, error FROM api_calls WHERE id = :id", id=body["requestId"])
    assert status == 422 and field in error
    assert incidents(setup) == []


def test_a_body_that_is_not_a_json_object_is_400_and_a_big_one_413(app, client, key, setup):
    assert "JSON" in refusal(call(client, key, "/v2/alerts", raw="[1, 2]"), 400)["message"]
    assert refusal(call(client, key, "/v2/alerts", raw="not json", content_type="text/plain"), 400)
    app.config["MAX_BODY_BYTES"] = 1000
    body = refusal(call(client, key, "/v2/alerts", {"message": "m" * 2000}), 413)
    assert setup.query("SELECT status FROM api_calls WHERE id = :id", id=body["requestId"]) == [(413,)]


def test_other_methods_and_unknown_paths_answer_in_opsgenie_shape(client, key):
    refusal(call(client, key, "/v2/alerts", method="GET"), 405)
    refusal(call(client, key, "/v2/alerts/x/snooze", {}), 404)
    assert "error" in call(client, key, "/v1/process", method="GET").get_json()  # /v1 keeps its own shape


HOSTILE = [b"", b"{}", b"\x00", b'{"message": "\\ud800", "alias": "\\udc00"}', b"[" * 100000 + b"]" * 100000,
           b'{"message": NaN}', b'{"message": "m", "alias": 1e999999}', b'{"message": 1' + b"0" * 5000 + b"}",
           b'{"message": "m", "details": {"a": {"b": [1, 2]}}, "tags": [null, true, 1.5]}',
           b'{"message": "m", "priority": ["P1"], "note": {"x": 1}}', b"\xff\xfe\xfa", "é".encode("latin-1"),
           json.dumps({"message": "m", "user": "u" * 10000, "source": "s\n" * 500}).encode()]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_bodies_never_give_a_500(client, key, setup, body):
    for path, method in (("/v2/alerts", "POST"), ("/v2/alerts/x/close?identifierType=alias", "POST"),
                         ("/v2/alerts/x/notes", "POST"), ("/v2/alerts/x/message?identifierType=alias", "PUT"),
                         ("/v2/heartbeats/hb/ping", "POST")):
        for content_type in ("application/json", "image/png"):
            response = call(client, key, path, raw=body, method=method, content_type=content_type)
            assert response.status_code in (202, 400, 422), (path, body[:40], response.get_data()[:300])
            request_id = response.get_json()["requestId"]
            assert setup.query("SELECT count(*) FROM api_calls WHERE id = :id", id=request_id) == [(1,)]


def beat(setup):
    return setup.query("SELECT name, state, incident_id, every_seconds, grace_seconds, conditions FROM heartbeats")


def run_worker(app, at):
    from callgoose.extensions import db
    from callgoose.services.heartbeats import run_due
    with app.app_context():
        return run_due(db.engine, at)


def test_a_first_ping_creates_the_heartbeat_and_a_missed_one_opens_an_incident(app, client, key, setup, now):
    pong = call(client, key, "/v2/heartbeats/nightly-db/ping", method="GET")
    accepted(pong, "PONG - Heartbeat received")
    [(name, state, incident, every, grace, conditions)] = beat(setup)
    assert (name, state, incident, every, grace) == ("nightly-db", "up", None, 600, 0)
    assert as_json(conditions) == [{"json_key": "opsgenie_heartbeat", "contains": ["nightly-db"], "mode": "all"}]
    from callgoose.services.catalog import current_config
    with app.app_context():  # part of the service's configuration, exported like any heartbeat
        assert current_config()["services"][0]["heartbeats"][0]["every_minutes"] == 10
    now.set(300)
    accepted(call(client, key, "/v2/heartbeats/nightly-db/ping", method="POST"), "PONG - Heartbeat received")
    post(client, key, {"any": "other call"})  # another call to the service does not keep it alive
    assert run_worker(app, T0 + 300 + 599) == {}
    assert run_worker(app, T0 + 300 + 600) == {"down": 1}
    [(_, state, incident, *_)] = beat(setup)
    assert state == "down" and setup.query("SELECT status, mapping_value FROM incidents WHERE id = :i", i=incident) == [
        ("triggered", "heartbeat:nightly-db")]
    now.set(2000)
    request_id = accepted(call(client, key, "/v2/heartbeats/nightly-db/ping", method="PUT"),
                          "PONG - Heartbeat received")
    assert setup.query("SELECT status FROM incidents WHERE id = :i", i=incident) == [("resolved",)]
    assert beat(setup)[0][1:3] == ("up", None)
    [(status, results)] = setup.query("SELECT status, results FROM api_calls WHERE id = :id", id=request_id)
    assert status == 202 and as_json(results)[0]["pings"] == ["nightly-db"]
    assert as_json(results)[0]["resolved_incidents"] == [incident]


def test_a_heartbeat_name_it_cannot_keep_or_one_too_many_is_422(app, client, key, setup):
    for name in ("x" * 65, "semi;colon", "a/b"):
        assert "name" in refusal(call(client, key, f"/v2/heartbeats/{name}/ping", method="GET"), 422)["errors"]
    configure(app, doc(heartbeats=[{"name": f"hb{i}", "every_minutes": 5} for i in range(20)]))
    body = refusal(call(client, key, "/v2/heartbeats/one-more/ping", method="GET"), 422)
    assert "20 heartbeats" in body["errors"]["name"]
    accepted(call(client, key, "/v2/heartbeats/hb3/ping", method="GET"), "PONG - Heartbeat received")
    assert setup.query("SELECT count(*) FROM heartbeats") == [(20,)]


def test_a_disabled_service_ignores_pings_and_alerts(app, client, key, setup):
    configure(app, doc(enabled=False))
    accepted(call(client, key, "/v2/heartbeats/nightly/ping", method="GET"), "PONG - Heartbeat received")
    created = accepted(call(client, key, "/v2/alerts", CREATE))
    assert beat(setup) == [] and incidents(setup) == []
    assert status_of(client, key, created)["status"] == "Ignored: the service is disabled"


def test_the_opsgenie_template_samples_open_dedup_and_close_through_the_api(app, client, setup):
    from callgoose.services import templates

    found = templates.template("opsgenie")
    with app.app_context():
        templates.create_service("og", "opsgenie", clock.now())
    key = setup.token("og", service="og")
    firing, other = found.samples["firing"], found.more["other"]
    accepted(call(client, key, "/v2/alerts", firing))
    accepted(call(client, key, "/v2/alerts", firing))
    accepted(call(client, key, "/v2/alerts", other))
    accepted(call(client, key, f"/v2/alerts/{firing['alias']}/close?identifierType=alias", found.samples["resolved"]))
    rows = incidents(setup)
    assert [(r[3], r[4], r[6]) for r in rows] == [("resolved", "high", 1), ("triggered", "low", 0)]


def test_the_opsgenie_snippets_are_the_configuration_those_tools_read():
    import re

    import yaml

    from callgoose.services import templates

    guide = templates.filled(templates.template("opsgenie").guide, "https://cg.example.com/v1/process", "cg_abc")
    assert "@CALLGOOSE" not in guide
    alertmanager, grafana = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", guide, re.S)]
    assert alertmanager["receivers"][0]["opsgenie_configs"] == [
        {"api_key": "cg_abc", "api_url": "https://cg.example.com/", "send_resolved": True}]
    point = grafana["contactPoints"][0]["receivers"][0]
    assert point["type"] == "opsgenie" and point["settings"] == {
        "apiKey": "cg_abc", "apiUrl": "https://cg.example.com/v2/alerts", "autoClose": True}
    assert "opsgenie_api   = https://cg.example.com/v2/alerts" in guide
    assert 'curl -X POST "https://cg.example.com/v2/alerts"' in guide
    found = templates.template("opsgenie")
    assert found.path == "/v2/alerts"  # the guide page's "Endpoint": Opsgenie's create-alert URL, not /v1/process
    assert templates.filled(found.guide, "https://cg.example.com" + found.path, "cg_abc") == guide
