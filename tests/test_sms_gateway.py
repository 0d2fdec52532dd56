"""Issue 17: SMS through a gateway of the team's choice when Twilio is not configured
(``SMS_GATEWAY_URL``, ``_METHOD``, ``_HEADERS``, ``_BODY``), against a local gateway that
records what it is sent (tests/providers/misc.py); Twilio still wins when it is configured."""

from __future__ import annotations

import re
import time

import pytest
from helpers import ALERTMANAGER, firing, post, run_jobs
from providers.misc import FakeSmsGateway
from receivers import DripReceiver, FakeTwilio

from callgoose import clock, create_app
from callgoose.engine import sms
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"
PHONE = "+14155550101"
JSON_BODY = '{"message": "{text}", "phoneNumbers": ["{to}"], "source": "callgoose {to}"}'
FORM_BODY = "to={to}&message={text}&key=k1"


@pytest.fixture
def gateway():
    with FakeSmsGateway() as fake:
        yield fake


def gateway_app(make_app, database_url, tmp_path, url: str, **settings):
    """An app whose SMS goes through the gateway at ``url`` (no Twilio, no allow-list: a gateway
    on the LAN is an admin's choice)."""
    return make_app(database_url, tmp_path, BASE_URL=BASE, SMS_GATEWAY_URL=url, DELIVERY_TIMEOUT_SECONDS=5,
                    **settings)


def document() -> dict:
    return {"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [
        {"name": "sms", "type": "sms", "address": PHONE}],
        "notification_rules": [{"contact_method": "sms", "after_minutes": 0}]}],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


def page(app, setup_for, title: str = "Disk full") -> tuple[object, float]:
    setup = setup_for(app)
    with app.app_context():
        import_config(document(), clock.now())
    assert post(app.test_client(), setup.token(), firing("g1", title)).status_code == 201
    start = time.time()
    run_jobs(app, start + 1)
    return setup, start


def ledger(setup):
    return setup.query("SELECT kind, channel, status, attempts, error FROM notifications ORDER BY id")


# -- settings, checked when the app starts ------------------------------------------------------

@pytest.mark.parametrize("settings, words", [
    ({"SMS_GATEWAY_HEADERS": '{"Authorization": "Bearer a\\r\\nX-Evil: 1"}'}, "one line"),
    ({"SMS_GATEWAY_HEADERS": '{"Authorization": "Bearer a\\nb"}'}, "one line"),
    ({"SMS_GATEWAY_HEADERS": '["Authorization: x"]'}, "JSON object"),
    ({"SMS_GATEWAY_HEADERS": "Authorization: x"}, "JSON object"),
    ({"SMS_GATEWAY_HEADERS": '{"Bad Name": "x"}'}, "header name"),
    ({"SMS_GATEWAY_HEADERS": '{"X-Count": 3}'}, "text"),
    ({"SMS_GATEWAY_HEADERS": '{"Content-Length": "3"}'}, "Content-Length"),
    ({"SMS_GATEWAY_METHOD": "DELETE"}, "SMS_GATEWAY_METHOD"),
    ({"SMS_GATEWAY_BODY": '{"to": {to}, "text": "{text}"}'}, "inside strings"),
    ({"SMS_GATEWAY_BODY": '{"text": "{text}"}'}, "{to}"),
    ({"SMS_GATEWAY_METHOD": "GET", "SMS_GATEWAY_URL": "http://192.168.1.20:8080/send?to={to}"}, "{text}"),
    ({"SMS_GATEWAY_URL": "ftp://192.168.1.20/send"}, "SMS_GATEWAY_URL"),
])
def test_a_gateway_setting_that_cannot_work_stops_the_start_with_a_clear_error(tmp_path, settings, words):
    config = {"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
              "SMS_GATEWAY_URL": "http://192.168.1.20:8080/send", **settings}
    with pytest.raises(ValueError) as caught:
        create_app(config)
    message = str(caught.value)
    assert message.startswith("setting SMS_GATEWAY_") and words in message and "\n" not in message


def test_good_gateway_settings_start_and_headers_may_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLGOOSE_SMS_GATEWAY_HEADERS", '{"Authorization": "Basic dTpw", "X-Api-Key": "123"}')
    monkeypatch.setenv("CALLGOOSE_SMS_GATEWAY_BODY", JSON_BODY)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
                      "SMS_GATEWAY_URL": "http://192.168.1.20:8080/message"})
    assert app.config["SMS_GATEWAY_BODY"] == JSON_BODY and app.config["SMS_GATEWAY_METHOD"] == "POST"


