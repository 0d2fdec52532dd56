"""Integration templates (issue 10, item 1): each tool's rules against its real webhook bodies."""

from __future__ import annotations

import json

import pytest
from helpers import post

from callgoose import clock
from callgoose.engine import SpecError
from callgoose.engine.config import build_service
from callgoose.services import templates

KEYS = ("alertmanager", "grafana", "zabbix", "uptime-kuma", "datadog", "sentry", "aws-sns-cloudwatch", "nagios",
        "icinga2", "newrelic", "azure-monitor", "github-actions", "healthchecks", "curl", "pagerduty", "opsgenie")
# Templates whose samples go through /v1/process and the rules; an alert API's (issue 18) are
# tested with that API (test_pagerduty.py, test_opsgenie.py).
RULE_KEYS = tuple(key for key in KEYS if templates.template(key).api is None)


def test_every_tool_the_issue_names_has_a_template_whose_rules_are_valid():
    assert tuple(templates.all_templates()) == KEYS
    for key, found in templates.all_templates().items():
        build_service({"name": key, **found.service}, key)  # raises on a fault
        assert templates.URL_MARK in found.guide or (found.api and templates.BASE_MARK in found.guide), key
        assert set(found.samples) == {"firing", "resolved"} and "other" in found.more, key
        assert found.format.startswith("https://"), key


def incidents(setup, service):
    return setup.query("SELECT i.id, i.status, i.title FROM incidents i JOIN services s ON s.id = i.service_id "
                       "WHERE s.name = :s ORDER BY i.id", s=service)


@pytest.mark.parametrize("key", RULE_KEYS)
def test_firing_again_resolved_and_another_alert(key, app, client, setup):
    """firing → 201, the same again → 208, resolved → 200 on that incident, another alert → its own."""
    found = templates.template(key)
    with app.app_context():
        templates.create_service(f"t-{key}", key, clock.now())
    token = setup.token(key, service=f"t-{key}")
    kind = found.content_type

    def send(which):
        body = json.dumps(found.samples.get(which) or found.more[which])
        return post(client, token, body, content_type=kind)

    first = send("firing")
    assert first.status_code == 201, (key, first.get_json())
    again = send("firing")
    assert again.status_code == 208, (key, again.get_json())
    [(incident, status, title)] = incidents(setup, f"t-{key}")
    assert status == "triggered" and not title.startswith("Incident from"), (key, title)
    other = send("other")
    assert other.status_code == 201, (key, other.get_json())
    done = send("resolved")
    assert done.status_code == 200, (key, done.get_json())
    states = incidents(setup, f"t-{key}")
    assert [(i, s) for i, s, _ in states] == [(incident, "resolved"), (states[1][0], "triggered")], key
    if "other_resolved" in found.more:
        assert send("other_resolved").status_code == 200
        assert [s for _, s, _ in incidents(setup, f"t-{key}")] == ["resolved", "resolved"]


@pytest.mark.parametrize("key", ["pagerduty"])
def test_an_api_template_sets_up_a_routing_key_and_its_samples_open_repeat_and_resolve(key, app, client, setup):
    with app.app_context():
        made = templates.set_up(f"t-{key}", key, clock.now())
    found = made.template
    assert found.path == "/v2/enqueue" and len(made.plaintext) == 32  # a routing key, the form PagerDuty's clients expect

    def send(which):
        body = {**(found.samples.get(which) or found.more[which]), "routing_key": made.plaintext}
        answer = client.post(found.path, json=body)
        assert answer.status_code == 202 and answer.get_json()["status"] == "success", answer.get_json()
        return [(status, repeats) for _, status, _, repeats in setup.query(
            "SELECT i.id, i.status, i.title, i.duplicate_count FROM incidents i ORDER BY i.id")]

    assert send("firing") == [("triggered", 0)]
    assert send("firing") == [("triggered", 1)]
    assert send("other") == [("triggered", 1), ("triggered", 0)]
    assert send("resolved") == [("resolved", 1), ("triggered", 0)]
    guide = templates.filled(found.guide, "https://cg.example.com/v2/enqueue", made.plaintext)
    assert f'routing_key: "{made.plaintext}"' in guide and 'url: "https://cg.example.com/v2/enqueue"' in guide


