"""Issue 17: Mattermost as a contact method, against a local Mattermost that checks incoming
webhooks and presses buttons as Mattermost's server does (tests/providers/web.py).

A page is a message attachment with the incident's facts and Acknowledge / Resolve buttons;
a press reaches ``POST /channels/mattermost/callback`` over real HTTP, so the app is served
on loopback for those tests."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager

import pytest
from helpers import ALERTMANAGER, firing, post, run_jobs
from providers.web import FakeMattermost
from receivers import free_port
from sqlalchemy import text
from werkzeug.serving import make_server

from callgoose import channels, clock
from callgoose.channels.base import Outgoing
from callgoose.delivery import Settings
from callgoose.engine.messages import Item, compose
from callgoose.engine.rules import SpecError
from callgoose.engine.signing import make_action
from callgoose.engine.words import Moment
from callgoose.extensions import db
from callgoose.services.catalog import current_config, import_config
from callgoose.store.hotpath import to_datetime


@pytest.fixture
def mattermost():
    with FakeMattermost() as fake:
        yield fake


@contextmanager
def served(app, port: int):
    """The app on a loopback port, for Mattermost's server to post button presses to."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def paging_app(make_app, database_url, tmp_path, port):
    return make_app(database_url, tmp_path, BASE_URL=f"http://127.0.0.1:{port}", WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                    DELIVERY_TIMEOUT_SECONDS=5)


