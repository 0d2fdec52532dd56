"""Issue 17: the Pushover contact method, end to end against a local Pushover (tests/providers).

A high-urgency page is an emergency message (priority 2, retry 60, expire 3600) whose callback
is a signed Callgoose URL; Pushover's acknowledgement acknowledges the incident as the person
whose user key it went to, once. Codes, tests, follow-ups and low urgency are ordinary pushes.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from helpers import ALERTMANAGER, configure, firing, post, resolved, run_jobs
from providers.misc import PUSHOVER_TOKEN, PUSHOVER_USER, FakePushover

from callgoose import channels, clock
from callgoose.engine.rules import SpecError
from callgoose.engine.signing import make_action
from callgoose.logs import redact
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"
OTHER_USER = "uCallgooseTestUserKey000000002"
GROUP = "gCallgooseTestGroupKey00000001"


@pytest.fixture
def pushover():
    with FakePushover() as fake:
        fake.add_user(PUSHOVER_USER, devices=("phone", "tablet"))
        fake.add_user(OTHER_USER)
        yield fake


@pytest.fixture
def app(make_app, database_url, tmp_path, pushover):
    return make_app(database_url, tmp_path, BASE_URL=BASE, PUSHOVER_APP_TOKEN=PUSHOVER_TOKEN,
                    PUSHOVER_API_BASE=pushover.base, DELIVERY_TIMEOUT_SECONDS=5)


def ana(user_key: str = PUSHOVER_USER, **method) -> dict:
    """Ana paged by Pushover at once, by the only level of checkout-api's policy; Bo by mail."""
    trigger = [{**ALERTMANAGER["trigger"][0], "urgency": method.pop("urgency", "high")}]
    return {"users": [{"email": "ana@example.com", "contact_methods": [
                {"name": "push", "type": "pushover", "user_key": user_key, **method}],
                "notification_rules": [{"contact_method": "push", "after_minutes": 0}]},
            {"email": "bo@example.com", "contact_methods": [{"name": "mail", "type": "email",
                                                             "address": "bo@example.com"}]}],
            "escalation_policies": [{"name": "checkout", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**ALERTMANAGER, "trigger": trigger, "escalation_policy": "checkout"}]}


def page(app, setup_for, summary: str = "Disk full", **method):
    """Configure Ana, open an incident, send its page; return the setup (``setup.sender``: the
    token that opened it)."""
    configure(app, ana(**method))
    setup = setup_for(app)
    setup.sender = setup.token()
    assert post(app.test_client(), setup.sender, firing("g1", summary)).status_code == 201
    run_jobs(app, time.time() + 1)
    return setup


def statuses(setup) -> list[str]:
    return [r[0] for r in setup.query("SELECT status FROM incidents ORDER BY id")]


# ---- the method's fields --------------------------------------------------------------------

def test_the_document_takes_a_pushover_method_and_names_faults_by_path(app, setup_for):
    configure(app, ana(device="phone, tablet"))
    runner = app.test_cli_runner()
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    method = exported["users"][0]["contact_methods"][0]
    assert method == {"name": "push", "type": "pushover", "user_key": PUSHOVER_USER, "device": "phone,tablet"}
    configure(app, exported)
    assert json.loads(runner.invoke(args=["export-config"]).stdout) == exported
    path = "users[0].contact_methods[0]"
    for fields, where in (({"user_key": "short"}, "user_key"), ({"user_key": PUSHOVER_USER + "x"}, "user_key"),
                          ({"user_key": PUSHOVER_USER[:-1] + "!"}, "user_key"), ({}, "user_key"),
                          ({"user_key": PUSHOVER_USER, "device": "my phone"}, "device"),
                          ({"user_key": PUSHOVER_USER, "device": "x" * 26}, "device"),
                          ({"user_key": PUSHOVER_USER, "device": "phone,"}, "device"),
                          ({"user_key": PUSHOVER_USER, "token": "abc"}, "token")):
        doc = {"users": [{"email": "cy@example.com", "contact_methods": [{"name": "p", "type": "pushover",
                                                                          **fields}]}], "services": []}
        with app.app_context(), pytest.raises(SpecError) as caught:
            import_config(doc, clock.now())
        assert caught.value.path == f"{path}.{where}", fields
    kept = channels.get("pushover").check({"user_key": f" {PUSHOVER_USER} "}, "m")
    assert (kept.address, kept.options) == (PUSHOVER_USER, {})


