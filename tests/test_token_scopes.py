"""Issue 19, item 6: API tokens with scope, on SQLite and PostgreSQL.

An ingestion token (every token made before scopes) sends alerts and reaches the whole JSON API;
a read-only API token reads the JSON API; a read-write one also acknowledges, resolves and starts
and ends maintenance. API tokens send no alerts. Global or per service, as S36 says.
"""

import re

import pytest
from helpers import ALERTMANAGER, configure, firing, post, rota_document
from sqlalchemy import select

from callgoose import clock
from callgoose.extensions import db
from callgoose.services.tokens import SCOPES, create_token, digest
from callgoose.store.models import ApiToken, Service
from callgoose.web.openapi import DOCUMENT

NEEDS_WRITE = ("This read-only API token may not acknowledge, resolve or start and end maintenance: that needs a "
               "read-write API token (scope write, or an ingestion token).")


def make_token(app, name: str, scope: str, service: str | None = None) -> str:
    with app.app_context():
        service_id = db.session.execute(select(Service.id).where(Service.name == service)).scalar_one() \
            if service else None
        _, plaintext = create_token(name, service_id, clock.now(), scope=scope)
        db.session.commit()
    return plaintext


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(app, setup):
    """A schedule (rota000, with its service "rota"), checkout-api with one open incident, and an
    ingestion token to open incidents with."""
    configure(app, rota_document(schedules=1, layers=1, users=1))
    setup.services(ALERTMANAGER)
    opener = setup.token("opener")
    return opener


# (method, path, body, scope needed, status for a global token, status for checkout-api's token)
# {id} is an open incident of checkout-api.
ROUTES = [
    ("GET", "/v1/incidents", None, "read", 200, 200),
    ("GET", "/v1/incidents/{id}", None, "read", 200, 200),
    ("GET", "/v1/services/checkout-api/simulate", None, "read", 200, 200),
    ("GET", "/v1/schedules", None, "read", 200, 403),
    ("GET", "/v1/schedules/rota000/oncall", None, "read", 200, 403),
    ("GET", "/v1/schedules/rota000/shifts?from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z", None, "read", 200, 403),
    ("POST", "/v1/incidents/{id}/acknowledge", None, "write", 200, 200),
    ("POST", "/v1/incidents/{id}/snooze", {"minutes": 60}, "write", 200, 200),
    ("POST", "/v1/incidents/{id}/resolve", None, "write", 200, 200),
    ("POST", "/v1/services/checkout-api/maintenance", {"until": None}, "write", 201, 201),
    ("DELETE", "/v1/services/checkout-api/maintenance", None, "write", 200, 200),
    ("POST", "/v1/process", firing("scoped"), "ingest", 201, 201),
    ("POST", "/api/v1/process", firing("scoped2"), "ingest", 201, 201),
    ("POST", "/sqibs-api/v1/process", firing("scoped3"), "ingest", 201, 201),
]
NAMES = {"read": "read-only API token", "write": "read-write API token"}
MAY = {"ingest": {"ingest", "read", "write"}, "read": {"read"}, "write": {"read", "write"}}


@pytest.mark.parametrize("reach", ["global", "service"])
@pytest.mark.parametrize("scope", SCOPES)
def test_every_json_route_answers_by_scope_and_reach(app, client, world, scope, reach):
    token = make_token(app, "t", scope, "checkout-api" if reach == "service" else None)
    incident = post(client, world, firing("open-1")).get_json()
    assert incident["triggered"]["created"]
    incident_id = client.get("/v1/incidents", headers=auth(world)).get_json()["incidents"][0]["id"]
    for method, path, body, need, global_status, service_status in ROUTES:
        url = path.replace("{id}", str(incident_id))
        response = client.open(url, method=method, headers=auth(token), json=body)
        answer = response.get_json()
        if need in MAY[scope]:
            expected = global_status if reach == "global" else service_status
            assert response.status_code == expected, (method, url, response.get_data(as_text=True))
            assert answer.get("error") != "insufficient_scope"
        else:
            assert response.status_code == 403, (method, url, response.get_data(as_text=True))
            assert answer["error"] == "insufficient_scope"
            assert answer["message"].startswith(f"This {NAMES[scope]} may not ")
            assert f"(scope {need}" in answer["message"]
    # A service token reaches only its own service, whatever its scope.
    other = client.get("/v1/services/rota/simulate", headers=auth(token))
    assert other.status_code == (200 if reach == "global" else 404)