def document(url: str) -> dict:
    """Ana, paged through Mattermost at once by the checkout-api service's policy; Bo, by
    Mattermost too, five minutes later unless someone acknowledges."""
    return {"users": [{"email": email, "name": email[:-12].title(), "contact_methods": [
        {"name": "chat", "type": "mattermost", "url": url}],
        "notification_rules": [{"contact_method": "chat", "after_minutes": 0}]}
        for email in ("ana@example.com", "bo@example.com")],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]},
            {"escalate_after_minutes": 5, "targets": [{"user": "bo@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


def page(app, setup_for, url: str, title: str = "Disk full on db1") -> tuple[object, float]:
    setup = setup_for(app)
    with app.app_context():
        import_config(document(url), clock.now())
    assert post(app.test_client(), setup.token(), firing("g1", title)).status_code == 201
    start = time.time()
    run_jobs(app, start + 1)
    return setup, start


def ledger(setup):
    return setup.query("SELECT kind, channel, status, attempts, error FROM notifications ORDER BY id")


# -- the configuration document (S34) ----------------------------------------------------------

def test_the_document_takes_a_mattermost_method_and_refuses_bad_ones_by_path(paging_app, mattermost):
    with paging_app.app_context():
        import_config(document(mattermost.url), clock.now())
        exported = current_config()
    user = next(u for u in exported["users"] if u["email"] == "ana@example.com")
    assert user["contact_methods"] == [{"name": "chat", "type": "mattermost", "url": mattermost.url}]
    channel = channels.get("mattermost")
    for bad in ({}, {"url": "ftp://chat.example.com/hooks/x"}, {"url": "not a url"}, {"url": 7}):
        with pytest.raises(SpecError) as caught:
            channel.check(bad, "users[0].contact_methods[0]")
        assert caught.value.path == "users[0].contact_methods[0].url"
    with paging_app.app_context(), pytest.raises(SpecError) as caught:
        import_config(document("javascript:alert(1)"), clock.now())
    assert caught.value.path == "users[0].contact_methods[0].url"


# -- My notifications ------------------------------------------------------------------------

def test_added_on_my_notifications_verified_by_a_code_and_tested(paging_app, mattermost, add_user, sign_in,
                                                                  monkeypatch):
    email, password = add_user(paging_app, "dee@example.com", admin=False)
    client = paging_app.test_client()
    sign_in(client, email, password)
    page_html = client.get("/notifications/me").get_data(as_text=True)
    assert 'id="add-mattermost"' in page_html and "Incoming Webhooks" in page_html
    answer = client.post("/notifications/me/methods", data={"name": "team chat", "type": "mattermost",
                                                            "address": mattermost.url}, follow_redirects=True)
    assert "Added team chat" in answer.get_data(as_text=True)
    page_html = client.get("/notifications/me").get_data(as_text=True)
    method_id = int(re.findall(r'id="method-(\d+)"', page_html)[-1])
    assert mattermost.url in page_html

    client.post(f"/notifications/me/methods/{method_id}/code")
    run_jobs(paging_app, time.time())
    (posted,) = mattermost.wait(1)
    assert posted["attachments"] == [] and mattermost.problems == []
    code = re.search(r"\b(\d{6})\b", posted["text"]).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    page_html = client.get("/notifications/me").get_data(as_text=True)
    assert re.search(rf'id="method-{method_id}".*?>verified<', page_html, re.S)

    later = time.time() + 61  # codes and tests: one a minute per method
    monkeypatch.setattr(clock, "now", lambda: later)
    client.post(f"/notifications/me/methods/{method_id}/test")
    run_jobs(paging_app, later)
    test = mattermost.wait(2)[1]
    assert "Test notification" in test["text"] and test["attachments"] == []


def test_the_add_form_refuses_a_bad_url_next_to_its_field(paging_app, add_user, sign_in):
    client = paging_app.test_client()
    sign_in(client, *add_user(paging_app))
    answer = client.post("/notifications/me/methods", data={"name": "chat", "type": "mattermost",
                                                            "address": "ftp://chat.example.com/hooks/x"},
                         follow_redirects=True)
    assert "must be an http:// or https:// URL" in answer.get_data(as_text=True)
    assert "ftp://" not in client.get("/notifications/me").get_data(as_text=True).split("Add a contact method")[0]


# -- a page, and its buttons -------------------------------------------------------------------

def test_a_page_carries_the_facts_and_buttons_and_a_press_acknowledges(paging_app, setup_for, mattermost, port):
    setup, start = page(paging_app, setup_for, mattermost.url, "Disk full on db1 @channel [x](https://evil.test)")
    (posted,) = mattermost.wait(1)
    assert mattermost.problems == [] and mattermost.refused == []
    assert posted["content_type"] == "application/json"
    assert "P2 HIGH checkout-api: Disk full on db1" in posted["text"]
    assert "@channel" not in posted["text"] and "\\[x\\](https://evil.test)" in posted["text"]
    (attachment,) = posted["attachments"]
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    assert attachment["title_link"] == f"http://127.0.0.1:{port}/incidents/{incident_id}"
    assert attachment["title"].startswith("Disk full on db1") and "@channel" not in attachment["title"]
    (opened,) = setup.query("SELECT created_at FROM incidents")[0]
    opened = Moment(clock.from_db(to_datetime(opened)), "UTC")  # Ana's zone
    assert {f["title"]: f["value"] for f in attachment["fields"]} == {"Service": "checkout-api", "Urgency": "HIGH",
                                                                     "Opened": str(opened)}  # issue 17 item 5
    assert attachment["text"] == "cpu at 99%"  # the description's first lines
    assert attachment["color"] == "#d32f2f"
    buttons = {a["name"]: a for a in attachment["actions"]}
    assert set(buttons) == {"Acknowledge", "Resolve"}
    for button in buttons.values():
        assert button["id"].isalnum() and button["type"] == "button"
        assert button["integration"]["url"] == f"http://127.0.0.1:{port}/channels/mattermost/callback"
        assert re.fullmatch(r"[A-Za-z0-9._-]{20,64}", button["integration"]["context"]["action"])

    with served(paging_app, port):
        answer = mattermost.press(posted, "Acknowledge", user_name="ana")
        assert answer == {"update": {"message": "Acknowledged by @ana."}}
        assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
        assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
            ("ana@example.com (via Mattermost)",)]
        again = mattermost.press(posted, "Acknowledge", user_name="bo")  # the token acts once
        assert set(again) == {"ephemeral_text"} and "used already" in again["ephemeral_text"]
        resolved = mattermost.press(posted, "Resolve", user_name="bo")
        assert resolved == {"update": {"message": "Resolved by @bo."}}
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]
    run_jobs(paging_app, start + 5 * 60 + 2)  # the acknowledgement stopped the escalation: Bo is never paged
    run_jobs(paging_app, start + 5 * 60 + 3)
    assert len(mattermost.messages) == 1


def test_the_others_paged_hear_of_it_without_buttons(paging_app, setup_for, mattermost, port):
    setup, start = page(paging_app, setup_for, mattermost.url)
    run_jobs(paging_app, start + 5 * 60 + 2)  # nobody acknowledged: level 2 pages Bo
    run_jobs(paging_app, start + 5 * 60 + 3)
    ana, bo = mattermost.wait(2)
    assert [a["name"] for a in bo["attachments"][0]["actions"]] == ["Acknowledge", "Resolve"]
    with served(paging_app, port):
        assert mattermost.press(ana, "Acknowledge", user_name="ana")["update"]
    run_jobs(paging_app, start + 5 * 60 + 70)
    told = mattermost.wait(3)[2]
    assert told["text"].startswith("Acknowledged by ana@​example.com") and "Disk full on db1" in told["text"]
    (attachment,) = told["attachments"]
    assert "actions" not in attachment and attachment["color"] == "#1e88e5"
    assert ledger(setup)[-1][:3] == ("acknowledged", "mattermost", "sent")


def test_a_page_and_its_answer_are_in_the_recipient_s_language(paging_app, setup_for, mattermost, port):
    setup = setup_for(paging_app)
    with paging_app.app_context():
        import_config(document(mattermost.url), clock.now())
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE users SET language = 'de' WHERE email = 'ana@example.com'"))
    assert post(paging_app.test_client(), setup.token(), firing("g1", "Disk full")).status_code == 201
    run_jobs(paging_app, time.time() + 1)
    (posted,) = mattermost.wait(1)
    (attachment,) = posted["attachments"]
    assert posted["text"] == "P2 HOCH checkout-api: Disk full"
    assert [a["name"] for a in attachment["actions"]] == ["Bestätigen", "Beheben"]
    assert {f["title"] for f in attachment["fields"]} == {"Dienst", "Dringlichkeit", "Geöffnet"}
    with served(paging_app, port):
        assert mattermost.press(posted, "Beheben", user_name="ana") == {"update": {"message": "Behoben von @ana."}}
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]


