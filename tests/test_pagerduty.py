"""Issue 18, item 1: PagerDuty's Events API v2 (POST /v2/enqueue, /v2/change/enqueue) through the
real app, on SQLite and PostgreSQL: the answers PagerDuty gives, the routing key, paging,
maintenance, the API log, change events and what the incident page shows."""

from __future__ import annotations

import html
import json
import re

import pytest
from helpers import as_json, configure

from callgoose import clock
from callgoose.extensions import db
from callgoose.services.retention import prune

SERVICE = {"name": "checkout-api", "trigger": [], "resolve": []}
DOC = {"users": [{"email": "ana@example.com", "contact_methods": [
           {"name": "mail", "type": "email", "address": "ana@example.com"}]}],
       "escalation_policies": [{"name": "checkout", "levels": [
           {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
       "services": [{**SERVICE, "escalation_policy": "checkout"}, {"name": "other", "trigger": [], "resolve": []}]}


def routing_key(app, name="alertmanager", service="checkout-api") -> str:
    result = app.test_cli_runner().invoke(args=["create-token", name, "--service", service, "--routing-key"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def key(app):
    configure(app, DOC)
    return routing_key(app)


def event(key, action="trigger", dedup="srv01/mysql", **payload):
    doc = {"routing_key": key, "event_action": action}
    if dedup is not None:
        doc["dedup_key"] = dedup
    if action == "trigger":
        doc["payload"] = {"summary": "DISK at 99% on prod-datapipe03", "source": "prod-datapipe03",
                          "severity": "critical", **payload}
    return doc


def enqueue(client, doc, path="/v2/enqueue"):
    return client.post(path, data=json.dumps(doc) if not isinstance(doc, (bytes, str)) else doc,
                       content_type="application/json")


def incidents(setup):
    return setup.query("SELECT id, title, description, status, urgency, mapping_value, duplicate_count, facts "
                       "FROM incidents ORDER BY id")


def test_the_routing_key_is_32_lowercase_letters_and_digits_and_works_only_as_a_routing_key(app, client, key):
    assert re.fullmatch(r"[a-z0-9]{32}", key)
    assert enqueue(client, event(key)).status_code == 202
    bearer = client.post("/v1/process", json={"status": "firing"}, headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 401
    assert client.get("/v1/incidents", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_routing_key_without_a_service_fails_with_one_line(app):
    result = app.test_cli_runner().invoke(args=["create-token", "x", "--routing-key"])
    assert result.exit_code != 0 and "--routing-key needs --service" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_trigger_duplicate_acknowledge_resolve_answer_as_pagerduty_does(client, key, setup):
    first = enqueue(client, event(key, payload_ignored=None, custom_details={"free space": "1%"}))
    assert first.status_code == 202
    assert first.get_json() == {"status": "success", "message": "Event processed", "dedup_key": "srv01/mysql"}
    [row] = incidents(setup)
    assert row[1:7] == ("DISK at 99% on prod-datapipe03", '{\n  "free space": "1%"\n}', "triggered", "high",
                        "srv01/mysql", 0)
    again = enqueue(client, event(key))
    assert again.status_code == 202 and again.get_json()["dedup_key"] == "srv01/mysql"
    assert len(incidents(setup)) == 1 and incidents(setup)[0][6] == 1  # S26: a duplicate, not a second incident
    assert enqueue(client, event(key, "acknowledge")).get_json()["dedup_key"] == "srv01/mysql"
    assert incidents(setup)[0][3] == "acknowledged"
    assert enqueue(client, event(key, "resolve")).status_code == 202
    assert incidents(setup)[0][3] == "resolved"
    reopened = enqueue(client, event(key))
    assert reopened.status_code == 202 and [r[3] for r in incidents(setup)] == ["resolved", "triggered"]


def test_a_trigger_without_dedup_key_gets_one_generated_and_returned(client, key, setup):
    answer = enqueue(client, event(key, dedup=None, severity="warning")).get_json()
    generated = answer["dedup_key"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    [row] = incidents(setup)
    assert (row[4], row[5]) == ("low", generated)
    enqueue(client, event(key, "resolve", dedup=generated))
    assert incidents(setup)[0][3] == "resolved"


def test_an_ordinary_service_token_works_as_a_routing_key_too(client, key, setup):
    token = setup.token("script", service="checkout-api")
    assert enqueue(client, event(token)).status_code == 202 and len(incidents(setup)) == 1


def test_unknown_revoked_and_global_keys_are_refused_alike_never_echoed_never_logged(app, client, key, setup):
    global_token = setup.token("everything")
    revoked = routing_key(app, "old")
    with app.app_context():
        db.session.execute(db.text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE name = 'old'"))
        db.session.commit()
    answers = []
    for bad in ("0" * 32, revoked, global_token, key.upper()):
        answer = enqueue(client, event(bad))
        assert answer.status_code == 400 and bad not in answer.get_data(as_text=True)
        answers.append(answer.get_json())
    assert answers == [{"status": "invalid event", "message": "Event object is invalid",
                        "errors": ["Invalid routing key"]}] * 4
    assert incidents(setup) == [] and setup.query("SELECT count(*) FROM api_calls") == [(0,)]


@pytest.mark.parametrize("doc, fault", [
    ({"event_action": "explode"}, "'event_action' must be one of trigger, acknowledge or resolve"),
    ({"payload": {"source": "s", "severity": "info"}}, "'payload.summary' is missing or blank"),
    ({"payload": {"summary": "s", "source": "s", "severity": "fatal"}},
     "'payload.severity' must be one of critical, error, warning or info"),
    ({"event_action": "resolve", "dedup_key": None}, "'dedup_key' is required for resolve events"),
    ({"dedup_key": "k" * 256}, "'dedup_key' is longer than 255 characters"),
])
def test_a_fault_is_a_400_naming_its_field_kept_in_the_api_log(client, key, setup, doc, fault):
    body = {**event(key), **doc}
    answer = enqueue(client, {k: v for k, v in body.items() if v is not None})
    assert answer.status_code == 400
    assert answer.get_json() == {"status": "invalid event", "message": "Event object is invalid", "errors": [fault]}
    assert key not in answer.get_data(as_text=True)
    [(status, error, token_name)] = setup.query("SELECT status, error, token_name FROM api_calls")
    assert (status, token_name) == (400, "alertmanager") and fault in error
    assert incidents(setup) == []


def test_without_a_routing_key_or_json_the_fault_is_named(client, key):
    missing = enqueue(client, {"event_action": "trigger"})
    assert missing.status_code == 400 and "'routing_key' is missing or blank" in missing.get_json()["errors"]
    garbled = enqueue(client, b"{not json")
    assert garbled.status_code == 400
    assert garbled.get_json()["errors"] == ["The body must be a JSON object (JSON parse error)"]


@pytest.mark.parametrize("raw", [
    b"[" * 5000, b'{"a":' * 200 + b"1" + b"}" * 200, b"[1, 2, 3]", b"\x00\xff\xfe", b'"just a string"',
])
def test_hostile_bodies_are_400_never_500(client, key, raw):
    assert enqueue(client, raw).status_code == 400


def test_nul_lone_surrogates_and_huge_details_are_stored_never_500(client, key, setup):
    raw = json.dumps(event(key, dedup="a\u0000b", custom_details={"log": "x" * 400_000})).replace(
        "DISK", "\\ud800DISK").encode()
    assert enqueue(client, raw).status_code == 202
    [row] = incidents(setup)
    assert row[1].startswith("\ufffdDISK") and row[5] == "a\ufffdb" and len(row[2]) <= 65536


def test_a_body_over_the_limit_is_413_and_another_method_405_json(app, client, key):
    app.config["MAX_BODY_BYTES"] = 2000
    app.config["MAX_CONTENT_LENGTH"] = 2000
    big = enqueue(client, event(key, custom_details="x" * 3000))
    assert big.status_code == 413 and big.get_json()["status"] == "invalid event"
    wrong = client.get("/v2/enqueue")
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"


def test_every_event_is_in_the_api_log_with_its_explanation_and_without_the_key(admin, key):
    enqueue(admin, event(key))
    enqueue(admin, event(key))
    log = admin.get("/calls").get_data(as_text=True)
    call_ids = re.findall(r'/calls/([0-9a-f-]{36})"', log)
    assert len(set(call_ids)) == 2
    pages = [html.unescape(admin.get(f"/calls/{c}").get_data(as_text=True)) for c in dict.fromkeys(call_ids)]
    said = " ".join(pages)
    assert "Event pagerduty trigger with key “srv01/mysql” opened incident #1." in said
    assert "incident #1 with key “srv01/mysql” is still open, so this counts as a duplicate of it." in said
    assert key not in said and "[REDACTED]" in said


def test_maintenance_and_a_disabled_service_accept_and_ignore(app, client, key, setup):
    configure(app, {**DOC, "services": [{**SERVICE, "escalation_policy": "checkout",
                                         "maintenance": [{"starts_at": None, "ends_at": None,
                                                          "tags": [["staging"]]}]}]})
    skipped = enqueue(client, event(key, source="db1.staging"))
    assert skipped.status_code == 202 and incidents(setup) == []
    assert enqueue(client, event(key, source="db1.production")).status_code == 202 and len(incidents(setup)) == 1
    configure(app, {**DOC, "services": [{**SERVICE, "enabled": False}]})
    off = enqueue(client, event(key, dedup="other"))
    assert off.status_code == 202 and len(incidents(setup)) == 1
    notes = [as_json(r)[0].get("note") for (r,) in setup.query("SELECT results FROM api_calls ORDER BY received_at")]
    assert notes == ["maintenance", None, "disabled"]


def test_a_high_trigger_pages_its_policy_and_a_duplicate_pages_nobody(client, key, setup):
    enqueue(client, event(key))
    enqueue(client, event(key))
    pages = setup.query("SELECT channel FROM notifications WHERE kind = 'page'")
    assert pages == [("email",)]


def test_links_and_images_show_on_the_incident_escaped_and_only_web_urls(admin, key):
    enqueue(admin, {**event(key, component="mysql"),
                    "links": [{"href": "https://runbooks.example/disk", "text": "<b>Runbook</b>"},
                              {"href": "javascript:alert(1)", "text": "evil"}],
                    "images": [{"src": "https://charts.example/d.png", "alt": "Disk chart"},
                               {"src": "javascript:alert(2)"}],
                    "client": "Prometheus", "client_url": "https://prometheus.example/alerts"})
    page = admin.get("/incidents/1").get_data(as_text=True)
    assert '<a href="https://runbooks.example/disk" rel="noopener noreferrer">&lt;b&gt;Runbook&lt;/b&gt;</a>' in page
    assert '<a href="https://charts.example/d.png" rel="noopener noreferrer">Disk chart</a>' in page
    assert '<a href="https://prometheus.example/alerts" rel="noopener noreferrer">Prometheus</a>' in page
    assert "<code>component=mysql</code>" in page and "<img" not in page.split("<main", 1)[-1]
    assert 'href="javascript' not in page and ">evil<" not in page  # the payload shows them, as text


def test_change_events_are_stored_and_shown_on_the_incidents_of_their_service(app, admin, key, setup, now):
    change = {"routing_key": key, "payload": {"summary": "Deploy 42 of checkout", "source": "ci",
                                              "custom_details": {"commit": "abc123"}},
              "links": [{"href": "https://ci.example/42", "text": "Build 42"}, {"href": "javascript:x"}]}
    now.set(0)
    answer = enqueue(admin, change, "/v2/change/enqueue")
    assert answer.status_code == 202
    assert answer.get_json() == {"status": "success", "message": "Change event processed"}
    now.set(-2 * 86400)  # two days earlier: too old to show
    enqueue(admin, {**change, "payload": {"summary": "Old deploy"}}, "/v2/change/enqueue")
    other = routing_key(app, "other-ci", "other")
    now.set(60)
    enqueue(admin, {**change, "routing_key": other, "payload": {"summary": "Deploy of another service"}},
            "/v2/change/enqueue")
    now.set(120)
    enqueue(admin, event(key))
    page = admin.get("/incidents/1").get_data(as_text=True)
    assert "Recent changes" in page and "Deploy 42 of checkout" in page and "(ci)" in page
    assert '<a href="https://ci.example/42" rel="noopener noreferrer">Build 42</a>' in page
    assert "abc123" in page and "Old deploy" not in page and "another service" not in page
    assert setup.query("SELECT count(*) FROM change_events") == [(3,)]
    with app.app_context():
        result = prune(db.engine, clock.now() + 30 * 86400 - 3600, 30, 300)
    assert result.changes == 1 and setup.query("SELECT summary FROM change_events ORDER BY id") == [
        ("Deploy 42 of checkout",), ("Deploy of another service",)]


def test_a_change_event_for_a_disabled_service_is_ignored_and_a_bad_one_is_a_400(app, client, key, setup):
    bad = enqueue(client, {"routing_key": key, "payload": {}}, "/v2/change/enqueue")
    assert bad.status_code == 400 and bad.get_json()["errors"] == ["'payload.summary' is missing or blank"]
    unknown = enqueue(client, {"routing_key": "x" * 32, "payload": {"summary": "s"}}, "/v2/change/enqueue")
    assert unknown.get_json()["errors"] == ["Invalid routing key"]
    configure(app, {"services": [{**SERVICE, "enabled": False}]})
    assert enqueue(client, {"routing_key": key, "payload": {"summary": "s"}}, "/v2/change/enqueue").status_code == 202
    assert setup.query("SELECT count(*) FROM change_events") == [(0,)]


def test_the_token_tab_makes_a_routing_key_shown_once_and_needs_a_service(app, admin, setup):
    configure(app, DOC)
    [(service_id,)] = setup.query("SELECT id FROM services WHERE name = 'checkout-api'")
    refused = admin.post("/tokens", data={"name": "am", "service": "", "routing_key": "y"})
    assert refused.status_code == 422 and "A routing key routes events to one service" in refused.get_data(as_text=True)
    made = admin.post("/tokens", data={"name": "am", "service": str(service_id), "routing_key": "y"})
    assert made.status_code == 303
    page = admin.get("/tokens").get_data(as_text=True)
    key = re.search(r'id="new-token">([a-z0-9]{32})<', page)[1]
    assert "Routing key “am” created" in page and "http://localhost/v2/enqueue" in page
    assert key not in admin.get("/tokens").get_data(as_text=True)  # shown once
    assert enqueue(admin, event(key)).status_code == 202
    rotated = admin.post(f"/tokens/{setup.query('SELECT id FROM api_tokens')[0][0]}/rotate")
    assert rotated.status_code == 303
    new_key = re.search(r'id="new-token">([a-z0-9]{32})<', admin.get("/tokens").get_data(as_text=True))[1]
    assert enqueue(admin, event(new_key, "resolve")).status_code == 202
    assert enqueue(admin, event(key, "resolve")).get_json()["errors"] == ["Invalid routing key"]


def test_a_refused_event_shows_in_the_api_log_with_its_faults(admin, key):
    enqueue(admin, {**event(key), "event_action": "explode"})
    listing = admin.get("/calls")
    [call_id] = re.findall(r'/calls/([0-9a-f-]{36})"', listing.get_data(as_text=True))[:1]
    page = admin.get(f"/calls/{call_id}")
    text = html.unescape(page.get_data(as_text=True))
    assert listing.status_code == page.status_code == 200
    assert "'event_action' must be one of trigger, acknowledge or resolve" in text and key not in text