def test_the_cli_lists_prints_and_creates(app):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["templates"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(KEYS)
    assert "alertmanager\tPrometheus Alertmanager" in lines
    shown = runner.invoke(args=["templates", "alertmanager"])
    doc = json.loads(shown.output)
    assert set(doc) == {"key", "name", "service", "guide", "samples"} and doc["key"] == "alertmanager"
    assert set(doc["samples"]) == {"firing", "resolved"} and doc["service"]["split_on"] == "alerts"
    assert "name" not in doc["service"]
    unknown = runner.invoke(args=["templates", "nope"])
    assert unknown.exit_code != 0 and "no template 'nope'" in unknown.output
    made = runner.invoke(args=["create-service", "prometheus", "--template", "alertmanager"])
    assert made.exit_code == 0, made.output
    exported = json.loads(runner.invoke(args=["export-config"]).output)
    [service] = [s for s in exported["services"] if s["name"] == "prometheus"]
    assert [r["map_incident_with"] for r in service["trigger"]] == ["fingerprint", "fingerprint"]
    assert service["split_on"] == "alerts" and len(service["resolve"]) == 1
    taken = runner.invoke(args=["create-service", "prometheus", "--template", "alertmanager"])
    assert taken.exit_code != 0 and "exists already" in taken.output and len(taken.output.strip().splitlines()) == 1
    bad = runner.invoke(args=["create-service", "other", "--template", "nope"])
    assert bad.exit_code != 0 and "no template 'nope'" in bad.output
    assert made.output.rstrip().endswith("create-token NAME --service prometheus")
    paged = runner.invoke(args=["create-service", "checkout", "--template", "pagerduty"])
    assert paged.output.rstrip().endswith("create-token NAME --service checkout --routing-key"), paged.output
    with app.app_context():
        from callgoose.extensions import db
        from callgoose.store.models import ApiToken
        assert db.session.query(ApiToken).count() == 0  # no token


def test_an_unknown_template_or_a_taken_name_is_refused(app):
    with app.app_context():
        with pytest.raises(SpecError, match="no template"):
            templates.create_service("x", "nope")
        templates.create_service("x", "curl")
        with pytest.raises(SpecError, match="exists already"):
            templates.create_service("x", "curl")


def test_filled_guides_carry_the_endpoint_and_the_token():
    guide = templates.filled(templates.template("alertmanager").guide, "https://cg.example.com/v1/process", "cg_abc")
    assert 'url: "https://cg.example.com/v1/process"' in guide and 'credentials: "cg_abc"' in guide
    assert templates.URL_MARK not in guide and templates.TOKEN_MARK not in guide


def test_the_first_run_picks_a_tool_shows_the_guide_with_the_token_and_sends_the_sample(client, setup):
    import html
    import re
    made = client.post("/setup", data={"email": "ops@example.com", "password": "long enough", "confirm": "long enough"})
    assert made.headers["Location"] == "/welcome"
    pick = client.get("/welcome").get_data(as_text=True)
    assert "Which tool sends your alerts?" in pick and pick.count('name="template"') == len(KEYS)
    guide = client.post("/integrations", data={"template": "alertmanager", "name": ""})
    text = guide.get_data(as_text=True)
    assert guide.status_code == 200 and guide.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token">(cg_[^<]+)<', text)[1]
    assert f"credentials: &quot;{token}&quot;" in text  # the Alertmanager snippet carries the token
    assert "http://localhost/v1/process" in text and "@CALLGOOSE" not in text
    assert setup.query("SELECT name, split_on FROM services WHERE name = 'alertmanager'") == [("alertmanager", "alerts")]
    scope = setup.query("SELECT s.name FROM api_tokens t JOIN services s ON s.id = t.service_id")
    assert scope == [("alertmanager",)]
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                           text.split("Send the sample")[0].rsplit("<form", 1)[1]))
    form = {k: html.unescape(v) for k, v in form.items()}
    sent = client.post("/test", data={**form, "send": "1"}).get_data(as_text=True)
    assert ">201<" in sent and "See it in the live incident list" in sent
    assert "HighErrorRate" in client.get("/incidents").get_data(as_text=True)
    again = client.post("/integrations", data={"template": "alertmanager", "name": ""}, follow_redirects=True)
    assert "a service named &#39;alertmanager&#39; exists already" in again.get_data(as_text=True)
    later = client.get(f"/services/{setup.query('SELECT id FROM services WHERE name = :n', n='alertmanager')[0][0]}"
                       "/guide/alertmanager").get_data(as_text=True)
    assert "YOUR_TOKEN" in later and token not in later