def test_the_timeline_shows_via_mattermost(paging_app, setup_for, mattermost, port, add_user, sign_in):
    setup, _start = page(paging_app, setup_for, mattermost.url)
    (posted,) = mattermost.wait(1)
    with served(paging_app, port):
        mattermost.press(posted, "Acknowledge")
    client = paging_app.test_client()
    sign_in(client, *add_user(paging_app))
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    assert "via Mattermost" in client.get(f"/incidents/{incident_id}").get_data(as_text=True)


def test_a_forged_or_missing_token_acts_on_nothing(paging_app, setup_for, mattermost, port):
    setup, _start = page(paging_app, setup_for, mattermost.url)
    (posted,) = mattermost.wait(1)
    (nid,) = setup.query("SELECT id FROM notifications WHERE kind = 'page'")[0]
    forged = make_action("not the secret key", nid, "acknowledge", True, time.time())
    button = next(a for a in posted["attachments"][0]["actions"] if a["name"] == "Acknowledge")
    button["integration"]["context"]["action"] = forged
    with served(paging_app, port):
        answer = mattermost.press(posted, "Acknowledge")
        assert answer == {"ephemeral_text": "This link is not valid."}
        assert setup.query("SELECT status FROM incidents") == [("triggered",)]
        client = paging_app.test_client()
        for body in ({"user_name": "x"}, {"context": {"action": 5}}, {"context": {"action": "abc"}}, "[]"):
            refused = client.post("/channels/mattermost/callback", json=body)
            assert refused.status_code == 403
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]
    assert setup.query("SELECT count(*) FROM incident_events WHERE kind = 'acknowledged'") == [(0,)]


