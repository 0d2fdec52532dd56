"""Issue 6 D: what a new user met in the first hour, each proven here first."""

import re

from conftest import ALERTMANAGER, add_user, sign_in


def csrf_free_setup(client):
    return client.post("/setup", data={"email": "first@example.com", "password": "long password",
                                       "confirm": "long password"})


def test_d16_fresh_install_first_alert_path_ends_in_a_visible_incident(client, setup):
    assert csrf_free_setup(client).status_code == 302
    page = client.post("/tokens", data={"name": "first", "service": ""})
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


def test_d16_a_202_with_no_service_says_create_one(app, client, setup):
    sign_in(client, *add_user(app))
    setup.token("global")
    token_id = setup.query("SELECT id FROM api_tokens")[0][0]
    text = client.post("/test", data={"token": str(token_id), "content_type": "application/json",
                                      "source": "", "body": "{}", "dry_run": "1"}).get_data(as_text=True)
    assert "No service exists yet" in text


def test_d19_no_none_attributes_and_locked_account_message(app, client, setup, monkeypatch):
    text = client.get("/setup").get_data(as_text=True)
    assert '="None"' not in text
    email, password = add_user(app)
    for _ in range(5):
        client.post("/login", data={"email": email, "password": "wrong wrong"})
    text = client.post("/login", data={"email": email, "password": password}).get_data(as_text=True)
    assert "locked" in text.lower() and "until" in text.lower()
    assert "create-user" not in client.get("/login").get_data(as_text=True)


# -- D18: services can be renamed and deleted ---------------------------------------------------

def test_d18_rename_a_service_in_the_dashboard(app, client, setup):
    from test_ingest import post

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


def test_d18_delete_asks_first_says_what_goes_and_keeps_history(app, client, setup):
    from test_ingest import post

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
