"""The fake Pushover, Matrix, SMS gateway and Slack servers answer as their providers document:
each test talks to one over real HTTP with urllib, the way a channel will."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlencode

import pytest
from providers.misc import (PUSHOVER_TOKEN, PUSHOVER_USER, FakeMatrix, FakePushover, FakeSlackWebhook,
                            FakeSmsGateway, SlackResponseRecorder, block_actions_payload, slack_press,
                            slack_signature)


def call(method: str, url: str, data=None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, lower-cased headers, body) of one request; an error status is an answer too."""
    if isinstance(data, dict):
        data = urlencode(data).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def call_json(method: str, url: str, data=None, headers: dict | None = None) -> tuple[int, dict, dict]:
    status, answer_headers, body = call(method, url, data, headers)
    return status, answer_headers, json.loads(body)


def put_json(url: str, doc, headers: dict | None = None) -> tuple[int, dict, dict]:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return call_json("PUT", url, body, {"Content-Type": "application/json", **(headers or {})})


# -- Pushover ---------------------------------------------------------------------------------

OTHER_USER = "uOtherCallgooseUserKey00000002"


def pushover(**extra) -> dict:
    return {"token": PUSHOVER_TOKEN, "user": PUSHOVER_USER, "message": "db1 is down", **extra}


@pytest.fixture
def po():
    with FakePushover() as fake:
        fake.add_user(PUSHOVER_USER, devices=("phone", "tablet"))
        yield fake


def test_pushover_accepts_a_form_message_and_records_it(po):
    status, headers, doc = call_json("POST", f"{po.api}/messages.json",
                                     pushover(title="DOWN", url="https://cg.example/i/1", url_title="open",
                                              priority="1", html="1", sound="siren", timestamp="1700000000",
                                              ttl="3600"))
    assert status == 200, doc
    assert doc["status"] == 1 and re.fullmatch(r"[0-9a-f-]{36}", doc["request"]) and "receipt" not in doc
    assert int(headers["x-limit-app-remaining"]) == int(headers["x-limit-app-limit"]) - 1
    [message] = po.messages
    assert message["message"] == "db1 is down" and message["title"] == "DOWN" and message["priority"] == "1"
    assert message["request"] == doc["request"] and message["html"] == "1" and message["ttl"] == "3600"


def test_pushover_accepts_json_too(po):
    status, _, doc = call_json("POST", f"{po.api}/messages.json", json.dumps(pushover(priority=0)).encode(),
                               {"Content-Type": "application/json"})
    assert (status, doc["status"]) == (200, 1)
    assert po.messages[0]["priority"] == "0"


def test_pushover_refuses_a_wrong_token_as_pushover_does(po):
    status, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(token="x" * 30))
    assert status == 400
    assert doc["token"] == "invalid" and doc["errors"] == ["application token is invalid"] and doc["status"] == 0
    assert re.fullmatch(r"[0-9a-f-]{36}", doc["request"]) and po.messages == []


def test_pushover_refuses_an_unknown_user_and_names_every_fault(po):
    status, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(user=OTHER_USER, message=""))
    assert status == 400 and doc["status"] == 0
    assert doc["user"] == "invalid" and doc["message"] == "cannot be blank"
    assert doc["errors"] == ["user identifier is not a valid user, group, or subscribed user key",
                             "message cannot be blank"]


@pytest.mark.parametrize("field,limit", [("message", 1024), ("title", 250), ("url", 512), ("url_title", 100)])
def test_pushover_length_limits(po, field, limit):
    value = "https://e.example/" + "x" * (limit - 18) if field == "url" else "é" * limit
    assert call("POST", f"{po.api}/messages.json", pushover(**{field: value}))[0] == 200
    status, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(**{field: value + "x"}))
    assert status == 400 and field in doc and len(doc["errors"]) == 1 and field in doc["errors"][0]
    assert len(po.messages) == 1


