"""Issue 6 D: what a new user met in the first hour, each proven here first."""

import re

from helpers import ALERTMANAGER, firing


def csrf_free_setup(client):
    return client.post("/setup", data={"email": "first@example.com", "password": "long password",
                                       "confirm": "long password"})


def test_d16_fresh_install_first_alert_path_ends_in_a_visible_incident(client, setup):
    assert csrf_free_setup(client).status_code == 302
    page = client.post("/tokens", data={"name": "first", "service": ""}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Send a test call" in text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', text.split("Send a test call with this token")[0]
                           .rsplit("<form", 1)[1]))
    import html

    form = {k: html.unescape(v) for k, v in form.items()}
    result = client.post("/test", data={**form, "send": "1"})
    assert ">201<" in result.get_data(as_text=True)
    listing = client.get("/incidents").get_data(as_text=True)
    assert "CPU above 90% on db1" in listing


def test_d16_every_202_from_the_dashboard_says_why(client, setup):
    csrf_free_setup(client)
    setup.token("global")
    token_id = setup.query("SELECT id FROM api_tokens")[0][0]
    result = client.post("/test", data={"token": str(token_id), "content_type": "application/json",
                                        "source": "", "body": '{"status": "pending"}', "send": "1"})
    text = result.get_data(as_text=True)
    assert ">202<" in text
    assert "No service has a rule that holds for this payload" in text and "Services" in text


def test_d16_a_202_with_no_service_says_create_one(add_user, sign_in, app, client, setup):
    sign_in(client, *add_user(app))
    setup.token("global")
    token_id = setup.query("SELECT id FROM api_tokens")[0][0]
    text = client.post("/test", data={"token": str(token_id), "content_type": "application/json",
                                      "source": "", "body": "{}", "dry_run": "1"}).get_data(as_text=True)
    assert "No service exists yet" in text


def test_d19_no_none_attributes_and_locked_account_message(add_user, app, client, setup, monkeypatch):
    text = client.get("/setup").get_data(as_text=True)
    assert '="None"' not in text
    email, password = add_user(app)
    for _ in range(5):
        client.post("/login", data={"email": email, "password": "wrong wrong"})
    text = client.post("/login", data={"email": email, "password": password}).get_data(as_text=True)
    assert "locked" in text.lower() and "until" in text.lower()
    assert "create-user" not in client.get("/login").get_data(as_text=True)


# -- D18: services can be renamed and deleted ---------------------------------------------------

def test_d18_rename_a_service_in_the_dashboard(add_user, sign_in, app, client, setup):
    from helpers import post

    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    token = setup.token("global")
    service_id = setup.query("SELECT id FROM services")[0][0]
    assert client.post(f"/services/{service_id}/rename", data={"name": "payments"}).status_code == 302
    assert setup.query("SELECT name FROM services")[0][0] == "payments"
    assert post(client, token, {"status": "firing", "groupKey": "g"}).status_code == 201
    setup.services({"name": "other"})
    bad = client.post(f"/services/{service_id}/rename", data={"name": "other"}, follow_redirects=True)
    assert "exists already" in bad.get_data(as_text=True)


def test_d18_delete_asks_first_says_what_goes_and_keeps_history(add_user, sign_in, app, client, setup):
    from helpers import post

    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    token = setup.token("global")
    scoped = setup.token("scoped", service="checkout-api")
    assert post(client, token, {"status": "firing", "groupKey": "g"}).status_code == 201
    service_id, = setup.query("SELECT id FROM services")[0]
    confirm = client.get(f"/services/{service_id}/delete").get_data(as_text=True)
    assert "2 rules" in confirm and "1 open incident" in confirm and "1 token" in confirm
    assert client.post(f"/services/{service_id}/delete").status_code == 302
    assert f"/services/{service_id}\"" not in client.get("/services").get_data(as_text=True)
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    page = client.get(f"/incidents/{incident_id}")
    assert page.status_code == 200 and "checkout-api" in page.get_data(as_text=True)
    assert setup.query("SELECT status FROM incidents")[0][0] == "resolved"
    assert post(client, scoped, {"status": "firing", "groupKey": "g"}).status_code == 401
    assert post(client, token, {"status": "firing", "groupKey": "g"}).status_code == 202
    setup.services(ALERTMANAGER)  # the name is free again
    assert post(client, token, {"status": "firing", "groupKey": "g"}).status_code == 201


def test_d18_cli_rename_and_delete(app, setup):
    setup.services(ALERTMANAGER)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["rename-service", "checkout-api", "payments"]).exit_code == 0
    refused = runner.invoke(args=["delete-service", "payments"], input="n\n")
    assert refused.exit_code == 1 and setup.query("SELECT count(*) FROM services WHERE deleted_at IS NULL")[0][0] == 1
    done = runner.invoke(args=["delete-service", "payments", "--yes"])
    assert done.exit_code == 0, done.output
    assert setup.query("SELECT count(*) FROM services WHERE deleted_at IS NULL")[0][0] == 0
    missing = runner.invoke(args=["delete-service", "nope", "--yes"])
    assert missing.exit_code == 1 and "no service named 'nope'" in missing.output


# -- D19: the smaller ones ------------------------------------------------------------------

def test_d19_long_titles_end_with_an_ellipsis_at_a_word():
    from callgoose.engine.decide import make_title

    title = make_title("word " * 100, None)
    assert len(title) <= 255 and title.endswith("…") and not title.endswith(" …")
    assert title[:-1].rstrip() == title[:-1] and ("word " * 100).startswith(title[:-1])
    assert make_title("x" * 300, None) == "x" * 254 + "…"  # one long word is cut where it must be
    assert make_title("short", None) == "short"


