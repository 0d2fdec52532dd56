"""Issue 17: the ntfy channel, against a local ntfy server (tests/providers/web.py's FakeNtfy).

A person adds an ntfy topic on My notifications, verifies it with a code that arrives there,
and a page arrives with priority 5 and Acknowledge / Resolve buttons; pressing one the way the
ntfy app does (a POST with no body to the signed URL) acknowledges the incident "via ntfy".
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from helpers import ALERTMANAGER, as_json, configure, firing, post, run_jobs
from providers.web import FakeNtfy
from werkzeug.serving import make_server

from callgoose import channels, clock
from callgoose.channels.base import Outgoing
from callgoose.channels.ntfy import JSON_BYTES, MESSAGE_BYTES, publication
from callgoose.delivery import Settings
from callgoose.engine.messages import Item, Message
from callgoose.engine.rules import SpecError
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"
TOPIC = "cg-ana_alerts"


@pytest.fixture
def ntfy():
    with FakeNtfy() as fake:
        yield fake


@pytest.fixture
def ntfy_app(make_app, database_url, tmp_path):
    return make_app(database_url, tmp_path, BASE_URL=BASE, WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                    DELIVERY_TIMEOUT_SECONDS=5)


def ana(method: dict) -> dict:
    """Ana is paged by ``method`` at once by the policy of checkout-api."""
    return {"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [{"name": "phone", **method}],
                       "notification_rules": [{"contact_method": "phone", "after_minutes": 0}]}],
            "escalation_policies": [{"name": "p", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**ALERTMANAGER, "escalation_policy": "p"}]}


def page_ana(app, setup_for, method: dict, title: str = "Disk full") -> tuple:
    """Configure Ana's method, open an incident, and run the worker once."""
    setup = setup_for(app)
    configure(app, ana(method))
    assert post(app.test_client(), setup.token(), firing("g1", title)).status_code == 201
    start = time.time()
    run_jobs(app, start + 1)
    return setup, start


def exported(app) -> dict:
    return json.loads(app.test_cli_runner().invoke(args=["export-config"]).stdout)


def ledger(setup) -> list[tuple]:
    return setup.query("SELECT kind, channel, status, error, attempts FROM notifications ORDER BY id")


# -- the document ---------------------------------------------------------------------------

def test_the_document_takes_an_ntfy_topic_and_names_the_faulty_field(make_app, sqlite_url, tmp_path, ntfy):
    app = make_app(sqlite_url, tmp_path)
    good = {"type": "ntfy", "url": ntfy.url(TOPIC) + "/", "token": "tk_abcdefghijklmnopqrstuvwxyz012"}
    configure(app, ana(good))
    (method,) = exported(app)["users"][0]["contact_methods"]
    assert method == {"name": "phone", "type": "ntfy", "url": ntfy.url(TOPIC), "token": good["token"]}
    configure(app, ana({"type": "ntfy", "url": "https://ntfy.example.com/ntfy/cg-alerts"}))  # a server under a path
    assert exported(app)["users"][0]["contact_methods"][0] == {
        "name": "phone", "type": "ntfy", "url": "https://ntfy.example.com/ntfy/cg-alerts"}
    bad = [({"url": "ftp://ntfy.sh/x"}, "url", "http"),
           ({"url": "https://ntfy.sh/"}, "url", "topic"),
           ({"url": "https://ntfy.sh/no.dots"}, "url", "topic"),
           ({"url": "https://ntfy.sh/" + "x" * 65}, "url", "at most 64"),
           ({"url": "https://ntfy.sh/alerts?auth=x"}, "url", "topic"),
           ({}, "url", "required"),
           ({"url": "https://ntfy.sh/alerts", "token": "tk with spaces"}, "token", "without spaces"),
           ({"url": "https://ntfy.sh/alerts", "token": 7}, "token", "printable")]
    for fields, key, says in bad:
        with app.app_context(), pytest.raises(SpecError) as caught:
            import_config(ana({"type": "ntfy", **fields}), clock.now())
        assert caught.value.path == f"users[0].contact_methods[0].{key}", fields
        assert says in str(caught.value.message), (fields, str(caught.value.message))


# -- My notifications -----------------------------------------------------------------------