@pytest.mark.parametrize("fields,faults", [
    ({"priority": "3"}, ["priority is invalid"]),
    ({"priority": "2"}, ["retry must be supplied with priority=2", "expire must be supplied with priority=2"]),
    ({"priority": "2", "retry": "29", "expire": "600"}, ["retry must be at least 30 seconds"]),
    ({"priority": "2", "retry": "soon", "expire": "600"}, ["retry is invalid"]),
    ({"priority": "2", "retry": "30", "expire": "10801"}, ["expire cannot be more than 10800 seconds"]),
    ({"priority": "2", "retry": "60", "expire": "600", "callback": "not a url"}, ["callback is not a valid URL"]),
    ({"device": "watch"}, ["device name is not valid for this user"]),
    ({"html": "1", "monospace": "1"}, ["html and monospace are mutually exclusive"]),
    ({"ttl": "0"}, ["ttl is invalid"]),
])
def test_pushover_refusals(po, fields, faults):
    status, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(**fields))
    assert (status, doc["status"], doc["errors"]) == (400, 0, faults)
    assert po.messages == []


def test_pushover_emergency_gives_a_receipt_and_the_receipt_api_reports_it(po):
    status, _, doc = call_json("POST", f"{po.api}/messages.json",
                               pushover(priority="2", retry="60", expire="3600", device="tablet,phone"))
    assert status == 200 and re.fullmatch(r"[A-Za-z0-9]{30}", doc["receipt"])
    message = po.messages[0]
    assert (message["retry"], message["expire"], message["receipt"]) == ("60", "3600", doc["receipt"])
    status, _, state = call_json("GET", f"{po.api}/receipts/{doc['receipt']}.json?token={PUSHOVER_TOKEN}")
    assert status == 200 and state["status"] == 1
    assert (state["acknowledged"], state["acknowledged_at"], state["expired"], state["called_back"]) == (0, 0, 0, 0)
    assert state["expires_at"] == state["last_delivered_at"] + 3600
    assert abs(state["last_delivered_at"] - time.time()) < 5
    status, _, wrong = call_json("GET", f"{po.api}/receipts/{doc['receipt']}.json?token={'y' * 30}")
    assert (status, wrong["errors"]) == (400, ["application token is invalid"])
    status, _, missing = call_json("GET", f"{po.api}/receipts/{'R' * 30}.json?token={PUSHOVER_TOKEN}")
    assert status == 404 and missing["receipt"] == "not found"
    assert missing["errors"] == ["receipt not found; may be invalid or expired"]


def test_pushover_acknowledge_calls_back_as_pushover_does(po):
    with FakeSmsGateway(status=200, body="thanks") as app:
        _, _, doc = call_json("POST", f"{po.api}/messages.json",
                              pushover(priority="2", retry="30", expire="600", callback=app.url + "po?x=1"))
        answer = po.acknowledge(doc["receipt"], device="tablet")
        assert answer == (200, "thanks")
        [callback] = app.requests
        assert callback["method"] == "POST" and callback["path"] == "/po" and callback["query"] == {"x": "1"}
        assert callback["headers"]["content-type"] == "application/x-www-form-urlencoded"
        form = callback["form"]
        assert (form["receipt"], form["acknowledged"], form["acknowledged_by"], form["acknowledged_by_device"]) \
            == (doc["receipt"], "1", PUSHOVER_USER, "tablet")
        assert abs(int(form["acknowledged_at"]) - time.time()) < 5
        _, _, state = call_json("GET", f"{po.api}/receipts/{doc['receipt']}.json?token={PUSHOVER_TOKEN}")
        assert (state["acknowledged"], state["acknowledged_by"], state["acknowledged_by_device"]) \
            == (1, PUSHOVER_USER, "tablet")
        assert state["acknowledged_at"] == int(form["acknowledged_at"])
        assert state["called_back"] == 1 and state["called_back_at"] >= state["acknowledged_at"]
        assert po.receipts[doc["receipt"]]["callbacks"] == [(200, "thanks")]
        assert po.acknowledge(doc["receipt"]) is None  # only the first acknowledgement counts
        assert len(app.requests) == 1


def test_pushover_callback_that_fails_is_recorded_not_called_back(po):
    with FakeSmsGateway(status=503) as app:
        _, _, doc = call_json("POST", f"{po.api}/messages.json",
                              pushover(priority="2", retry="30", expire="600", callback=app.url))
        assert po.acknowledge(doc["receipt"])[0] == 503
        _, _, state = call_json("GET", f"{po.api}/receipts/{doc['receipt']}.json?token={PUSHOVER_TOKEN}")
        assert (state["acknowledged"], state["called_back"], state["called_back_at"]) == (1, 0, 0)


