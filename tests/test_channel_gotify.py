"""Issue 17: Gotify, the team's own push server, as a contact method (the registry's proof: one
module, one line in the registry), end to end against a local server that checks what Gotify
checks (tests/providers/web.py): added and verified on My notifications, a page at priority 8
with its facts and signed links that ask before they act ("via Gotify" on the timeline), the
token kept out of sight, retries and refusals in the ledger."""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import ALERTMANAGER, T0, configure, firing, post, run_jobs
from providers.web import FakeGotify

from callgoose import clock
from callgoose.engine.rules import SpecError
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"


@pytest.fixture
def gotify():
    with FakeGotify() as fake:
        yield fake


@pytest.fixture
def push_app(make_app, database_url, tmp_path):
    return make_app(database_url, tmp_path, BASE_URL=BASE, WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                    DELIVERY_TIMEOUT_SECONDS=5)


def ana_on_gotify(url: str, token: str, urgency: str = "high") -> dict:
    return {"users": [{"email": "ana@example.com", "name": "Ana",
                       "contact_methods": [{"name": "push", "type": "gotify", "url": url, "token": token}],
                       "notification_rules": [{"contact_method": "push", "after_minutes": 0}]}],
            "escalation_policies": [{"name": "checkout", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**ALERTMANAGER, "escalation_policy": "checkout",
                          "trigger": [{**ALERTMANAGER["trigger"][0], "urgency": urgency}]}]}


def test_the_document_takes_a_server_and_a_token_and_names_the_fault(push_app, gotify):
    configure(push_app, ana_on_gotify(gotify.base, gotify.token))
    exported = json.loads(push_app.test_cli_runner().invoke(args=["export-config"]).stdout)
    assert exported["users"][0]["contact_methods"] == [
        {"name": "push", "type": "gotify", "url": gotify.base, "token": gotify.token}]
    for bad, path in (({"url": "gotify.example.com", "token": "x"}, "url"), ({"url": gotify.base}, "token"),
                      ({"url": gotify.base, "token": "two words"}, "token")):
        doc = ana_on_gotify("", "")
        doc["users"][0]["contact_methods"][0] = {"name": "push", "type": "gotify", **bad}
        with pytest.raises(SpecError) as caught, push_app.app_context():
            import_config(doc, clock.now())
        assert caught.value.path == f"users[0].contact_methods[0].{path}", bad


def test_my_notifications_adds_it_keeps_the_token_out_of_sight_and_a_code_verifies_it(
        push_app, gotify, add_user, sign_in, setup_for):
    client = push_app.test_client()
    sign_in(client, *add_user(push_app, "dee@example.com", admin=False))
    form = client.get("/notifications/me").get_data(as_text=True)
    assert re.search(r'<input id="m-gotify-token" name="token" required\s+type="password"', form)
    assert client.post("/notifications/me/methods", data={"name": "phone", "type": "gotify", "address": gotify.base,
                                                           "token": gotify.token}).status_code == 302
    page = client.get("/notifications/me").get_data(as_text=True)
    assert gotify.token not in page and "phone" in page
    method_id = int(re.findall(r'id="method-(\d+)"', page)[-1])
    client.post(f"/notifications/me/methods/{method_id}/code")
    run_jobs(push_app, T0 + 1)
    (sent,) = gotify.wait(1)
    assert sent["token_from"] == "header" and sent["priority"] == 2  # a code: seen, not rung for
    code = re.search(r"\b(\d{6})\b", sent["message"]).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    assert re.search(rf'id="method-{method_id}".*?>verified<', client.get("/notifications/me").get_data(as_text=True),
                     re.S)


@pytest.mark.parametrize("urgency, priority", [("high", 8), ("low", 5)])
def test_a_page_rings_with_its_facts_and_its_link_acknowledges_via_gotify(push_app, setup_for, gotify, urgency,
                                                                         priority):
    setup = setup_for(push_app)
    configure(push_app, ana_on_gotify(gotify.base, gotify.token, urgency))
    title = "Disk full [click](https://evil.example) **now**"
    assert post(push_app.test_client(), setup.token(), firing("g1", title)).status_code == 201
    run_jobs(push_app, time.time() + 1)
    (sent,) = gotify.wait(1)
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    code = {"high": "P2", "low": "P4"}[urgency]  # the priority each urgency gives by default (issue 20)
    assert sent["priority"] == priority and sent["title"] == f"{code} {urgency.upper()} checkout-api: {title}"
    assert sent["extras"]["client::display"] == {"contentType": "text/markdown"}
    assert sent["extras"]["client::notification"]["click"]["url"] == f"{BASE}/incidents/{incident_id}"
    message = sent["message"]
    assert r"Disk full \[click\](https://evil.example) \*\*now\*\*" in message  # no link of its own
    assert "Opened " in message  # the page's facts
    links = dict(re.findall(r"\[(Acknowledge|Resolve)\]\((http[^)]+)\)", message))
    path = links["Acknowledge"].removeprefix(BASE)
    client = push_app.test_client()
    assert client.get(path).status_code == 200 and setup.query("SELECT status FROM incidents") == [("triggered",)]
    assert client.post(path).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    actor = setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert actor == "ana@example.com (via Gotify)"


def test_a_5xx_is_retried_and_a_bad_token_fails_for_good_in_the_ledger(push_app, setup_for, gotify):
    setup = setup_for(push_app)
    configure(push_app, ana_on_gotify(gotify.base, gotify.token))
    gotify.fail_next(1, 503)
    token = setup.token()
    assert post(push_app.test_client(), token, firing("g1")).status_code == 201
    start = time.time()
    run_jobs(push_app, start + 1)
    assert setup.query("SELECT status, attempts FROM notifications") == [("pending", 1)]
    run_jobs(push_app, start + 62)  # after the retry's 30 s and the method's one message a minute
    assert setup.query("SELECT status, attempts FROM notifications") == [("sent", 2)]
    configure(push_app, ana_on_gotify(gotify.base, "not-the-token"))
    assert post(push_app.test_client(), token, firing("g2")).status_code == 201
    run_jobs(push_app, start + 130)
    status, error = setup.query("SELECT status, error FROM notifications ORDER BY id")[-1]
    assert status == "failed" and "Gotify answered HTTP 401" in error and "valid access token" in error