# -- codes, tests and pages --------------------------------------------------------------------

def test_a_code_and_a_test_arrive_as_json_and_the_code_verifies(make_app, database_url, tmp_path, gateway, add_user,
                                                                 sign_in, monkeypatch):
    app = gateway_app(make_app, database_url, tmp_path, gateway.url + "message", SMS_GATEWAY_BODY=JSON_BODY,
                      SMS_GATEWAY_HEADERS={"Authorization": "Basic dTpw"})
    client = app.test_client()
    sign_in(client, *add_user(app, "dee@example.com", admin=False))
    mine = client.get("/notifications/me").get_data(as_text=True)
    assert "(not set up on this server)" not in mine.split('id="add-sms"')[1].split("</summary>")[0]
    client.post("/notifications/me/methods", data={"name": "phone", "type": "sms", "address": PHONE})
    method_id = int(re.findall(r'id="method-(\d+)"', client.get("/notifications/me").get_data(as_text=True))[-1])
    client.post(f"/notifications/me/methods/{method_id}/code")
    run_jobs(app, time.time())
    (sent,) = gateway.wait(1)
    assert (sent["method"], sent["path"], sent["status"]) == ("POST", "/message", 200)
    assert sent["headers"]["content-type"] == "application/json"
    assert sent["headers"]["authorization"] == "Basic dTpw"
    assert sent["json"]["phoneNumbers"] == [PHONE] and sent["json"]["source"] == f"callgoose {PHONE}"
    code = re.search(r"\b(\d{6})\b", sent["json"]["message"]).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    assert re.search(rf'id="method-{method_id}".*?>verified<', client.get("/notifications/me").get_data(as_text=True),
                     re.S)

    later = time.time() + 61  # codes and tests: one a minute per method
    monkeypatch.setattr(clock, "now", lambda: later)
    client.post(f"/notifications/me/methods/{method_id}/test")
    run_jobs(app, later)
    test = gateway.wait(2)[1]
    assert "test" in test["json"]["message"].lower() and test["json"]["phoneNumbers"] == [PHONE]


def test_a_page_arrives_as_json_with_the_values_escaped_and_a_link_that_acknowledges(make_app, database_url, tmp_path,
                                                                                     setup_for, gateway):
    app = gateway_app(make_app, database_url, tmp_path, gateway.url + "message", SMS_GATEWAY_BODY=JSON_BODY)
    title = 'Disk "db1" full\\ at 99% {to} ünïcode'
    setup, _start = page(app, setup_for, title)
    (sent,) = gateway.wait(1)
    text = sent["json"]["message"]
    assert text.startswith(f"Callgoose: P2 HIGH checkout-api: {title}")  # quotes, backslash, a placeholder: as sent
    assert sent["json"]["phoneNumbers"] == [PHONE] and len(text) <= 320
    assert "Reply 1" not in text  # replies reach Callgoose only through Twilio
    link = re.search(rf"Acknowledge: ({re.escape(BASE)}/l/\S+)$", text).group(1)
    client = app.test_client()
    assert client.get(link.removeprefix(BASE)).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]  # a GET (a link preview) never acts
    assert client.post(link.removeprefix(BASE)).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
        ("ana@example.com (via SMS)",)]
    assert ledger(setup)[0][:4] == ("page", "sms", "sent", 1)


def test_a_page_arrives_form_encoded_and_a_long_title_keeps_its_link(make_app, database_url, tmp_path, setup_for,
                                                                     gateway):
    app = gateway_app(make_app, database_url, tmp_path, gateway.url + "send", SMS_GATEWAY_BODY=FORM_BODY)
    title = "A&B=C + 100% " + "x" * 400
    page(app, setup_for, title)
    (sent,) = gateway.wait(1)
    assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded" and sent["json"] is None
    assert set(sent["form"]) == {"to", "message", "key"}
    assert sent["form"]["to"] == PHONE and sent["form"]["key"] == "k1"
    text = sent["form"]["message"]
    # One SMS (issue 17: a page fits one where possible): the title is cut, the link never.
    assert text.startswith("Callgoose: P2 HIGH checkout-api: A&B=C + 100% xxx") and sms.segments(text) == 1
    assert sms.encoding(text) == "gsm7" and len(text) > 150
    assert re.search(rf"x\.\.\.\nAcknowledge: {re.escape(BASE)}/l/\S+$", text)