def test_pushover_acknowledge_without_callback_and_expire(po):
    receipts = []
    for _ in range(2):
        _, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(priority="2", retry="30", expire="600"))
        receipts.append(doc["receipt"])
    assert po.acknowledge(receipts[0]) is None
    po.expire(receipts[1])
    _, _, first = call_json("GET", f"{po.api}/receipts/{receipts[0]}.json?token={PUSHOVER_TOKEN}")
    _, _, second = call_json("GET", f"{po.api}/receipts/{receipts[1]}.json?token={PUSHOVER_TOKEN}")
    assert (first["acknowledged"], first["acknowledged_by_device"], first["expired"]) == (1, "phone", 0)
    assert (second["acknowledged"], second["expired"]) == (0, 1)
    with pytest.raises(ValueError):
        po.acknowledge(receipts[1])


def test_pushover_group_message_acknowledged_by_a_member(po):
    group = po.add_user("gCallgooseOncallGroupKey000001", devices=(), group=True)
    _, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(user=group, priority="2", retry="30",
                                                                      expire="600"))
    with pytest.raises(ValueError):
        po.acknowledge(doc["receipt"])  # a group has no devices of its own
    po.acknowledge(doc["receipt"], device="tablet", user=PUSHOVER_USER)
    _, _, state = call_json("GET", f"{po.api}/receipts/{doc['receipt']}.json?token={PUSHOVER_TOKEN}")
    assert (state["acknowledged"], state["acknowledged_by"], state["acknowledged_by_device"]) == \
        (1, PUSHOVER_USER, "tablet")


def test_pushover_cancel(po):
    _, _, doc = call_json("POST", f"{po.api}/messages.json", pushover(priority="2", retry="30", expire="600"))
    status, _, answer = call_json("POST", f"{po.api}/receipts/{doc['receipt']}/cancel.json",
                                  {"token": PUSHOVER_TOKEN})
    assert (status, answer["status"]) == (200, 1) and po.receipts[doc["receipt"]]["cancelled"]
    status, _, answer = call_json("POST", f"{po.api}/receipts/{'Q' * 30}/cancel.json", {"token": PUSHOVER_TOKEN})
    assert status == 404 and answer["errors"] == ["receipt not found; may be invalid or expired"]


def test_pushover_validate(po):
    validate = f"{po.api}/users/validate.json"
    status, _, doc = call_json("POST", validate, {"token": PUSHOVER_TOKEN, "user": PUSHOVER_USER})
    assert (status, doc["status"], doc["devices"], doc["group"]) == (200, 1, ["phone", "tablet"], 0)
    status, _, doc = call_json("POST", validate, {"token": PUSHOVER_TOKEN, "user": PUSHOVER_USER, "device": "tablet"})
    assert (status, doc["status"]) == (200, 1)
    status, _, doc = call_json("POST", validate, {"token": PUSHOVER_TOKEN, "user": OTHER_USER})
    assert (status, doc["status"], doc["user"], doc["errors"]) == (400, 0, "invalid", ["user key is invalid"])
    status, _, doc = call_json("POST", validate, {"token": PUSHOVER_TOKEN, "user": PUSHOVER_USER, "device": "watch"})
    assert (status, doc["errors"]) == (400, ["device name is not valid for this user"])
    status, _, doc = call_json("POST", validate, {"token": "z" * 30, "user": PUSHOVER_USER})
    assert (status, doc["errors"]) == (400, ["application token is invalid"])
    po.add_user(OTHER_USER, devices=(), group=True)
    status, _, doc = call_json("POST", validate, {"token": PUSHOVER_TOKEN, "user": OTHER_USER})
    assert (status, doc["group"], doc["devices"]) == (200, 1, [])


def test_pushover_monthly_limit():
    with FakePushover(limit=1) as fake:
        fake.add_user(PUSHOVER_USER)
        assert call("POST", f"{fake.api}/messages.json", pushover())[0] == 200
        status, _, doc = call_json("POST", f"{fake.api}/messages.json", pushover())
        assert (status, doc["status"], len(fake.messages)) == (429, 0, 1)


