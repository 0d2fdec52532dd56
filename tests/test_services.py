"""The Services tab: the rule editor saves what the engine runs; errors sit next to their field."""

import io
import json

import pytest
from helpers import ALERTMANAGER, firing, post


@pytest.fixture
def admin(add_user, sign_in, app, client):
    sign_in(client, *add_user(app))
    return client


def rule_form(**fields):
    data = {f"cond-{i}-{part}": "" for i in range(5) for part in ("key", "items")}
    data.update({f"cond-{i}-mode": "all" for i in range(5)})
    data.update(fields)
    return data


def test_empty_state_then_create_a_service(admin, setup):
    assert "No services yet" in admin.get("/services").get_data(as_text=True)
    response = admin.post("/services", data={"name": "web"})
    assert response.headers["Location"] == "/services/1"
    assert "No trigger rule: this service never opens an incident." in admin.get("/services/1").get_data(as_text=True)
    bad = admin.post("/services", data={"name": "has space"}, follow_redirects=True)
    assert "Not created: the name must be 1-64 letters" in bad.get_data(as_text=True)


def test_a_rule_saved_in_the_editor_runs_on_the_next_call(admin, setup):
    admin.post("/services", data={"name": "web"})
    token = setup.token(service="web")
    assert post(admin, token, {"state": "DOWN", "host": "db1"}).status_code == 202  # no rule yet
    saved = admin.post("/services/1/rules/new/trigger", data=rule_form(**{
        "urgency": "low", "cond-0-key": "state", "cond-0-items": "down\n", "title_from": "host",
        "map_incident_with": "host"}))
    assert saved.status_code == 302
    assert post(admin, token, {"state": "DOWN", "host": "db1"}).status_code == 201
    assert setup.query("SELECT title, urgency, mapping_value FROM incidents") == [("db1", "low", "db1")]
    page = admin.get("/services/1").get_data(as_text=True)
    assert "<code>state</code>" in page and "“down”" in page


def test_engine_errors_come_back_next_to_the_field_with_422(admin, setup):
    admin.post("/services", data={"name": "web"})
    response = admin.post("/services/1/rules/new/trigger", data=rule_form(**{
        "cond-2-key": "status", "cond-2-items": "ok\n" + "x" * 201}))
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="cond-2-items-errors"><li>longer than 200 characters' in text
    assert setup.query("SELECT count(*) FROM rules")[0][0] == 0
    resolve = admin.post("/services/1/rules/new/resolve", data=rule_form(**{"cond-0-key": "s", "cond-0-items": "up"}))
    assert resolve.status_code == 422 and "Name the key whose value picks the incident" in resolve.get_data(as_text=True)
    empty = admin.post("/services/1/rules/new/resolve", data=rule_form(incident_mapped_with="host"))
    assert empty.status_code == 422 and "a resolve rule needs at least one condition" in empty.get_data(as_text=True)


def test_whole_payload_key_is_the_empty_string(admin, setup):
    admin.post("/services", data={"name": "web"})
    admin.post("/services/1/rules/new/trigger", data=rule_form(**{"map_incident_with-whole": "1"}))
    exported = json.loads(admin.get("/services/export").get_data(as_text=True))
    assert exported["services"][0]["trigger"][0]["map_incident_with"] == ""
    assert exported["services"][0]["trigger"][0]["title_from"] is None


def test_move_edit_and_delete_rules(admin, setup):
    setup.services({"name": "web", "trigger": [{"urgency": "high"}, {"urgency": "low"}]})
    admin.post("/services/1/rules/2/up")
    assert [r[0] for r in setup.query("SELECT urgency FROM rules ORDER BY position")] == ["low", "high"]
    edit = admin.get("/services/1/rules/2").get_data(as_text=True)
    assert 'value="low" selected' in edit
    admin.post("/services/1/rules/2/delete")
    assert setup.query("SELECT urgency, position FROM rules") == [("high", 0)]
    assert admin.post("/services/1/rules/99/delete").status_code == 404


