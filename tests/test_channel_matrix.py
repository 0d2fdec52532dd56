"""Issue 17: a Matrix room as a contact method, end to end against a local homeserver that
speaks the client-server API (tests/providers/misc.py): added and verified on My
notifications, a page as an m.text with escaped HTML and signed links ("via Matrix" on the
timeline), the delivery id as the transaction id so a retry never posts twice, and retries
and refusals in the ledger."""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import ALERTMANAGER, T0, configure, firing, post, run_jobs
from providers.misc import Answer, FakeMatrix

from callgoose import clock
from callgoose.engine.rules import SpecError
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"
ROOM = "!OpsRoomAbCdEf:example.org"


@pytest.fixture
def matrix():
    with FakeMatrix() as fake:
        fake.join(ROOM)
        yield fake


@pytest.fixture
def matrix_app(make_app, database_url, tmp_path, matrix):
    """No WEBHOOK_ALLOWED_HOSTS: the homeserver is the admin's, not a user's URL."""
    return make_app(database_url, tmp_path, BASE_URL=BASE, MATRIX_HOMESERVER=matrix.base + "/",
                    MATRIX_ACCESS_TOKEN=matrix.access_token, DELIVERY_TIMEOUT_SECONDS=5)


def ana_in(room: str) -> dict:
    """Ana, paged in a Matrix room at once by the policy of checkout-api."""
    return {"users": [{"email": "ana@example.com", "name": "Ana",
                       "contact_methods": [{"name": "ops", "type": "matrix", "room_id": room}],
                       "notification_rules": [{"contact_method": "ops", "after_minutes": 0}]}],
            "escalation_policies": [{"name": "checkout", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


def ledger(setup):
    return setup.query("SELECT kind, channel, status, error, attempts FROM notifications ORDER BY id")


def page_once(app, setup, summary: str = "CPU high") -> float:
    assert post(app.test_client(), setup.token(), firing("g1", summary)).status_code == 201
    start = time.time()
    run_jobs(app, start + 1)
    return start


def sends(fake: FakeMatrix) -> list[dict]:
    return [r for r in fake.requests if "/send/" in r["path"]]


@pytest.mark.parametrize("room", [ROOM, "!abc:[2001:db8::1]:8448", "!abc:matrix.example.org:8448",
                                  "!" + "Ab3_-x" * 7 + "Q"])  # the last: room version 12, no server
def test_the_document_takes_a_room_id(matrix_app, room):
    configure(matrix_app, ana_in(room))
    exported = json.loads(matrix_app.test_cli_runner().invoke(args=["export-config"]).stdout)
    assert exported["users"][0]["contact_methods"] == [{"name": "ops", "type": "matrix", "room_id": room}]


@pytest.mark.parametrize("room", ["#ops:example.org", "!abc", "abc:example.org", "!abc:", "! abc:example.org",
                                  "!abc:exa mple.org", "", 42, "!" + "a" * 250 + ":example.org"])
def test_the_document_names_a_bad_room_id(matrix_app, room):
    with pytest.raises(SpecError) as caught, matrix_app.app_context():
        import_config(ana_in(room), clock.now())
    assert caught.value.path == "users[0].contact_methods[0].room_id"
    assert "room ID" in str(caught.value.message) or "required" in str(caught.value.message)


def test_my_notifications_adds_verifies_and_tests_it(matrix_app, setup_for, matrix, add_user, sign_in, now):
    email, password = add_user(matrix_app, "dee@example.com", admin=False)
    client = matrix_app.test_client()
    sign_in(client, email, password)
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "CALLGOOSE_MATRIX_HOMESERVER" not in page  # set up on this server
    added = client.post("/notifications/me/methods", data={"name": "ops room", "type": "matrix",
                                                           "address": f" {ROOM} "})
    assert added.status_code == 302
    page = client.get("/notifications/me").get_data(as_text=True)
    method_id = int(re.findall(r'id="method-(\d+)"', page)[-1])
    assert ROOM in page
    assert client.post(f"/notifications/me/methods/{method_id}/code").status_code == 302
    run_jobs(matrix_app, T0 + 1)
    (event,) = matrix.messages(ROOM)
    code = re.search(r"\b(\d{6})\b", event["content"]["body"]).group(1)
    assert code in event["content"]["formatted_body"]
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    page = client.get("/notifications/me").get_data(as_text=True)
    assert re.search(rf'id="method-{method_id}".*?>verified<', page, re.S)
    now.set(120)  # one code or test a minute per method
    assert client.post(f"/notifications/me/methods/{method_id}/test").status_code == 302
    run_jobs(matrix_app, T0 + 121)
    test = matrix.messages(ROOM)[1]["content"]
    assert test["body"].startswith("[Callgoose] Test notification from Callgoose to ops room")
    assert [r[:3] for r in ledger(setup_for(matrix_app))] == [("verify", "matrix", "sent"), ("test", "matrix", "sent")]
    assert matrix.problems == []


def test_a_page_carries_the_facts_escaped_and_its_link_acknowledges(matrix_app, setup_for, matrix, add_user,
                                                                   sign_in):
    setup = setup_for(matrix_app)
    configure(matrix_app, ana_in(ROOM))
    page_once(matrix_app, setup, 'Disk <b>full</b> & "hot" @room')
    (event,) = matrix.messages(ROOM)
    (request,) = sends(matrix)
    incident_id, delivery_id = setup.query("SELECT incident_id, delivery_id FROM notifications")[0]
    assert request["method"] == "PUT" and request["headers"]["authorization"] == f"Bearer {matrix.access_token}"
    assert event["txn_id"] == delivery_id  # the same on every retry
    content = event["content"]
    assert content["msgtype"] == "m.text" and content["format"] == "org.matrix.custom.html"
    assert content["m.mentions"] == {}  # "@room" in a title notifies nobody
    body = content["body"]
    assert body.splitlines()[0] == '[Callgoose] P2 HIGH checkout-api: Disk <b>full</b> & "hot" @room'
    assert f"Open: {BASE}/incidents/{incident_id}" in body
    links = dict(re.findall(r"^(Acknowledge|Resolve): (\S+)$", body, re.M))
    assert set(links) == {"Acknowledge", "Resolve"} and all(u.startswith(f"{BASE}/l/") for u in links.values())
    html = content["formatted_body"]
    assert "Disk &lt;b&gt;full&lt;/b&gt; &amp; &quot;hot&quot; @room" in html and "<b>full" not in html
    assert f'<a href="{links["Acknowledge"]}">Acknowledge</a>' in html
    assert f'<a href="{BASE}/incidents/{incident_id}">Open</a>' in html
    assert matrix.problems == []

    client = matrix_app.test_client()
    path = links["Acknowledge"].removeprefix(BASE)
    assert b"Acknowledge this incident?" in client.get(path).data
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]  # a GET never acts
    assert client.post(path).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
        ("ana@example.com (via Matrix)",)]
    assert client.post(path).status_code == 410  # once
    sign_in(client, *add_user(matrix_app))
    assert "ana@example.com (via Matrix)" in client.get(f"/incidents/{incident_id}").get_data(as_text=True)


class LostAnswer(FakeMatrix):
    """A homeserver behind a proxy that gives up waiting: the first event is stored, and its
    answer lost (504)."""

    lose = 1

    def _answer(self, req: dict) -> Answer:
        answer = super()._answer(req)
        if self.lose and answer.status == 200 and "/send/" in req["path"]:
            self.lose -= 1
            return Answer(504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>", "text/html")
        return answer


def test_a_retry_after_a_lost_answer_posts_once(make_app, database_url, tmp_path, setup_for):
    with LostAnswer() as fake:
        fake.join(ROOM)
        app = make_app(database_url, tmp_path, BASE_URL=BASE, MATRIX_HOMESERVER=fake.base,
                       MATRIX_ACCESS_TOKEN=fake.access_token)
        setup = setup_for(app)
        configure(app, ana_in(ROOM))
        start = page_once(app, setup)
        (row,) = ledger(setup)
        assert row[2] == "pending" and "the Matrix homeserver answered HTTP 504" in row[3]
        assert len(fake.messages(ROOM)) == 1  # it did arrive
        run_jobs(app, start + 62)  # the retry: due 30 s later, and a minute after the last send to the method
        assert [r["status"] for r in sends(fake)] == [504, 200]
        assert sends(fake)[0]["path"] == sends(fake)[1]["path"]  # the same transaction id
        (event,) = fake.messages(ROOM)  # posted once
    assert ledger(setup) == [("page", "matrix", "sent", None, 2)]
    assert setup.query("SELECT provider_id FROM notifications") == [(event["event_id"],)]


@pytest.mark.parametrize("status", [500, 429])
def test_a_5xx_or_429_is_retried(matrix_app, setup_for, matrix, status):
    setup = setup_for(matrix_app)
    configure(matrix_app, ana_in(ROOM))
    matrix.fail_next(1, status, retry_after=1)
    start = page_once(matrix_app, setup)
    (row,) = ledger(setup)
    assert row[:3] == ("page", "matrix", "pending") and f"the Matrix homeserver answered HTTP {status}" in row[3]
    assert matrix.messages(ROOM) == []
    run_jobs(matrix_app, start + 62)
    assert len(matrix.messages(ROOM)) == 1
    assert ledger(setup) == [("page", "matrix", "sent", None, 2)]


@pytest.mark.parametrize("token, room, said", [
    ("not-the-token", ROOM, "the Matrix homeserver answered HTTP 401: M_UNKNOWN_TOKEN: Invalid access token passed."),
    (None, "!elsewhere:example.org",
     "the Matrix homeserver answered HTTP 403: M_FORBIDDEN: User @bot:example.org not in room !elsewhere:example.org"),
])
def test_a_401_or_403_fails_for_good_in_the_ledger(make_app, database_url, tmp_path, setup_for, matrix, add_user,
                                                   sign_in, token, room, said):
    app = make_app(database_url, tmp_path, BASE_URL=BASE, MATRIX_HOMESERVER=matrix.base,
                   MATRIX_ACCESS_TOKEN=token or matrix.access_token)
    setup = setup_for(app)
    configure(app, ana_in(room))
    start = page_once(app, setup)
    run_jobs(app, start + 100)
    assert ledger(setup) == [("page", "matrix", "failed", said, 1)]
    assert len(sends(matrix)) == 1 and matrix.events == []
    client = app.test_client()
    sign_in(client, *add_user(app))
    page = client.get("/notifications?status=failed").get_data(as_text=True)
    assert said.split(": ")[1] in page and "Send again" in page


def test_without_a_homeserver_it_says_so_and_waits(make_app, database_url, tmp_path, setup_for, add_user, sign_in):
    app = make_app(database_url, tmp_path, BASE_URL=BASE)
    setup = setup_for(app)
    configure(app, ana_in(ROOM))
    page_once(app, setup)
    (row,) = ledger(setup)
    assert row[2] == "pending" and "Matrix is not configured (set CALLGOOSE_MATRIX_HOMESERVER" in row[3]
    client = app.test_client()
    sign_in(client, *add_user(app))
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "Not set up on this server:" in page and "CALLGOOSE_MATRIX_HOMESERVER, CALLGOOSE_MATRIX_ACCESS_TOKEN" in page