def test_pushover_answers_the_next_requests_with_a_chosen_status(po):
    po.fail_next(2, 500)
    po.fail_next(1, 429)
    statuses = [call("POST", f"{po.api}/messages.json", pushover())[0] for _ in range(4)]
    assert statuses == [500, 500, 429, 200]
    assert len(po.messages) == 1 and [r["status"] for r in po.wait(4)] == statuses


def test_pushover_refuses_bad_user_keys_in_the_helper():
    with FakePushover() as fake, pytest.raises(ValueError):
        fake.add_user("short")


# -- Matrix -----------------------------------------------------------------------------------

ROOM = "!oncall:example.org"


@pytest.fixture
def mx():
    with FakeMatrix() as fake:
        yield fake


def send_url(fake, room=ROOM, txn="t1", event_type="m.room.message"):
    return f"{fake.base}/_matrix/client/v3/rooms/{quote(room, safe='')}/send/{event_type}/{txn}"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_matrix_versions_and_whoami(mx):
    status, _, doc = call_json("GET", f"{mx.base}/_matrix/client/versions")
    assert status == 200 and "v1.1" in doc["versions"] and isinstance(doc["unstable_features"], dict)
    status, _, doc = call_json("GET", f"{mx.base}/_matrix/client/v3/account/whoami", headers=bearer(mx.access_token))
    assert (status, doc) == (200, {"user_id": "@bot:example.org", "device_id": mx.device_id, "is_guest": False})
    status, _, doc = call_json("GET", f"{mx.base}/_matrix/client/v3/account/whoami")
    assert (status, doc["errcode"]) == (401, "M_MISSING_TOKEN")


def test_matrix_send_posts_a_message_to_a_joined_room(mx):
    mx.join(ROOM)
    content = {"msgtype": "m.text", "body": "db1 is down", "format": "org.matrix.custom.html",
               "formatted_body": "<b>db1</b> is down"}
    status, _, doc = put_json(send_url(mx), content, bearer(mx.access_token))
    assert status == 200 and re.fullmatch(r"\$[A-Za-z0-9_-]{43}", doc["event_id"])
    [event] = mx.messages(ROOM)
    assert event["event_id"] == doc["event_id"] and event["content"] == content
    assert (event["sender"], event["type"], event["txn_id"]) == ("@bot:example.org", "m.room.message", "t1")
    assert mx.problems == []


def test_matrix_same_txn_id_posts_once(mx):
    mx.join(ROOM)
    first = put_json(send_url(mx, txn="abc"), {"msgtype": "m.notice", "body": "one"}, bearer(mx.access_token))
    again = put_json(send_url(mx, txn="abc"), {"msgtype": "m.notice", "body": "one"}, bearer(mx.access_token))
    other = put_json(send_url(mx, txn="abd"), {"msgtype": "m.notice", "body": "two"}, bearer(mx.access_token))
    assert first[0] == again[0] == other[0] == 200
    assert first[2]["event_id"] == again[2]["event_id"] != other[2]["event_id"]
    assert [e["content"]["body"] for e in mx.messages(ROOM)] == ["one", "two"]
    assert len(mx.wait(3)) == 3  # every request is recorded, the repeat too


def test_matrix_txn_ids_are_scoped_to_the_device(mx):
    """A refreshed token of the same device keeps the scope; another device has its own."""
    mx.join(ROOM)
    mx.add_token("syt_refreshed", "@bot:example.org", mx.device_id)
    mx.add_token("syt_laptop", "@bot:example.org", "LAPTOP")
    a = put_json(send_url(mx, txn="x"), {"msgtype": "m.text", "body": "a"}, bearer(mx.access_token))[2]
    b = put_json(send_url(mx, txn="x"), {"msgtype": "m.text", "body": "a"}, bearer("syt_refreshed"))[2]
    c = put_json(send_url(mx, txn="x"), {"msgtype": "m.text", "body": "a"}, bearer("syt_laptop"))[2]
    assert a["event_id"] == b["event_id"] != c["event_id"]
    assert len(mx.messages(ROOM)) == 2