def test_a_read_only_token_on_a_write_gets_403_naming_the_scope_and_changes_nothing(app, client, world, setup):
    token = make_token(app, "reader", "read")
    post(client, world, firing("g1"))
    incident_id = client.get("/v1/incidents", headers=auth(token)).get_json()["incidents"][0]["id"]
    for method, path in (("POST", f"/v1/incidents/{incident_id}/acknowledge"),
                         ("POST", f"/v1/incidents/{incident_id}/snooze"),
                         ("POST", f"/v1/incidents/{incident_id}/resolve"),
                         ("POST", "/v1/services/checkout-api/maintenance"),
                         ("DELETE", "/v1/services/checkout-api/maintenance")):
        response = client.open(path, method=method, headers=auth(token), json={} if method == "POST" else None)
        assert response.status_code == 403
        assert response.get_json() == {"error": "insufficient_scope", "message": NEEDS_WRITE}
    assert client.get(f"/v1/incidents/{incident_id}", headers=auth(token)).get_json()["status"] == "triggered"
    assert setup.query("SELECT count(*) FROM maintenance_windows")[0][0] == 0


@pytest.mark.parametrize("scope", ["read", "write"])
def test_an_api_token_sends_no_alerts_anywhere(app, client, world, setup, scope):
    token = make_token(app, "api", scope, "checkout-api")
    calls = setup.query("SELECT count(*) FROM api_calls")[0][0]
    for path in ("/v1/process", "/api/v1/process", "/sqibs-api/v1/process"):
        response = post(client, token, firing("nope"), path=path)
        assert response.status_code == 403
        name = {"read": "read-only", "write": "read-write"}[scope]
        assert response.get_json() == {"error": "insufficient_scope", "message": (
            f"This {name} API token may not send alerts: that needs an ingestion token (scope ingest).")}
        assert token not in response.get_data(as_text=True)
    query = client.post(f"/v1/process?token={token}", json=firing("nope"))
    assert query.status_code == 403
    # Opsgenie's API: its own shape, 403
    genie = client.post("/v2/alerts", json={"message": "x"}, headers={"Authorization": f"GenieKey {token}"})
    assert genie.status_code == 403 and "may not send alerts" in genie.get_json()["message"]
    ping = client.get("/v2/heartbeats/nightly/ping", headers={"Authorization": f"GenieKey {token}"})
    assert ping.status_code == 403
    status = client.get("/v2/alerts/requests/abc", headers={"Authorization": f"GenieKey {token}"})
    assert status.status_code == 403
    # PagerDuty's: an API token is no routing key, answered like an unknown one
    event = {"routing_key": token, "event_action": "trigger",
             "payload": {"summary": "x", "source": "y", "severity": "critical"}}
    unknown = client.post("/v2/enqueue", json={**event, "routing_key": "cg_unknown"})
    refused = client.post("/v2/enqueue", json=event)
    assert refused.status_code == unknown.status_code == 400
    assert refused.get_json() == unknown.get_json()
    change = client.post("/v2/change/enqueue", json={"routing_key": token, "payload": {"summary": "deploy"}})
    assert change.status_code == 400
    # Nothing stored, no incident opened; and no intake address for mail
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == calls
    assert setup.query("SELECT count(*) FROM change_events")[0][0] == 0
    assert setup.query("SELECT intake_id FROM api_tokens WHERE name = 'api'") == [(None,)]


def test_an_ingestion_token_keeps_all_it_could_do(client, world):
    assert post(client, world, firing("g1")).status_code == 201
    incident_id = client.get("/v1/incidents", headers=auth(world)).get_json()["incidents"][0]["id"]
    assert client.post(f"/v1/incidents/{incident_id}/acknowledge", headers=auth(world)).status_code == 200
    assert client.post("/v1/services/checkout-api/maintenance", headers=auth(world), json={}).status_code == 201