def test_my_notifications_adds_a_pushover_method(app, setup_for, add_user, sign_in):
    client = app.test_client()
    sign_in(client, *add_user(app, "dee@example.com", admin=False))
    page_html = client.get("/notifications/me").get_data(as_text=True)
    assert 'name="type" value="pushover"' in page_html and 'name="device"' in page_html
    client.post("/notifications/me/methods", data={"type": "pushover", "name": "phone", "address": PUSHOVER_USER,
                                                  "device": "phone"})
    refused = client.post("/notifications/me/methods", data={"type": "pushover", "name": "bad",
                                                             "address": "not-a-key"}, follow_redirects=True)
    assert "user_key must be a Pushover user key" in refused.get_data(as_text=True)
    rows = setup_for(app).query("SELECT channel, address, options, verified_at FROM contact_methods "
                                "WHERE channel = 'pushover'")
    assert [(r[0], r[1], r[3]) for r in rows] == [("pushover", PUSHOVER_USER, None)]
    options = rows[0][2] if isinstance(rows[0][2], dict) else json.loads(rows[0][2])
    assert options == {"device": "phone"}
    assert "CALLGOOSE_PUSHOVER_APP_TOKEN" not in client.get("/notifications/me").get_data(as_text=True)


def test_my_notifications_says_when_pushover_is_not_set_up(make_app, sqlite_url, tmp_path, add_user, sign_in):
    app = make_app(sqlite_url, tmp_path)
    client = app.test_client()
    sign_in(client, *add_user(app))
    hint = re.search(r"Not set up on this server:(.*?)</p>", client.get("/notifications/me").get_data(as_text=True),
                     re.S).group(1)
    assert "Pushover (<code>CALLGOOSE_PUSHOVER_APP_TOKEN</code>)" in hint


# ---- codes and tests ------------------------------------------------------------------------

def _added(app, client, setup_for, **fields) -> int:
    client.post("/notifications/me/methods", data={"type": "pushover", "name": "phone", "address": PUSHOVER_USER,
                                                  **fields})
    return setup_for(app).query("SELECT id FROM contact_methods WHERE channel = 'pushover'")[0][0]


def test_a_code_arrives_by_pushover_and_verifies_the_method(app, pushover, setup_for, add_user, sign_in):
    client = app.test_client()
    sign_in(client, *add_user(app, "dee@example.com", admin=False))
    method_id = _added(app, client, setup_for, device="tablet")
    assert client.post(f"/notifications/me/methods/{method_id}/code").status_code == 302
    run_jobs(app, time.time() + 1)
    (message,) = pushover.messages
    assert (message["user"], message["device"], message["priority"]) == (PUSHOVER_USER, "tablet", "0")
    assert "retry" not in message and "callback" not in message
    code = re.search(r"\b(\d{6})\b", message["message"]).group(1)
    assert code in message["title"] and message["token"] == PUSHOVER_TOKEN
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    assert setup_for(app).query("SELECT verified_at IS NOT NULL FROM contact_methods WHERE id = :id",
                                id=method_id) == [(True,)]
    # the request id is kept as the provider's id (no receipt: it is no emergency)
    assert setup_for(app).query("SELECT provider_id FROM notifications") == [(message["request"],)]


def test_a_test_notification_arrives_by_pushover(app, pushover, setup_for, add_user, sign_in):
    client = app.test_client()
    sign_in(client, *add_user(app, "dee@example.com", admin=False))
    method_id = _added(app, client, setup_for)
    client.post(f"/notifications/me/methods/{method_id}/test")
    run_jobs(app, time.time() + 1)
    (message,) = pushover.messages
    assert message["title"] == "Test notification from Callgoose to phone"
    assert "Callgoose can reach you here" in message["message"] and message["priority"] == "0"
    assert "device" not in message  # every device of the user's
    assert "Last delivery:" in client.get("/notifications/me").get_data(as_text=True)


# ---- pages and the acknowledgement ----------------------------------------------------------