def test_matrix_accepts_the_older_query_token(mx):
    mx.join(ROOM)
    status, _, doc = put_json(send_url(mx) + f"?access_token={mx.access_token}", {"msgtype": "m.text", "body": "q"})
    assert status == 200 and mx.messages(ROOM)[0]["event_id"] == doc["event_id"]


def test_matrix_refusals(mx):
    body = {"msgtype": "m.text", "body": "x"}
    status, _, doc = put_json(send_url(mx), body)
    assert (status, doc) == (401, {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
    status, _, doc = put_json(send_url(mx), body, bearer("syt_nope"))
    assert (status, doc) == (401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.",
                                   "soft_logout": False})
    status, _, doc = put_json(send_url(mx, room="!x:example.org"), body, bearer(mx.access_token))
    assert (status, doc) == (403, {"errcode": "M_FORBIDDEN",
                                   "error": "User @bot:example.org not in room !x:example.org"})
    mx.join(ROOM)
    status, _, doc = put_json(send_url(mx), b"{not json", bearer(mx.access_token))
    assert (status, doc["errcode"]) == (400, "M_NOT_JSON")
    status, _, doc = put_json(send_url(mx), b"[1]", bearer(mx.access_token))
    assert (status, doc["errcode"]) == (400, "M_BAD_JSON")
    status, _, doc = call_json("GET", send_url(mx), headers=bearer(mx.access_token))
    assert (status, doc["errcode"]) == (405, "M_UNRECOGNIZED")
    assert mx.messages(ROOM) == [] and [r["status"] for r in mx.requests] == [401, 401, 403, 400, 400, 405]


def test_matrix_rate_limit_knob(mx):
    mx.join(ROOM)
    mx.fail_next(1, 429)
    status, headers, doc = put_json(send_url(mx), {"msgtype": "m.text", "body": "x"}, bearer(mx.access_token))
    assert (status, doc) == (429, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
                                   "retry_after_ms": 2000})
    assert headers["retry-after"] == "2" and mx.messages(ROOM) == []
    mx.fail_next(1, 500)
    assert put_json(send_url(mx), {"msgtype": "m.text", "body": "x"}, bearer(mx.access_token))[0] == 500
    assert put_json(send_url(mx), {"msgtype": "m.text", "body": "x"}, bearer(mx.access_token))[0] == 200
    assert len(mx.messages(ROOM)) == 1


def test_matrix_records_content_the_spec_does_not_allow(mx):
    """A homeserver takes any JSON object; clients would show these badly, so the fake notes them."""
    mx.join(ROOM)
    for txn, content in enumerate([{"body": "no msgtype"}, {"msgtype": "m.text"},
                                   {"msgtype": "m.text", "body": "b", "format": "org.matrix.custom.html"}]):
        assert put_json(send_url(mx, txn=str(txn)), content, bearer(mx.access_token))[0] == 200
    assert len(mx.problems) == 3 and len(mx.messages(ROOM)) == 3


# -- SMS gateway ------------------------------------------------------------------------------

def test_sms_gateway_records_json_form_query_and_raw():
    with FakeSmsGateway(status=201, body={"id": "m1"}) as gw:
        sms = json.dumps({"to": "+15550001", "text": "hi"}).encode()
        status, headers, doc = call_json("POST", gw.url + "send?key=k1", sms,
                                         {"Content-Type": "application/json; charset=utf-8", "X-Extra": "1"})
        assert (status, doc, headers["content-type"]) == (201, {"id": "m1"}, "application/json")
        call("POST", gw.url + "form", {"to": "+15550002", "text": "yo"})
        call("GET", gw.url + "get?to=%2B15550003&text=a+b")
        call("PUT", gw.url + "raw", b"\x00raw", {"Content-Type": "application/octet-stream"})
        first, form, get, raw = gw.wait(4)
    assert (first["method"], first["path"], first["query"]) == ("POST", "/send", {"key": "k1"})
    assert first["json"] == {"to": "+15550001", "text": "hi"} and first["form"] is None
    assert first["headers"]["x-extra"] == "1" and first["body"] == b'{"to": "+15550001", "text": "hi"}'
    assert form["form"] == {"to": "+15550002", "text": "yo"} and form["json"] is None
    assert (get["method"], get["query"], get["body"]) == ("GET", {"to": "+15550003", "text": "a b"}, b"")
    assert (raw["body"], raw["json"], raw["form"]) == (b"\x00raw", None, None)