def _added(client, url: str, token: str = "") -> int:
    answer = client.post("/notifications/me/methods", data={"name": "my phone", "type": "ntfy", "address": url,
                                                            "token": token}, follow_redirects=True)
    assert answer.status_code == 200
    page = client.get("/notifications/me").get_data(as_text=True)
    return int(re.findall(r'id="method-(\d+)"', page)[-1])


def test_my_notifications_adds_an_ntfy_topic_and_a_code_verifies_it(ntfy_app, setup_for, add_user, sign_in, ntfy):
    email, password = add_user(ntfy_app, "dee@example.com", admin=False)
    client = ntfy_app.test_client()
    sign_in(client, email, password)
    page = client.get("/notifications/me").get_data(as_text=True)
    assert 'name="type" value="ntfy"' in page and 'name="token"' in page
    refused = client.post("/notifications/me/methods", data={"name": "x", "type": "ntfy",
                                                             "address": "https://ntfy.sh/"}, follow_redirects=True)
    assert "topic" in refused.get_data(as_text=True)
    ntfy.protect(TOPIC, token="tk_dee0123456789")
    method_id = _added(client, ntfy.url(TOPIC), "tk_dee0123456789")
    setup = setup_for(ntfy_app)
    channel, address, options, verified = setup.query(
        "SELECT channel, address, options, verified_at FROM contact_methods WHERE id = :id", id=method_id)[0]
    assert (channel, address, as_json(options), verified) == ("ntfy", ntfy.url(TOPIC), {"token": "tk_dee0123456789"},
                                                              None)
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "tk_dee0123456789" not in page  # the token is never shown again

    assert client.post(f"/notifications/me/methods/{method_id}/code").status_code == 302
    run_jobs(ntfy_app, time.time())
    (message,) = ntfy.wait(1)
    assert message["user"] is not None and message["topic"] == TOPIC  # the token let it in
    assert message["priority"] == 3 and message["tags"] == ["key"] and "actions" not in message
    code = re.search(r"\b(\d{6})\b", message["message"]).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    assert setup.query("SELECT verified_at FROM contact_methods WHERE id = :id", id=method_id)[0][0] is not None


def test_a_test_notification_arrives(ntfy_app, setup_for, add_user, sign_in, ntfy):
    email, password = add_user(ntfy_app, "eve@example.com", admin=False)
    client = ntfy_app.test_client()
    sign_in(client, email, password)
    method_id = _added(client, ntfy.url(TOPIC))
    client.post(f"/notifications/me/methods/{method_id}/test")
    run_jobs(ntfy_app, time.time())
    (message,) = ntfy.wait(1)
    assert "Test notification" in message["title"] and message["priority"] == 3 and "actions" not in message
    assert message["via"] == "json" and message["user"] is None and "file" not in message
    assert "Last delivery:" in client.get("/notifications/me").get_data(as_text=True)
    assert ledger(setup_for(ntfy_app))[-1][:3] == ("test", "ntfy", "sent")


# -- a page, and its buttons ----------------------------------------------------------------