def test_settings_and_maintenance(admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token()
    admin.post("/services/1/settings", data={"window": "60"})  # unticked: disabled
    assert setup.query("SELECT enabled, duplicate_window_seconds FROM services") == [(0, 60)]
    admin.post("/services/1/settings", data={"enabled": "1", "window": ""})
    admin.post("/services/1/maintenance", data={"action": "start", "tags": "staging, db1\n", "until": ""})
    assert post(admin, token, firing(env="staging", host="db1")).status_code == 202
    assert post(admin, token, firing("prod")).status_code == 201
    assert "in maintenance" in admin.get("/services").get_data(as_text=True)
    admin.post("/services/1/maintenance", data={"action": "end"})
    assert post(admin, token, firing(env="staging", host="db1")).status_code == 201


def test_import_errors_name_the_path_and_export_downloads(admin, setup):
    bad = {"services": [{"name": "a", "trigger": [{"conditions": [{"json_key": "k", "contains": ["x"], "mode": "some"}]}]}]}
    response = admin.post("/services/import", data={"config": json.dumps(bad)})
    assert response.status_code == 422
    assert "services[0].trigger[0].conditions[0].mode: must be one of all, any, none" in response.get_data(as_text=True)
    assert admin.post("/services/import", data={"config": "{nope"}).status_code == 422
    assert admin.post("/services/import", data={"config": json.dumps({"services": [ALERTMANAGER]})}).status_code == 302
    download = admin.get("/services/export")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(download.get_data())["services"][0]["name"] == "checkout-api"


def test_responders_see_rules_but_cannot_change_them(add_user, sign_in, app, client, setup):
    setup.services(ALERTMANAGER)
    add_user(app)
    sign_in(client, *add_user(app, "resp@example.com", admin=False))
    page = client.get("/services/1").get_data(as_text=True)
    assert "View" in page and "Add a trigger rule" not in page
    assert client.post("/services/1/rules/1", data=rule_form()).status_code == 403
    assert client.post("/services/1/rules/1/delete").status_code == 403
    assert client.post("/services", data={"name": "x"}).status_code == 403


def test_scheduled_maintenance_starts_later(admin, setup, monkeypatch):
    from callgoose import clock
    setup.services(ALERTMANAGER)
    token = setup.token()
    response = admin.post("/services/1/maintenance", data={
        "action": "start", "starts": "2099-01-01T00:00", "until": "2099-01-02T00:00", "tags": ""}, follow_redirects=True)
    assert "Maintenance scheduled." in response.get_data(as_text=True)
    assert post(admin, token, firing("now")).status_code == 201
    monkeypatch.setattr(clock, "now", lambda: 4070908800.0 + 60)  # 2099-01-01T00:01Z
    assert post(admin, token, firing("later")).status_code == 202
    bad = admin.post("/services/1/maintenance", data={"action": "start", "starts": "2099-01-02T00:00",
                                                      "until": "2099-01-01T00:00"}, follow_redirects=True)
    assert bad.status_code == 422 and "until: must be after the start" in bad.get_data(as_text=True)


def test_a_dry_run_shows_what_an_edited_rule_would_change_in_the_stored_calls(admin, setup):
    """Issue 10, item 5: would create, would stop creating, would resolve, would become 202."""
    setup.services(ALERTMANAGER)
    token = setup.token(service="checkout-api")
    calls = {name: post(admin, token, body).get_json()["id"] for name, body in (
        ("firing", firing("g1")), ("pending", {"status": "pending", "groupKey": "g2"}),
        ("resolved", {"status": "resolved", "groupKey": "g1"}))}
    trigger_id = setup.query("SELECT id FROM rules WHERE kind = 'trigger'")[0][0]
    before = setup.query("SELECT count(*) FROM incidents")
    # The trigger rule edited to hold for "pending" instead of "firing".
    page = admin.post(f"/services/1/rules/{trigger_id}", data=rule_form(**{
        "kind": "trigger", "urgency": "high", "cond-0-key": "status", "cond-0-items": "pending",
        "map_incident_with": "groupKey", "dry_run": "1"}))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Dry run: 2 calls of the last 3 calls would change" in text
    row = text.split(f'/calls/{calls["pending"]}')[1].split("</tr>")[0]
    assert "would create" in row and "nothing (202)" in row and "opens &#34;g2&#34;" in row
    row = text.split(f'/calls/{calls["firing"]}')[1].split("</tr>")[0]
    assert "would stop creating" in row and "would become 202" in row
    assert calls["resolved"] not in text  # its outcome does not change
    assert setup.query("SELECT count(*) FROM incidents") == before  # nothing saved, nothing run
    stored = setup.query("SELECT conditions FROM rules WHERE id = :i", i=trigger_id)[0][0]
    assert (json.loads(stored) if isinstance(stored, str) else stored)[0]["contains"] == ["firing"]
    # A new resolve rule: which calls it would resolve.
    new = admin.post("/services/1/rules/new/resolve", data=rule_form(**{
        "cond-0-key": "status", "cond-0-items": "pending", "incident_mapped_with": "groupKey", "dry_run": "1"}))
    row = new.get_data(as_text=True).split(f'/calls/{calls["pending"]}')[1].split("</tr>")[0]
    assert "would resolve" in row and "resolves &#34;g2&#34;" in row


def test_rule_lint_on_the_service_page_and_in_the_editor(admin, setup, monkeypatch):
    """Issue 10, item 9: a rule that can never win, a mapping key no resolve rule uses, a rule
    that held for nothing in 7 days, a key none of the last payloads has."""
    from callgoose import clock
    setup.services({"name": "web", "trigger": [
        {"conditions": [{"json_key": "status", "contains": ["down"]}], "map_incident_with": "host",
         "title_from": "summary"},
        {"conditions": [{"json_key": "status", "contains": ["down"]}, {"json_key": "env", "contains": ["prod"]}],
         "map_incident_with": "host"}],
        "resolve": [{"conditions": [{"json_key": "status", "contains": ["up"]}], "incident_mapped_with": "hostname"}]})
    token = setup.token(service="web")
    post(admin, token, {"status": "down", "host": "db1"})
    page = admin.get("/services/1").get_data(as_text=True)
    assert "can never win: whenever it holds, trigger rule 1 holds too and is tried first" in page
    assert "no resolve rule uses its mapping key `host`" in page
    assert "the last 1 payload has no key `summary`" in page
    assert "the last 1 payload has no key `hostname`" in page
    assert "held for no call in the last 7 days" not in page  # the rules were saved just now
    real = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real + 8 * 86400)
    post(admin, token, {"status": "down", "host": "db2"})
    later = admin.get("/services/1").get_data(as_text=True)
    assert later.count("held for no call in the last 7 days") == 2  # trigger rule 2 and the resolve rule
    rule_id = setup.query("SELECT id FROM rules WHERE kind = 'trigger' AND position = 1")[0][0]
    editor = admin.get(f"/services/1/rules/{rule_id}").get_data(as_text=True)
    assert "Check this rule" in editor and "can never win" in editor and "`summary`" not in editor


def _break_a_stored_rule(app, setup):
    """A rule row the engine refuses (as one saved before a limit was tightened would be)."""
    from sqlalchemy import text

    from callgoose.extensions import db

    setup.services(ALERTMANAGER)
    with app.app_context():
        db.session.execute(text("UPDATE rules SET urgency = 'weird' WHERE kind = 'trigger'"))
        db.session.commit()


def test_export_of_a_service_that_cannot_be_rebuilt_names_it_instead_of_failing(admin, app, setup):
    _break_a_stored_rule(app, setup)
    response = admin.get("/services/export", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 409, page
    assert "checkout-api" in page and "cannot be exported" in page


def test_import_plan_against_a_service_that_cannot_be_rebuilt_is_a_refusal(admin, app, setup):
    import pathlib

    _break_a_stored_rule(app, setup)
    fixture = pathlib.Path(__file__).parent / "fixtures" / "import" / "pagerduty"
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(fixture.rglob("*.json"))]
    response = admin.post("/services/import-from", data={"tool": "pagerduty", "files": files},
                          content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code != 500, page
    assert "checkout-api" in page and "cannot be exported" in page