def test_sms_gateway_requires_its_header():
    with FakeSmsGateway(require_header=("Authorization", "Bearer s3cret")) as gw:
        assert call("POST", gw.url, b"{}", {"Content-Type": "application/json"})[0] == 401
        assert call("POST", gw.url, b"{}", {"Authorization": "Bearer wrong"})[0] == 401
        assert call("POST", gw.url, b"{}", {"authorization": "Bearer s3cret"})[0] == 200
        gw.fail_next(1, 429, retry_after=7)
        status, headers, _ = call("POST", gw.url, b"{}", {"Authorization": "Bearer s3cret"})
        assert (status, headers["retry-after"]) == (429, "7")
        assert [r["status"] for r in gw.requests] == [401, 401, 200, 429]


# -- Slack ------------------------------------------------------------------------------------

def button(text="Acknowledge", action_id="ack", **extra):
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, **extra}


def alert_message(*elements):
    return {"text": "db1 is down", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "DOWN"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*db1* is down"},
         "fields": [{"type": "mrkdwn", "text": "*Service*\ncheckout"}]},
        {"type": "divider"},
        {"type": "actions", "block_id": "incident-1", "elements": list(elements) or [
            button(value="ack:1", style="primary"), button("Resolve", "resolve", value="res:1", style="danger"),
            button("Open", "open", url="https://cg.example/i/1")]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Callgoose"},
                                         {"type": "image", "image_url": "https://cg.example/i.png", "alt_text": "g"}]},
    ]}


def post_slack(url, doc):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    status, _, answer = call("POST", url, body, {"Content-Type": "application/json"})
    return status, answer.decode()


@pytest.fixture
def slack():
    with FakeSlackWebhook() as fake:
        yield fake


def test_slack_webhook_accepts_text_and_blocks(slack):
    assert post_slack(slack.url, {"text": "plain"}) == (200, "ok")
    assert post_slack(slack.url, alert_message()) == (200, "ok")
    assert post_slack(slack.url, {"blocks": [{"type": "divider"}]}) == (200, "ok")
    assert [m.get("text") for m in slack.messages] == ["plain", "db1 is down", None]


@pytest.mark.parametrize("doc,answer", [
    ({}, "no_text"),
    ({"text": ""}, "no_text"),
    (b"{nope", "invalid_payload"),
    ({"text": "x", "blocks": "not a list"}, "invalid_blocks_format"),
    (alert_message(button(text="x" * 76)), "invalid_blocks"),
    (alert_message(button(text="x", style="secondary")), "invalid_blocks"),
    (alert_message(button(action_id="a" * 256)), "invalid_blocks"),
    (alert_message(button(value="v" * 2001)), "invalid_blocks"),
    (alert_message(button(url="https://e.example/" + "u" * 3000)), "invalid_blocks"),
    (alert_message({"type": "button", "text": {"type": "mrkdwn", "text": "*x*"}, "action_id": "a"}),
     "invalid_blocks"),
    (alert_message(button(), button("Again")), "invalid_blocks"),  # the same action_id twice in one block
    (alert_message(button(colour="red")), "invalid_blocks"),
    (alert_message(), None),
    ({"text": "x", "blocks": [{"type": "bogus"}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "section"}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "context", "elements": []}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}]},
     "invalid_blocks"),
])
def test_slack_webhook_refusals(slack, doc, answer):
    status, body = post_slack(slack.url, doc)
    if answer is None:
        assert (status, body) == (200, "ok")
    else:
        assert (status, body) == (400, answer) and slack.messages == [] and slack.problems


def test_slack_webhook_unknown_hook_and_knob(slack):
    assert post_slack(slack.base + "/services/T1/B1/nope", {"text": "x"}) == (404, "no_service")
    slack.fail_next(1, 429, retry_after=3)
    status, headers, _ = call("POST", slack.url, b'{"text":"x"}', {"Content-Type": "application/json"})
    assert (status, headers["retry-after"]) == (429, "3")
    assert post_slack(slack.url, {"text": "x"}) == (200, "ok") and len(slack.messages) == 1