def test_a_get_gateway_takes_the_values_in_its_url(make_app, database_url, tmp_path, setup_for, gateway):
    app = gateway_app(make_app, database_url, tmp_path, gateway.url + "send?to={to}&text={text}&user=cg",
                      SMS_GATEWAY_METHOD="GET")
    page(app, setup_for, "CPU & disk")
    (sent,) = gateway.wait(1)
    assert sent["method"] == "GET" and sent["body"] == b""
    assert sent["query"]["to"] == PHONE and sent["query"]["user"] == "cg"
    assert sent["query"]["text"].startswith("Callgoose: P2 HIGH checkout-api: CPU & disk")


# -- failures ---------------------------------------------------------------------------------

def test_a_5xx_is_retried_and_a_4xx_fails_for_good(make_app, database_url, tmp_path, setup_for, gateway, add_user,
                                                   sign_in):
    gateway.fail_next(1, 503)
    app = gateway_app(make_app, database_url, tmp_path, gateway.url)
    setup, start = page(app, setup_for)
    assert ledger(setup) == [("page", "sms", "pending", 1,
                              'attempt 1 failed, retrying: the SMS gateway answered HTTP 503: {"error": "HTTP 503"}')]
    run_jobs(app, start + 62)
    assert [r["status"] for r in gateway.wait(2)] == [503, 200]
    assert ledger(setup)[0][:4] == ("page", "sms", "sent", 2)
    assert gateway.requests[1]["json"]["to"] == PHONE  # the default body: {"to": "{to}", "text": "{text}"}

    gateway.status, gateway.body = 400, {"error": "invalid phone number"}
    assert post(app.test_client(), setup.token("second"), firing("g2", "Queue stuck")).status_code == 201
    run_jobs(app, start + 130)
    run_jobs(app, start + 400)
    assert len(gateway.requests) == 3
    failed = ledger(setup)[-1]
    assert failed[:4] == ("page", "sms", "failed", 1)
    assert failed[4] == 'the SMS gateway answered HTTP 400: {"error": "invalid phone number"}'
    client = app.test_client()
    sign_in(client, *add_user(app))
    assert "invalid phone number" in client.get("/notifications?status=failed").get_data(as_text=True)


def test_a_gateway_that_drips_its_answer_ends_at_the_send_s_deadline(make_app, database_url, tmp_path, setup_for):
    with DripReceiver(gap=0.5) as slow:
        app = gateway_app(make_app, database_url, tmp_path, slow.url, DELIVERY_DEADLINE_SECONDS=1)
        began = time.monotonic()
        setup, _start = page(app, setup_for)
        assert time.monotonic() - began < 5
        slow.release()
    (row,) = ledger(setup)
    assert row[2] == "pending" and "deadline of 1 s" in row[4]


# -- Twilio first ------------------------------------------------------------------------------

def test_twilio_wins_when_it_is_configured(make_app, database_url, tmp_path, setup_for, gateway):
    with FakeTwilio() as twilio:
        app = gateway_app(make_app, database_url, tmp_path, gateway.url, TWILIO_ACCOUNT_SID=twilio.sid,
                          TWILIO_AUTH_TOKEN=twilio.token, TWILIO_FROM="+15005550006", TWILIO_API_BASE=twilio.base)
        setup, _start = page(app, setup_for, "Queue stuck")
        assert len(twilio.messages) == 1 and "Queue stuck" in twilio.messages[0]["Body"]
        assert "Reply 1" in twilio.messages[0]["Body"]
    assert gateway.requests == []
    assert ledger(setup)[0][:3] == ("page", "sms", "sent")


def test_without_twilio_or_a_gateway_sms_waits_and_says_what_to_set(make_app, database_url, tmp_path, setup_for):
    app = make_app(database_url, tmp_path, BASE_URL=BASE)
    setup, _start = page(app, setup_for)
    (row,) = ledger(setup)
    assert row[2] == "pending" and "CALLGOOSE_SMS_GATEWAY_URL" in row[4] and "CALLGOOSE_TWILIO_ACCOUNT_SID" in row[4]
    assert "\n" not in row[4]