def test_a_high_urgency_page_is_an_emergency_whose_acknowledgement_acknowledges(app, pushover, setup_for):
    setup = page(app, setup_for)
    (message,) = pushover.messages
    (incident_id,) = [r[0] for r in setup.query("SELECT id FROM incidents")]
    assert message["title"] == "P2 HIGH checkout-api: Disk full"
    assert "Disk full" in message["message"] and "Acknowledge it in Pushover" in message["message"]
    assert (message["url"], message["url_title"]) == (f"{BASE}/incidents/{incident_id}", "Open in Callgoose")
    assert (message["priority"], message["retry"], message["expire"]) == ("2", "60", "3600")
    callback = urlsplit(message["callback"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{BASE}/channels/pushover/callback"
    assert list(parse_qs(callback.query)) == ["token"]
    token = parse_qs(callback.query)["token"][0]
    assert token not in redact(f'"POST {callback.path}?{callback.query} HTTP/1.1" 200')  # the access log
    receipt = message["receipt"]
    assert setup.query("SELECT status, provider_id FROM notifications") == [("sent", receipt)]
    assert statuses(setup) == ["triggered"]

    status, body = pushover.acknowledge(receipt, device="phone", client=app.test_client())
    assert status == 200, body
    assert statuses(setup) == ["acknowledged"]
    actor = setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert actor == "ana@example.com (via Pushover)"
    assert setup.query("SELECT state FROM incident_escalations") == [("stopped",)]
    # Pushover calling back again (a retry of its own) changes nothing
    replay = app.test_client().post(message["callback"].removeprefix(BASE), data={
        "receipt": receipt, "acknowledged": "1", "acknowledged_at": str(int(time.time())),
        "acknowledged_by": PUSHOVER_USER, "acknowledged_by_device": "phone"})
    assert replay.status_code == 410 and "used already" in replay.get_json()["error"]
    assert len(setup.query("SELECT id FROM incident_events WHERE kind = 'acknowledged'")) == 1


def _callback(app, url: str, **form):
    fields = {"receipt": "r" * 30, "acknowledged": "1", "acknowledged_at": str(int(time.time())),
              "acknowledged_by": PUSHOVER_USER, "acknowledged_by_device": "phone", **form}
    return app.test_client().post(url.removeprefix(BASE), data=fields)


def test_an_acknowledgement_by_another_user_or_with_a_forged_token_does_not_act(app, pushover, setup_for):
    setup = page(app, setup_for)
    (message,) = pushover.messages
    callback = message["callback"]
    assert _callback(app, callback, acknowledged_by=OTHER_USER).status_code == 410
    token = parse_qs(urlsplit(callback).query)["token"][0]
    notification_id = setup.query("SELECT id FROM notifications")[0][0]
    forged = make_action("not the secret key", notification_id, "acknowledge", True, time.time())
    altered = token[:-1] + ("B" if token.endswith("A") else "A")
    for bad in (forged, altered):
        answer = _callback(app, f"{BASE}/channels/pushover/callback?{urlencode({'token': bad})}")
        assert answer.status_code == 410 and answer.get_json()["error"] == "this link is not valid"
    # not Pushover's acknowledgement at all: refused
    assert _callback(app, f"{BASE}/channels/pushover/callback").status_code == 403
    assert _callback(app, callback, acknowledged="0").status_code == 403
    assert app.test_client().post(callback.removeprefix(BASE), data={"receipt": "x"}).status_code == 403
    assert statuses(setup) == ["triggered"]
    # none of these used the action up: Ana's own acknowledgement still acts
    assert pushover.acknowledge(message["receipt"], client=app.test_client())[0] == 200
    assert statuses(setup) == ["acknowledged"]


def test_a_group_key_s_member_cannot_acknowledge_for_the_group(app, pushover, setup_for):
    """A group message is acknowledged by one member, whose own key Pushover reports: it is not
    the key the page went to, so it does not act for the person paged."""
    pushover.add_user(GROUP, group=True)
    setup = page(app, setup_for, user_key=GROUP)
    (message,) = pushover.messages
    status, body = pushover.acknowledge(message["receipt"], user=PUSHOVER_USER, client=app.test_client())
    assert status == 410 and "not sent to you" in body
    assert statuses(setup) == ["triggered"]


def test_low_urgency_is_an_ordinary_push_and_follow_ups_are_quiet(app, pushover, setup_for):
    setup = page(app, setup_for, urgency="low")
    (message,) = pushover.messages
    assert message["title"] == "P4 LOW checkout-api: Disk full" and message["priority"] == "0"
    assert not {"retry", "expire", "callback", "receipt"} & set(message)
    assert "Acknowledge it in Pushover" not in message["message"]
    assert setup.query("SELECT provider_id FROM notifications") == [(message["request"],)]
    assert post(app.test_client(), setup.sender, resolved("g1")).status_code == 200
    run_jobs(app, time.time() + 65)  # one message a minute per method
    _page, follow_up = pushover.messages
    assert follow_up["title"] == "Resolved: checkout-api: Disk full" and follow_up["priority"] == "-1"
    assert not {"retry", "expire", "callback"} & set(follow_up)


def test_a_storm_arrives_as_one_emergency_within_limits_whose_acknowledgement_acknowledges_all(
        app, pushover, setup_for):
    setup = page(app, setup_for, summary="first " + "x" * 300)
    client = app.test_client()
    for n in range(12):
        assert post(client, setup.sender, firing(f"s{n}", f"storm {n} " + "y" * 300)).status_code == 201
    run_jobs(app, time.time() + 65)  # one message a minute per method: the twelve come as one
    first, bundle = pushover.messages  # the fake refuses anything over Pushover's limits
    assert len(first["title"]) == 250 and first["title"].endswith("…")
    assert bundle["title"].startswith("HIGH 12 updates: P2 HIGH checkout-api: storm 0") and len(bundle["title"]) == 250
    assert len(bundle["message"]) == 1024 and bundle["message"].endswith("…")
    assert (bundle["priority"], bundle["url"]) == ("2", f"{BASE}/incidents")
    assert pushover.acknowledge(bundle["receipt"], client=app.test_client())[0] == 200
    assert statuses(setup) == ["triggered"] + ["acknowledged"] * 12


# ---- failures in the ledger -----------------------------------------------------------------

def test_a_5xx_and_a_429_are_retried_and_a_4xx_fails_for_good(app, pushover, setup_for, add_user, sign_in):
    pushover.fail_next(1, 503)
    pushover.fail_next(1, 429)
    setup = page(app, setup_for)
    start = time.time()
    assert setup.query("SELECT status, error FROM notifications") == [
        ("pending", "attempt 1 failed, retrying: Pushover answered HTTP 503: server error")]
    run_jobs(app, start + 62)  # retried 30 s later, within the method's one message a minute
    assert setup.query("SELECT status, error FROM notifications") == [
        ("pending", "attempt 2 failed, retrying: Pushover answered HTTP 429: over the application's message limit")]
    run_jobs(app, start + 62 + 61)  # then 60 s later
    assert setup.query("SELECT status, attempts FROM notifications") == [("sent", 3)]
    assert len(pushover.messages) == 1

    # a user key Pushover does not know: refused with a 400, never retried
    configure(app, ana(user_key="uNobodyKnowsThisKey00000000001"))
    assert post(app.test_client(), setup.sender, firing("g2", "Disk full again")).status_code == 201
    run_jobs(app, start + 200)
    run_jobs(app, start + 400)
    failed = setup.query("SELECT status, error FROM notifications WHERE target = 'uNobodyKnowsThisKey00000000001'")
    assert failed == [("failed", "Pushover answered HTTP 400: user identifier is not a valid user, group, or "
                                 "subscribed user key")]
    assert len([r for r in pushover.requests if r["form"]["user"] == "uNobodyKnowsThisKey00000000001"]) == 1
    client = app.test_client()
    sign_in(client, *add_user(app))
    ledger = client.get("/notifications?channel=pushover").get_data(as_text=True)
    assert "user identifier is not a valid user" in ledger and "Send again" in ledger


def test_without_the_app_token_a_page_waits_and_says_why(make_app, sqlite_url, tmp_path, pushover, setup_for):
    app = make_app(sqlite_url, tmp_path, BASE_URL=BASE, PUSHOVER_API_BASE=pushover.base)
    setup = page(app, setup_for)
    assert setup.query("SELECT status, error FROM notifications") == [
        ("pending", "attempt 1 failed, retrying: Pushover is not configured (set CALLGOOSE_PUSHOVER_APP_TOKEN)")]
    assert pushover.requests == []
