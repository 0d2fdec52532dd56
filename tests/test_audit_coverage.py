"""Issue 19, item 5: each kind of change leaves an audit entry with the right actor, through the
entry points people and scripts use (dashboard, JSON API, mail link, CLI, import), and the
ingestion path records nothing (the API log has it)."""

from __future__ import annotations

import json

from helpers import ALERTMANAGER, T0, firing, post, run_jobs
from receivers import links_in, text_of

BASE = "http://callgoose.test"


def _entries(setup, where: str = "1 = 1", **params) -> list[tuple]:
    rows = setup.query("SELECT actor_kind, actor_name, subject_kind, subject_name, action, changes "
                       f"FROM audit_entries WHERE {where} ORDER BY id", **params)
    return [(a, n, k, s, act, c if not isinstance(c, str) else json.loads(c)) for a, n, k, s, act, c in rows]


def _who_what(setup, where: str = "1 = 1", **params) -> list[tuple]:
    return [(a, k, act) for a, _n, k, _s, act, _c in _entries(setup, where, **params)]


def test_dashboard_changes_are_the_signed_in_users(app, admin, setup):
    admin.post("/services", data={"name": "checkout"})
    service_id = setup.query("SELECT id FROM services WHERE name = 'checkout'")[0][0]
    admin.post(f"/services/{service_id}/settings", data={"enabled": "", "window": "300"})
    admin.post(f"/services/{service_id}/maintenance", data={"tags": "", "minutes": "30"})
    admin.post(f"/services/{service_id}/webhooks", data={"url": "https://hooks.example.com/x",
                                                          "secret": "s3cret-value-0123456789", "events": ["incident.triggered"]})
    admin.post("/tokens", data={"name": "ci", "service": ""})
    token_id = setup.query("SELECT id FROM api_tokens WHERE name = 'ci'")[0][0]
    admin.post(f"/tokens/{token_id}/revoke")
    admin.post("/users", data={"email": "bo@example.com", "password": "long enough pw", "role": "responder"})
    bo = setup.query("SELECT id FROM users WHERE email = 'bo@example.com'")[0][0]
    admin.post(f"/users/{bo}/role", data={"role": "viewer"})
    found = _who_what(setup, "actor_name = 'admin@example.com'")
    for expected in [("user", "service", "added"), ("user", "service", "changed"),
                     ("user", "maintenance", "changed"), ("user", "service paging", "changed"),
                     ("user", "token", "added"), ("user", "token", "changed"), ("user", "user", "added")]:
        assert expected in found, found
    role = [c for _a, _n, k, s, act, c in _entries(setup, "subject_kind = 'user' AND action = 'changed'")]
    assert role[-1] == [{"path": ["role"], "old": "responder", "new": "viewer"}]
    settings = [c for _a, _n, k, s, act, c in _entries(setup, "subject_kind = 'service' AND action = 'changed'")]
    assert {"path": ["enabled"], "old": True, "new": False} in settings[0]
    stored = json.dumps(setup.query("SELECT changes FROM audit_entries"), default=str)
    assert "s3cret-value-0123456789" not in stored  # a webhook's secret: marked, never kept
    assert "(secret)" in stored
    assert admin.get("/audit").status_code == 200


def test_token_actions_are_the_tokens_and_ingestion_records_nothing(prepared, dbapp):
    _url, setup, token = prepared
    client = dbapp.test_client()
    assert post(client, token, firing("g1")).status_code == 201
    assert _who_what(setup, "subject_kind = 'incident'") == []  # the hot path: in the API log only
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/incidents/1/acknowledge", headers=headers).status_code == 200
    assert client.post(f"/v1/services/{ALERTMANAGER['name']}/maintenance", headers=headers,
                       json={"tags": [], "until": None}).status_code == 201
    entries = _entries(setup, "actor_kind = 'token'")
    assert [(n, k, act) for _a, n, k, _s, act, _c in entries] == [
        ("test", "incident", "acknowledge"), ("test", "maintenance", "changed")]
    assert entries[0][5] == [{"path": ["status"], "old": "triggered", "new": "acknowledged"}]
    token_text = json.dumps(setup.query("SELECT * FROM audit_entries"), default=str)
    assert token not in token_text


def test_cli_import_and_link_actors(paging_app, smtp, now, setup_for, tmp_path):
    setup = setup_for(paging_app)
    runner = paging_app.test_cli_runner()
    doc = tmp_path / "config.json"
    doc.write_text(json.dumps({"services": [{"name": "from-cli", "trigger": [], "resolve": []}]}))
    assert runner.invoke(args=["import-config", str(doc)]).exit_code == 0
    assert runner.invoke(args=["invite", "new@example.com"]).exit_code == 0
    assert _who_what(setup) == [("cli", "service", "added"), ("cli", "user", "added")]
    run_jobs(paging_app, T0 + 1)
    mail = smtp.mailbox.wait(1)[0]
    path = [link for link in links_in(text_of(mail)) if "/invite/" in link][0].removeprefix(BASE)
    client = paging_app.test_client()
    assert client.post(path, data={"password": "a long secret", "confirm": "a long secret",
                                   "time_zone": "Europe/Berlin"}).status_code == 302
    accepted = _entries(setup, "actor_kind = 'link'")
    assert [(n, k, act) for _a, n, k, _s, act, _c in accepted] == [("new@example.com", "user", "changed")]
    assert {"path": ["password"], "secret": True} in accepted[0][5]
    assert {"path": ["time_zone"], "old": "UTC", "new": "Europe/Berlin"} in accepted[0][5]


def test_a_dashboard_import_is_an_import(app, admin, setup):
    config = json.dumps({"services": [{"name": "imported", "trigger": [], "resolve": []}],
                         "escalation_policies": []})
    assert admin.post("/services/import", data={"config": config}).status_code in (200, 302)
    assert ("import", "admin@example.com", "service", "imported", "added") in [
        e[:5] for e in _entries(setup)]


def test_a_persons_incident_actions_are_theirs(app, admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token()
    assert post(admin, token, firing("g1")).status_code == 201
    admin.post("/incidents/1/acknowledge")
    admin.post("/incidents/1/comment", data={"text": "looking"})
    admin.post("/incidents/1/resolve")
    incident = [(a, n, act, c) for a, n, k, _s, act, c in _entries(setup, "subject_kind = 'incident'")]
    assert incident == [
        ("user", "admin@example.com", "acknowledge", [{"path": ["status"], "old": "triggered", "new": "acknowledged"}]),
        ("user", "admin@example.com", "comment", [{"path": ["note"], "new": "looking"}]),
        ("user", "admin@example.com", "resolve", [{"path": ["status"], "old": "acknowledged", "new": "resolved"}])]


def test_a_mail_links_action_is_the_links_person(app, setup, add_user):
    import time

    from callgoose.engine.signing import make_link

    setup.services(ALERTMANAGER)
    add_user(app, "ana@example.com", admin=False)
    ana = setup.query("SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    client = app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    link = make_link(app.config["SECRET_KEY"], 1, "acknowledge", ana, time.time())
    assert client.post(f"/l/{link}").status_code == 200
    rows = setup.query("SELECT actor_kind, actor_id, address, action FROM audit_entries WHERE subject_kind = 'incident'")
    assert [tuple(r) for r in rows] == [("link", ana, "127.0.0.1", "acknowledge")]