def test_d19_wording(add_user, sign_in, app, client, setup):
    from helpers import post

    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    token = setup.token()
    client.post("/services", data={"name": "checkout-api"})
    text = client.get("/services").get_data(as_text=True)
    assert "Service name a service" not in text and "exists already" in text
    service = client.get("/services/1").get_data(as_text=True)
    assert "description from not set" not in service
    post(client, token, b"x" * (1024 * 1024 + 1), content_type="text/plain")
    calls = client.get("/calls").get_data(as_text=True)
    assert "413 413" not in calls and "1 call." in calls and "call(s)" not in calls
    incident_call = post(client, token, firing("linked")).get_json()["id"]
    resolving = post(client, token, {"status": "resolved", "groupKey": "linked"}).get_json()["id"]
    page = client.get(f"/calls/{resolving}").get_data(as_text=True)
    assert 'href="/incidents/1"' in page and "incident(s)" not in page
    timeline = client.get("/incidents/1").get_data(as_text=True)
    assert f'href="/calls/{incident_call}"' in timeline and f'href="/calls/{resolving}"' in timeline


def test_d19_rule_editor_shows_every_error_at_once(add_user, sign_in, app, client, setup):
    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    response = client.post("/services/1/rules/new/trigger", data={
        "urgency": "high", "cond-0-key": "status", "cond-0-items": "x" * 201, "cond-0-mode": "all",
        "cond-1-key": "k" * 1001, "cond-1-items": "ok", "cond-1-mode": "all",
        "cond-2-key": "", "cond-2-items": "y" * 300, "cond-2-mode": "all"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert text.count("longer than") >= 3
    assert 'value="' + "k" * 1001 + '"' in text  # what was typed stays


def test_d19_saving_a_rule_another_tab_deleted_keeps_the_edit(add_user, sign_in, app, client, setup):
    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    rule_id = setup.query("SELECT id FROM rules WHERE kind = 'trigger'")[0][0]
    client.post(f"/services/1/rules/{rule_id}/delete")
    response = client.post(f"/services/1/rules/{rule_id}", data={
        "kind": "trigger", "urgency": "low", "cond-0-key": "status", "cond-0-items": "edited", "cond-0-mode": "all"})
    text = response.get_data(as_text=True)
    assert response.status_code == 409 and "deleted" in text and "edited" in text
    assert 'action="/services/1/rules/new/trigger"' in text


def test_d19_reloading_after_creating_a_token_creates_no_second_one(add_user, sign_in, app, client, setup):
    sign_in(client, *add_user(app))
    response = client.post("/tokens", data={"name": "am", "service": ""})
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "cg_" in shown and "shown only this once" in shown
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "shown only this once" not in again  # a reload shows no token and creates none
    assert setup.query("SELECT count(*) FROM api_tokens")[0][0] == 1
    same = client.post("/tokens", data={"name": "am", "service": ""})
    assert same.status_code == 422 and "exists already" in same.get_data(as_text=True)


def test_d19_maintenance_errors_sit_by_the_form_and_keep_what_was_typed(add_user, sign_in, app, client, setup):
    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    response = client.post("/services/1/maintenance", data={
        "action": "start", "starts": "2030-01-01T10:00", "until": "2029-01-01T10:00", "tags": "staging, eu",
        "tz": "Europe/Berlin"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    form = text[text.index('id="maintenance-form"'):]
    assert "must be after" in form[:3000] and "staging, eu" in form and "2029-01-01T10:00" in form


def test_d19_maintenance_times_are_read_in_the_browsers_zone(add_user, sign_in, app, client, setup):
    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    client.post("/services/1/maintenance", data={"action": "start", "starts": "2030-07-01T10:00",
                                                 "until": "2030-07-01T12:00", "tags": "", "tz": "Europe/Berlin"})
    starts, ends = setup.query("SELECT starts_at, ends_at FROM maintenance_windows")[0]
    assert str(starts).startswith("2030-07-01 08:00") and str(ends).startswith("2030-07-01 10:00")


def test_d19_an_open_incident_page_refreshes_when_it_changes(add_user, sign_in, app, client, setup):
    from helpers import post

    sign_in(client, *add_user(app))
    setup.services(ALERTMANAGER)
    token = setup.token()
    post(client, token, firing("live"))
    page = client.get("/incidents/1").get_data(as_text=True)
    marker = re.search(r'/incidents/1/live\?marker=(\w+)', page).group(1)
    assert client.get(f"/incidents/1/live?marker={marker}").status_code == 204
    client.post("/v1/incidents/1/acknowledge", headers={"Authorization": f"Bearer {token}"})
    changed = client.get(f"/incidents/1/live?marker={marker}")
    assert changed.status_code == 200 and changed.headers.get("HX-Refresh") == "true"


def test_d19_users_page_shows_a_locked_account(add_user, sign_in, app, client):
    email, password = add_user(app, "locked@example.com", admin=False)
    for _ in range(5):
        client.post("/login", data={"email": email, "password": "wrong wrong"})
    sign_in(client, *add_user(app))
    text = client.get("/users").get_data(as_text=True)
    row = text[text.index("locked@example.com"):text.index("</tr>", text.index("locked@example.com"))]
    assert "locked until" in row and ">active<" not in row