def test_a_routing_key_is_an_ingestion_token_only(app, world):
    with app.app_context():
        service_id = db.session.execute(select(Service.id).where(Service.name == "checkout-api")).scalar_one()
        with pytest.raises(ValueError, match="ingestion token"):
            create_token("rk", service_id, clock.now(), kind="routing_key", scope="read")
        with pytest.raises(ValueError, match="ingest, read or write"):
            create_token("bad", None, clock.now(), scope="admin")


def test_rotation_keeps_the_scope(app, client, world, admin):
    make_token(app, "reader", "read")
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id).where(ApiToken.name == "reader")).scalar_one()
    assert admin.post(f"/tokens/{token_id}/rotate").status_code == 303
    with app.app_context():
        scopes = db.session.execute(select(ApiToken.scope, ApiToken.revoked_at.is_(None))
                                    .where(ApiToken.name == "reader")).all()
    assert sorted(scopes) == [("read", False), ("read", True)]


# -- The route audit: every /v1 and /v2 route declares its scope ----------------------------

EXPECTED = {
    ("/v1/process", "POST"): "ingest", ("/api/v1/process", "POST"): "ingest",
    ("/sqibs-api/v1/process", "POST"): "ingest",
    ("/v1/incidents", "GET"): "read", ("/v1/incidents/<int:incident_id>", "GET"): "read",
    ("/v1/incidents/<int:incident_id>/acknowledge", "POST"): "write",
    ("/v1/incidents/<int:incident_id>/snooze", "POST"): "write",
    ("/v1/incidents/<int:incident_id>/resolve", "POST"): "write",
    ("/v1/services/<name>/maintenance", "POST"): "write", ("/v1/services/<name>/maintenance", "DELETE"): "write",
    ("/v1/services/<name>/simulate", "GET"): "read", ("/v1/schedules", "GET"): "read",
    ("/v1/schedules/<name>/oncall", "GET"): "read", ("/v1/schedules/<name>/shifts", "GET"): "read",
    ("/v1/audit", "GET"): "read", ("/v1/incidents/<int:incident_id>/review", "GET"): "read",
    ("/v1/reports/<name>", "GET"): "read",
    ("/v2/enqueue", "POST"): "ingest", ("/v2/change/enqueue", "POST"): "ingest",
    ("/v2/alerts", "POST"): "ingest", ("/v2/alerts/requests/<request_id>", "GET"): "ingest",
    **{(f"/v2/alerts/<path:identifier>/{a}", m): "ingest" for a, ms in (
        ("acknowledge", ["POST"]), ("close", ["POST"]), ("notes", ["POST"]), ("message", ["POST", "PUT"]),
        ("description", ["POST", "PUT"])) for m in ms},
    **{("/v2/heartbeats/<path:name>/ping", m): "ingest" for m in ("GET", "POST", "PUT", "PATCH")},
}


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/v1/", "/v2/", "/api/", "/sqibs-api/")):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_api_route_declares_its_scope(app):
    declared = {(rule.rule, method): getattr(app.view_functions[rule.endpoint], "token_scope", None)
                for rule, method in api_routes(app)}
    assert declared == EXPECTED


def test_the_openapi_document_says_the_scope_each_route_declares(app):
    adapter = app.url_map.bind("localhost")
    seen = set()
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            endpoint, _ = adapter.match(re.sub(r"\{[^}]+\}", "1", path), method=method.upper())
            scope = app.view_functions[endpoint].token_scope
            assert operation["x-callgoose-scope"] == scope, (path, method)
            assert f"Scope {scope}:" in operation["description"], (path, method)
            if operation["security"]:
                assert all(scopes == [scope] for requirement in operation["security"]
                           for scopes in requirement.values()), (path, method)
            if scope != "ingest" or path.startswith(("/v1/process", "/v2/alerts", "/v2/heartbeats")):
                assert "403" in operation["responses"], (path, method)
            seen.add(endpoint)
    assert seen == {rule.endpoint for rule, _ in api_routes(app)} - {"ingest.api_v1_process",
                                                                    "ingest.sqibs-api_v1_process"}


# -- The API Token tab and the CLI ---------------------------------------------------------