@pytest.fixture
def live(make_app, database_url, tmp_path):
    """An app served on loopback (the ntfy app's button POSTs to it), with CSRF on as in use."""
    app = make_app(database_url, tmp_path, WEBHOOK_ALLOWED_HOSTS="127.0.0.1", DELIVERY_TIMEOUT_SECONDS=5,
                   WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    thread.join(5)


def test_a_page_arrives_with_priority_5_and_buttons_and_acknowledge_acts_via_ntfy(live, setup_for, ntfy):
    """The issue's "done when" for ntfy: Ana (a protected topic) and Bo are paged; Ana presses
    Acknowledge on her phone; the incident is acknowledged via ntfy and Bo hears of it."""
    ntfy.protect(TOPIC, token="tk_ana0123456789")
    doc = ana({"type": "ntfy", "url": ntfy.url(TOPIC), "token": "tk_ana0123456789"})
    doc["users"].append({"email": "bo@example.com", "contact_methods": [
        {"name": "push", "type": "ntfy", "url": ntfy.url("cg-bo")}],
        "notification_rules": [{"contact_method": "push"}]})
    doc["escalation_policies"][0]["levels"][0]["targets"].append({"user": "bo@example.com"})
    setup = setup_for(live)
    configure(live, doc)
    assert post(live.test_client(), setup.token(), firing("g1", "Festplatte voll: Müll 🚨")).status_code == 201
    run_jobs(live, time.time() + 1)
    pages = {m["topic"]: m for m in ntfy.wait(2)}
    message = pages[TOPIC]
    (incident_id,) = setup.query("SELECT id FROM incidents")[0]
    base = live.config["BASE_URL"]
    assert message["user"] is not None  # the token let it into the protected topic
    assert message["title"] == "[Callgoose] P2 HIGH checkout-api: Festplatte voll: Müll 🚨"
    assert message["priority"] == 5 and message["tags"] == ["rotating_light"]
    assert message["click"] == f"{base}/incidents/{incident_id}"
    assert "Festplatte voll: Müll 🚨" in message["message"] and "they ask before they act" not in message["message"]
    assert [(a["action"], a["label"], a.get("method"), a["clear"]) for a in message["actions"]] == [
        ("http", "Acknowledge", "POST", True), ("http", "Resolve", "POST", True)]
    assert all(a["url"].startswith(f"{base}/l/") for a in message["actions"])
    assert [r[:3] for r in ledger(setup)] == [("page", "ntfy", "sent")] * 2
    assert message["id"] in [r[0] for r in setup.query("SELECT provider_id FROM notifications")]

    status, _body = ntfy.press(message, "Acknowledge")
    assert status == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    actor = setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert actor == "ana@example.com (via ntfy)"
    assert setup.query("SELECT state FROM incident_escalations") == [("stopped",)]
    assert ntfy.press(message, "Acknowledge")[0] == 410  # a button acts once
    # Bo hears of it: lower, no buttons
    run_jobs(live, time.time() + 90)
    follow = ntfy.wait(3)[2]
    assert follow["topic"] == "cg-bo" and follow["title"].startswith("[Callgoose] Acknowledged by ana@example.com")
    assert follow["priority"] == 3 and follow["tags"] == ["eyes"] and "actions" not in follow
    # Ana resolves from the page's other button
    assert ntfy.press(message, "Resolve")[0] == 200
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]


def test_a_low_urgency_page_is_priority_3(ntfy_app, setup_for, ntfy):
    setup = setup_for(ntfy_app)
    doc = ana({"type": "ntfy", "url": ntfy.url(TOPIC)})
    service = doc["services"][0]  # a copy of the shared ALERTMANAGER, its rules copied too before changing one
    service["trigger"] = [{**service["trigger"][0], "urgency": "low"}]
    configure(ntfy_app, doc)
    assert post(ntfy_app.test_client(), setup.token(), firing("g1")).status_code == 201
    run_jobs(ntfy_app, time.time() + 1)
    (message,) = ntfy.wait(1)
    assert message["priority"] == 3 and message["tags"] == ["warning"] and len(message["actions"]) == 2


# -- failures, as the ledger shows them -----------------------------------------------------

@pytest.mark.parametrize("status", [500, 429])
def test_a_5xx_or_429_is_retried_and_the_ledger_says_so(ntfy_app, setup_for, add_user, sign_in, ntfy, status):
    ntfy.fail_next(1, status)
    setup, start = page_ana(ntfy_app, setup_for, {"type": "ntfy", "url": ntfy.url(TOPIC)})
    (kind, channel, state, error, attempts) = ledger(setup)[0]
    assert (kind, channel, state, attempts) == ("page", "ntfy", "pending", 1)
    assert error.startswith(f"attempt 1 failed, retrying: the ntfy server answered HTTP {status}")
    client = ntfy_app.test_client()
    sign_in(client, *add_user(ntfy_app))
    assert f"the ntfy server answered HTTP {status}" in client.get("/notifications").get_data(as_text=True)
    run_jobs(ntfy_app, start + 70)
    assert ledger(setup)[0][:3] == ("page", "ntfy", "sent")
    assert len(ntfy.wait(1)) == 1 and len(ntfy.refused) == 1