def _code_blocks(markdown: str, language: str) -> list[str]:
    import re
    return re.findall(rf"```{language}\n(.*?)```", markdown, re.S)


def test_the_alertmanager_and_grafana_snippets_are_the_configuration_those_tools_read():
    """The YAML a user pastes: Alertmanager's receiver with webhook_configs and an
    authorization header; Grafana's provisioned webhook contact point."""
    import yaml
    url, token = "https://cg.example.com/v1/process", "cg_" + "x" * 43
    [alertmanager] = _code_blocks(templates.filled(templates.template("alertmanager").guide, url, token), "yaml")
    doc = yaml.safe_load(alertmanager)
    [receiver] = [r for r in doc["receivers"] if r["name"] == doc["route"]["receiver"]]
    [hook] = receiver["webhook_configs"]
    assert hook["url"] == url and hook["send_resolved"] is True
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials": token}
    [grafana] = _code_blocks(templates.filled(templates.template("grafana").guide, url, token), "yaml")
    point = yaml.safe_load(grafana)["contactPoints"][0]["receivers"][0]
    assert point["type"] == "webhook" and point["settings"] == {
        "url": url, "httpMethod": "POST", "authorization_scheme": "Bearer", "authorization_credentials": token}


@pytest.mark.parametrize("key", ["datadog", "healthchecks", "newrelic", "zabbix"])
def test_the_bodies_users_paste_are_what_the_rules_expect(key):
    """Where the user writes the body, the guide's body has the keys the rules read."""
    import re
    found = templates.template(key)
    keys = {c["json_key"] for r in found.service["trigger"] + found.service["resolve"] for c in r["conditions"]}
    keys |= {r.get("map_incident_with") for r in found.service["trigger"]} | {
        r["incident_mapped_with"] for r in found.service["resolve"]}
    body_keys = set(re.findall(r'"(\w+)":', found.guide))
    assert {k for k in keys if k} <= body_keys, (key, keys - body_keys)


def test_the_pagerduty_guide_shows_the_events_url_and_the_routing_key_once(admin):
    import re
    page = admin.post("/integrations", data={"template": "pagerduty", "name": "checkout"})
    text = page.get_data(as_text=True)
    key = re.search(r'id="new-token">([a-z0-9]{32})<', text)[1]
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f"routing_key: &quot;{key}&quot;" in text and "url: &quot;http://localhost/v2/enqueue&quot;" in text
    assert "Send the sample" not in text and "@CALLGOOSE" not in text
    again = admin.get("/services/1/guide/pagerduty").get_data(as_text=True)
    assert key not in again and "http://localhost/v2/enqueue" in again


def test_the_alertmanager_template_gives_each_severity_its_priority(app, client, setup):
    """Issue 20's "done when", as shipped: the Alertmanager template's critical alert opens a P1."""
    found = templates.template("alertmanager")
    with app.app_context():
        templates.create_service("am", "alertmanager", clock.now())
    token = setup.token("am", service="am")
    sample = found.samples["firing"]
    for n, (severity, expected) in enumerate([("critical", ("P1", "high")), ("warning", ("P3", "low")),
                                             ("info", ("P5", "low")), ("major", ("P2", "high"))]):
        alert = {**sample["alerts"][0], "fingerprint": f"f{n}",
                 "labels": {**sample["alerts"][0]["labels"], "severity": severity}}
        assert post(client, token, json.dumps({**sample, "alerts": [alert]})).status_code == 201, severity
        assert setup.query("SELECT priority, urgency FROM incidents ORDER BY id DESC LIMIT 1") == [expected], severity