def test_a_bundle_lists_its_incidents_under_one_pair_of_buttons():
    items = [Item(kind="page", incident_id=i, title=f"Disk {i} full *now*", service="db", urgency="low",
                  url=f"https://cg.test/incidents/{i}") for i in (1, 2, 3)]
    out = Outgoing(settings=Settings(base_url="https://cg.test"), target="https://chat.test/hooks/k", format=None,
                   options={}, items=items, message=compose(items, 12), words=str, delivery_id="d", notification_id=9,
                   row_ids=(1, 2, 3), kind="page", size=12, now=time.time(),
                   sign=lambda nid, action: f"https://cg.test/l/{make_action('k', nid, action, True, time.time())}")
    doc = channels.get("mattermost").post(out)
    assert doc["text"] == "LOW 12 updates: LOW db: Disk 1 full \\*now\\* and 11 more"
    (attachment,) = doc["attachments"]
    assert "title" not in attachment and attachment["color"] == "#f9a825"
    assert attachment["text"].splitlines() == [f"LOW db: Disk {i} full \\*now\\* [open](https://cg.test/incidents/{i})"
                                               for i in (1, 2, 3)]
    assert [a["id"] for a in attachment["actions"]] == ["acknowledge", "resolve"]


# -- retries and failures in the ledger ----------------------------------------------------------

@pytest.mark.parametrize("status", [503, 429])
def test_a_5xx_or_429_is_retried_and_the_ledger_says_so(paging_app, setup_for, mattermost, add_user, sign_in,
                                                        status):
    mattermost.fail_next(1, status)
    setup, start = page(paging_app, setup_for, mattermost.url)
    said = f"attempt 1 failed, retrying: Mattermost answered HTTP {status}: injected failure"
    assert ledger(setup) == [("page", "mattermost", "pending", 1, said)]
    client = paging_app.test_client()
    sign_in(client, *add_user(paging_app))
    assert said in client.get("/notifications?channel=mattermost").get_data(as_text=True)
    run_jobs(paging_app, start + 10)  # the first retry is due 30 s later, and a method sends once a minute
    assert mattermost.messages == []
    run_jobs(paging_app, start + 62)
    assert len(mattermost.wait(1)) == 1
    assert ledger(setup)[0][:4] == ("page", "mattermost", "sent", 2)


def test_a_4xx_fails_for_good_and_the_ledger_says_why(paging_app, setup_for, mattermost, add_user, sign_in):
    setup, start = page(paging_app, setup_for, mattermost.base + "/hooks/nosuchhook")
    run_jobs(paging_app, start + 100)
    assert ledger(setup) == [("page", "mattermost", "failed", 1, "Mattermost answered HTTP 400: Invalid webhook.")]
    assert len(mattermost.refused) == 1
    client = paging_app.test_client()
    sign_in(client, *add_user(paging_app))
    listed = client.get("/notifications?status=failed&channel=mattermost").get_data(as_text=True)
    assert "Mattermost answered HTTP 400: Invalid webhook." in listed


def test_a_private_address_is_refused_unless_allowed(make_app, database_url, tmp_path, setup_for, mattermost):
    app = make_app(database_url, tmp_path, BASE_URL="http://callgoose.test")
    setup, _start = page(app, setup_for, mattermost.url)
    (row,) = ledger(setup)
    assert row[2] == "failed" and "loopback, private or link-local" in row[4]
    assert mattermost.requests == []