def test_a_4xx_fails_for_good_and_the_ledger_says_why(ntfy_app, setup_for, add_user, sign_in, ntfy):
    ntfy.protect(TOPIC, token="tk_right0123456789")
    setup, start = page_ana(ntfy_app, setup_for, {"type": "ntfy", "url": ntfy.url(TOPIC), "token": "tk_wrong012345"})
    run_jobs(ntfy_app, start + 100)
    assert ledger(setup)[0] == ("page", "ntfy", "failed", "the ntfy server answered HTTP 401: unauthorized", 1)
    assert len(ntfy.refused) == 1 and ntfy.messages == []
    client = ntfy_app.test_client()
    sign_in(client, *add_user(ntfy_app))
    page = client.get("/notifications?status=failed&channel=ntfy").get_data(as_text=True)
    assert "the ntfy server answered HTTP 401: unauthorized" in page


def test_the_ssrf_guard_refuses_a_private_ntfy_server_not_allowed(make_app, database_url, tmp_path, setup_for, ntfy):
    app = make_app(database_url, tmp_path, BASE_URL=BASE)
    setup, _start = page_ana(app, setup_for, {"type": "ntfy", "url": ntfy.url(TOPIC)})
    (kind, channel, state, error, _attempts) = ledger(setup)[0]
    assert (kind, channel, state) == ("page", "ntfy", "failed") and "loopback, private or link-local" in error
    assert ntfy.requests == []


# -- the message within ntfy's limits -------------------------------------------------------

def _outgoing(text: str, title: str = "CPU high", target: str = "", items: list | None = None) -> Outgoing:
    items = items or [Item(kind="page", incident_id=1, title=title, service="svc", url=f"{BASE}/incidents/1")]
    return Outgoing(settings=Settings(base_url=BASE, webhook_allowed_hosts=frozenset({"127.0.0.1"})),
                    target=target, format=None, options={}, items=items,
                    message=Message(f"[Callgoose] HIGH svc: {title}", text, "", "", (1,)), words=str,
                    delivery_id="d", notification_id=1, row_ids=(1,), kind="page", size=1, now=time.time(),
                    sign=lambda nid, action: f"{BASE}/l/{action}-{nid}")


@pytest.mark.parametrize("text, whole", [("x" * 4096, True), ("é" * 2048, True), ("é" * 5000, False),
                                         ("line\n" * 3000, False), ('"\\' * 3000, False), ("\x01" * 3000, False)])
def test_a_long_message_is_cut_to_4096_bytes_and_stays_a_message_not_an_attachment(ntfy, text, whole):
    """Within 4,096 bytes (a longer one would arrive as "You received a file"), and the whole
    JSON within the 8,192 bytes ntfy reads of it (escaped quotes and control characters grow)."""
    doc = json.loads(publication(_outgoing(text), TOPIC))
    assert len(publication(_outgoing(text), TOPIC)) <= JSON_BYTES
    assert len(doc["message"].encode()) <= MESSAGE_BYTES
    assert doc["message"] == text.strip() if whole else doc["message"].endswith("…")
    channels.get("ntfy").prepare(_outgoing(text, target=ntfy.url(TOPIC)))()
    (message,) = ntfy.wait(1)
    assert "file" not in message and "attachment" not in message and ntfy.refused == []
    assert message["message"] == doc["message"].strip()


def test_a_title_with_a_line_break_or_a_lone_surrogate_still_goes(ntfy):
    channels.get("ntfy").prepare(_outgoing("text", title="two\nlines \ud800 here", target=ntfy.url(TOPIC)))()
    (message,) = ntfy.wait(1)
    assert message["title"] == "[Callgoose] HIGH svc: two lines ? here"


def test_a_bundle_s_priority_follows_its_pages_and_its_click_opens_the_incident_list():
    """A low page bundled with a high incident's "acknowledged" is a low page (priority 3)."""
    items = [Item(kind="page", incident_id=1, urgency="low", url=f"{BASE}/incidents/1"),
             Item(kind="acknowledged", incident_id=2, urgency="high", url=f"{BASE}/incidents/2")]
    doc = json.loads(publication(_outgoing("two updates", items=items), TOPIC))
    assert (doc["priority"], doc["tags"], doc["click"]) == (3, ["warning"], f"{BASE}/incidents")
    assert [a["url"] for a in doc["actions"]] == [f"{BASE}/l/acknowledge-1", f"{BASE}/l/resolve-1"]