def test_the_tab_names_each_kind_and_creates_an_api_token(app, admin, setup):
    setup.services(ALERTMANAGER)
    page = admin.get("/tokens").get_data(as_text=True)
    for words in ("Ingestion token", "Read-only API token", "Read-write API token",
                  "Scripts read incidents, schedules and who is on call; it changes nothing and sends no alerts.",
                  "Scripts also acknowledge, resolve and start and end maintenance; it sends no alerts.",
                  "Monitoring tools send alerts with it (and it may use the JSON API)."):
        assert words in page
    created = admin.post("/tokens", data={"name": "dashboards", "service": "", "kind": "read"})
    assert created.status_code == 303
    shown = admin.get("/tokens").get_data(as_text=True)
    assert "API token “dashboards” created" in shown and "Send a test call" not in shown
    plaintext = re.search(r'<code id="new-token">([^<]+)</code>', shown).group(1)
    assert re.search(r"<td>dashboards</td>\s*<td class=\"kind\">Read-only API token</td>", shown)
    assert setup.query("SELECT scope, intake_id FROM api_tokens WHERE name = 'dashboards'") == [("read", None)]
    assert admin.get("/v1/incidents", headers=auth(plaintext)).status_code == 200
    assert post(admin, plaintext, firing("x")).status_code == 403
    # a routing key is an ingestion token; a made-up kind is refused
    service_id = setup.query("SELECT id FROM services WHERE name = 'checkout-api'")[0][0]
    routing = admin.post("/tokens", data={"name": "rk", "service": str(service_id), "kind": "write",
                                          "routing_key": "y"})
    assert routing.status_code == 422 and "it is an ingestion token, not an API token" in routing.get_data(as_text=True)
    assert admin.post("/tokens", data={"name": "odd", "service": "", "kind": "admin"}).status_code == 422
    assert setup.query("SELECT count(*) FROM api_tokens WHERE name IN ('rk', 'odd')")[0][0] == 0
    # the default stays an ingestion token
    assert admin.post("/tokens", data={"name": "am", "service": ""}).status_code == 303
    assert setup.query("SELECT scope FROM api_tokens WHERE name = 'am'") == [("ingest",)]


def test_the_test_payload_form_offers_no_api_token(app, admin, setup):
    setup.services(ALERTMANAGER)
    make_token(app, "reader", "read")
    setup.token("sender")
    page = admin.get("/test").get_data(as_text=True)
    assert "sender" in page and "reader" not in page


def test_cli_create_token_with_a_scope(app, setup):
    setup.services(ALERTMANAGER)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-token", "grafana", "--service", "checkout-api", "--scope", "write"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Read-write API token 'grafana' for service checkout-api.")
    assert lines[-1].startswith("cg_")
    assert setup.query("SELECT scope FROM api_tokens WHERE name = 'grafana'") == [("write",)]
    default = runner.invoke(args=["create-token", "am"])
    assert default.exit_code == 0 and default.output.startswith("Ingestion token 'am' for all services.")
    assert setup.query("SELECT scope FROM api_tokens WHERE name = 'am'") == [("ingest",)]
    bad = runner.invoke(args=["create-token", "x", "--scope", "admin"])
    assert bad.exit_code != 0 and "'admin' is not one of 'ingest', 'read', 'write'" in bad.output
    routing = runner.invoke(args=["create-token", "rk", "--service", "checkout-api", "--routing-key",
                                  "--scope", "read"])
    assert routing.exit_code != 0 and "--routing-key sends events" in routing.output
    assert setup.query("SELECT count(*) FROM api_tokens WHERE name IN ('x', 'rk')")[0][0] == 0
    mail = runner.invoke(args=["intake-address", "grafana"])  # an API token takes no mail
    assert mail.exit_code != 0 and "only ingestion tokens have one" in mail.output
    assert runner.invoke(args=["intake-address", "am"]).exit_code == 0


def test_a_row_without_a_scope_is_an_ingestion_token(app, setup, client):
    """The column's default (migration 0031): rows written before scopes, or by other code."""
    setup.services(ALERTMANAGER)
    with app.app_context():
        db.session.execute(db.text(
            "INSERT INTO api_tokens (name, digest, prefix, created_at) VALUES ('old', :d, 'cg_old', :t)"),
            {"d": digest("cg_old-token"),
             "t": clock.to_db(clock.now())})
        db.session.commit()
    assert setup.query("SELECT scope FROM api_tokens WHERE name = 'old'") == [("ingest",)]
    assert post(client, "cg_old-token", firing("g1")).status_code == 201
