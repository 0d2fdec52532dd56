"""The JSON API for scripts (S36)."""

import pytest
from helpers import ALERTMANAGER, firing, post


@pytest.fixture
def tokens(setup):
    setup.services(ALERTMANAGER, {"name": "other", "trigger": [{"map_incident_with": "groupKey"}]})
    return {"global": setup.token("ops"), "own": setup.token("am", service="checkout-api"),
            "other": setup.token("o", service="other")}


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_s36_list_is_newest_first_with_total_and_pages(client, tokens):
    for i in range(3):
        post(client, tokens["own"], firing(f"g{i}"))
    body = client.get("/v1/incidents", headers=auth(tokens["own"])).get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["pages"] == 1
    assert [i["mapping_value"] for i in body["incidents"]] == ["g2", "g1", "g0"]
    incident = body["incidents"][0]
    assert set(incident) == {"id", "service", "title", "description", "status", "urgency", "priority",
                             "mapping_value", "duplicate_count", "created_at", "acknowledged_at", "resolved_at"}
    assert incident["service"] == {"name": "checkout-api"}
    assert incident["created_at"].endswith("Z") and incident["acknowledged_at"] is None


def test_s36_pagination(client, setup, tokens):
    setup.services({"name": "many", "trigger": [{}]})
    token = setup.token(service="many")
    for i in range(52):
        post(client, token, f"alert {i}", content_type="text/plain")
    first = client.get("/v1/incidents?page=1", headers=auth(token)).get_json()
    second = client.get("/v1/incidents?page=2", headers=auth(token)).get_json()
    assert (first["total"], first["pages"], len(first["incidents"]), len(second["incidents"])) == (52, 2, 50, 2)
    assert second["incidents"][-1]["description"] == "alert 0"
    assert client.get("/v1/incidents?page=0", headers=auth(token)).status_code == 400


def test_s36_filters_by_status_and_service(client, tokens):
    post(client, tokens["global"], firing("a"))  # opens one incident on each service
    post(client, tokens["global"], {"status": "resolved", "groupKey": "a"})  # resolves checkout-api's
    g = auth(tokens["global"])
    assert client.get("/v1/incidents", headers=g).get_json()["total"] == 2
    assert client.get("/v1/incidents?status=resolved", headers=g).get_json()["total"] == 1
    assert client.get("/v1/incidents?status=active", headers=g).get_json()["incidents"][0]["service"]["name"] == "other"
    assert client.get("/v1/incidents?service=other", headers=g).get_json()["total"] == 1
    assert client.get("/v1/incidents?status=open", headers=g).status_code == 400
    assert client.get("/v1/incidents?service=nope", headers=g).status_code == 404


def test_s36_service_token_reaches_only_its_own_service(client, tokens):
    post(client, tokens["global"], firing("a"))
    own = auth(tokens["own"])
    listed = client.get("/v1/incidents", headers=own).get_json()
    assert [i["service"]["name"] for i in listed["incidents"]] == ["checkout-api"]
    other_id = client.get("/v1/incidents?service=other", headers=auth(tokens["global"])).get_json()["incidents"][0]["id"]
    assert client.get(f"/v1/incidents/{other_id}", headers=own).status_code == 404
    assert client.post(f"/v1/incidents/{other_id}/resolve", headers=own).status_code == 404
    assert client.get("/v1/incidents?service=other", headers=own).status_code == 404
    assert client.post("/v1/services/other/maintenance", json={}, headers=own).status_code == 404


def test_s36_acknowledge_then_resolve(client, setup, tokens):
    post(client, tokens["own"], firing())
    h = auth(tokens["own"])
    acked = client.post("/v1/incidents/1/acknowledge", headers=h)
    assert acked.status_code == 200 and acked.get_json()["status"] == "acknowledged"
    assert acked.get_json()["acknowledged_at"].endswith("Z")
    assert client.post("/v1/incidents/1/acknowledge", headers=h).status_code == 200  # idempotent
    done = client.post("/v1/incidents/1/resolve", headers=h)
    assert done.get_json()["status"] == "resolved" and done.get_json()["resolved_at"]
    assert client.post("/v1/incidents/1/resolve", headers=h).status_code == 200
    conflict = client.post("/v1/incidents/1/acknowledge", headers=h)
    assert conflict.status_code == 409 and conflict.get_json()["error"] == "conflict"
    assert setup.query("SELECT kind, actor FROM incident_events ORDER BY id") == [
        ("created", None), ("acknowledged", "API token am"), ("resolved", "API token am")]
    assert client.get("/v1/incidents/99", headers=h).status_code == 404


def test_s36_api_needs_a_token(client, tokens):
    for method, path in (("GET", "/v1/incidents"), ("GET", "/v1/incidents/1"),
                         ("POST", "/v1/incidents/1/resolve"), ("DELETE", "/v1/services/other/maintenance")):
        response = client.open(path, method=method)
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


def test_s36_maintenance_through_the_api(client, setup, tokens):
    setup.services({**ALERTMANAGER, "maintenance": [{"tags": [["configured"]]}]})
    h = auth(tokens["own"])
    started = client.post("/v1/services/checkout-api/maintenance", json={"tags": [["staging"]], "until": None},
                          headers=h)
    assert started.status_code == 201
    assert started.get_json()["tags"] == [["staging"]] and started.get_json()["ends_at"] is None
    assert post(client, tokens["own"], firing(env="staging")).status_code == 202
    assert post(client, tokens["own"], firing("prod")).status_code == 201
    ended = client.delete("/v1/services/checkout-api/maintenance", headers=h)
    assert ended.get_json() == {"service": "checkout-api", "ended": 1}
    assert post(client, tokens["own"], firing(env="staging")).status_code == 201
    assert post(client, tokens["own"], firing("c", env="configured")).status_code == 202  # config window stays


@pytest.mark.parametrize("body, message", [
    ({"tags": "staging"}, "tags: must be a list"),
    ({"until": "2000-01-01T00:00:00Z"}, "until: must be in the future"),
    ({"until": "soon"}, "until: is not an ISO 8601 time"),
    ({"colour": 1}, "send a JSON object"),
])
def test_s36_bad_maintenance_requests_are_explained(client, tokens, body, message):
    response = client.post("/v1/services/checkout-api/maintenance", json=body, headers=auth(tokens["own"]))
    assert response.status_code == 400 and response.get_json()["message"].startswith(message)


def test_unknown_api_paths_answer_json_404(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