def test_slack_signature_matches_slacks_worked_example():
    """The example on api.slack.com/authentication/verifying-requests-from-slack."""
    body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J"
            "%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c").encode()
    assert slack_signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body) == \
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slack_press_posts_a_signed_block_actions_payload():
    message = alert_message()
    with SlackResponseRecorder() as responses, FakeSmsGateway(status=200, body="") as app:
        payload = block_actions_payload(message, "resolve", response_url=responses.url_for("r1"))
        status, body = slack_press(app.url + "slack/actions", "shh", payload, timestamp=1700000000)
        assert (status, body) == (200, "")
        [request] = app.requests
    headers = request["headers"]
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["x-slack-request-timestamp"] == "1700000000"
    expected = "v0=" + hmac.new(b"shh", b"v0:1700000000:" + request["body"], hashlib.sha256).hexdigest()
    assert headers["x-slack-signature"] == expected
    assert list(parse_qs(request["body"].decode())) == ["payload"]
    sent = json.loads(request["form"]["payload"])
    assert sent == payload and sent["type"] == "block_actions"
    [action] = sent["actions"]
    assert (action["type"], action["action_id"], action["block_id"], action["value"]) == \
        ("button", "resolve", "incident-1", "res:1")
    assert re.fullmatch(r"\d{10}\.\d{6}", action["action_ts"])
    assert set(sent["user"]) >= {"id", "username", "name", "team_id"} and set(sent["team"]) >= {"id", "domain"}
    assert set(sent["channel"]) >= {"id", "name"} and sent["message"]["blocks"] == message["blocks"]
    assert sent["response_url"] == responses.url_for("r1") and sent["trigger_id"]


def test_callbacks_go_through_a_flask_test_client(po):
    """Pushover's callback and Slack's press reach an app under test without a real server."""
    from flask import Flask, request
    app, seen = Flask(__name__), []

    @app.post("/hooks/<name>")
    def hook(name):
        seen.append((name, request.args.to_dict(), request.form.to_dict(), dict(request.headers)))
        return "taken", 202

    client = app.test_client()
    _, _, doc = call_json("POST", f"{po.api}/messages.json",
                          pushover(priority="2", retry="30", expire="600", callback="https://cg.example/hooks/po?k=1"))
    assert po.acknowledge(doc["receipt"], client=client) == (202, "taken")
    payload = block_actions_payload(alert_message(), "ack", response_url="https://hooks.slack.example/x")
    assert slack_press("https://cg.example/hooks/slack", "shh", payload, timestamp=1700000000, client=client) \
        == (202, "taken")
    (name, args, form, _), (name2, _, form2, headers2) = seen
    assert (name, args, form["receipt"], form["acknowledged_by"]) == ("po", {"k": "1"}, doc["receipt"], PUSHOVER_USER)
    assert name2 == "slack" and json.loads(form2["payload"]) == payload
    body = urlencode({"payload": form2["payload"]}).encode()
    assert headers2["X-Slack-Signature"] == slack_signature("shh", 1700000000, body)


def test_block_actions_payload_needs_the_button():
    with pytest.raises(LookupError):
        block_actions_payload(alert_message(), "missing", response_url="http://127.0.0.1:1/x")


def test_slack_response_url_recorder():
    with SlackResponseRecorder() as responses:
        url = responses.url_for("r1")
        assert post_slack(url, {"replace_original": True, "text": "Acknowledged by ann"}) == (200, "ok")
        assert post_slack(url, {"text": "x", "blocks": [{"type": "bogus"}]}) == (400, "invalid_blocks")
        assert post_slack(responses.url_for("other"), {"delete_original": True})[0] == 200
        for _ in range(4):
            post_slack(url, {"text": "again"})
        status, _ = post_slack(url, {"text": "one too many"})
        assert status == 404  # a response_url takes at most five messages
        posts = responses.wait(8)
    assert posts[0]["name"] == "r1" and posts[0]["json"]["replace_original"] is True
    assert [p["status"] for p in posts] == [200, 400, 200, 200, 200, 200, 200, 404]
