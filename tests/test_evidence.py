"""Issue 17, item 4: escalate on evidence, not only on the clock.

A page call or SMS carries Twilio's ``StatusCallback``; the fake Twilio calls it back, signed,
as Twilio does, ending each call or SMS as the test says. A page nobody took moves its person
on to their next notification rule at once; an answered one only shows in the ledger.
"""

from __future__ import annotations

import re
import time

import pytest
from helpers import ALERTMANAGER, firing, post, run_jobs


from callgoose import clock
from callgoose.extensions import db
from callgoose.services.catalog import import_config
from callgoose.store.hotpath import to_datetime

BASE = "http://callgoose.test"
PHONE, MOBILE = "+14155550100", "+14155550101"


@pytest.fixture
def app(paging_app):
    return paging_app


def ana(first: dict, then: dict) -> dict:
    """Ana's rules: ``first`` at 0 minutes, ``then`` at 5 if she has not acknowledged; the
    policy's next level (Bo) only after 30 minutes."""
    return {
        "users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [first, then],
                   "notification_rules": [{"contact_method": first["name"], "after_minutes": 0},
                                          {"contact_method": then["name"], "after_minutes": 5}]},
                  {"email": "bo@example.com", "name": "Bo"}],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 30, "targets": [{"user": "ana@example.com"}]},
            {"escalate_after_minutes": 30, "targets": [{"user": "bo@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


CALL = {"name": "phone", "type": "voice", "address": PHONE}
SMS = {"name": "sms", "type": "sms", "address": MOBILE}
MAIL = {"name": "mail", "type": "email", "address": "ana@example.com"}


def start(app, setup_for, doc) -> tuple:
    setup = setup_for(app)
    with app.app_context():
        import_config(doc, clock.now())
    token = setup.token()
    client = app.test_client()
    assert post(client, token, firing("g1", "Disk full")).status_code == 201
    return setup, client, token, time.time()


def ledger(setup) -> dict:
    """channel -> (status, answer, due_at as epoch seconds, id)."""
    return {channel: (status, answer, clock.from_db(to_datetime(due)), nid) for nid, channel, status, answer, due
            in setup.query("SELECT id, channel, status, answer, due_at FROM notifications WHERE kind = 'page' "
                           "ORDER BY id")}


def timeline(setup) -> list:
    return setup.query("SELECT kind, note FROM incident_events WHERE kind = 'not_answered' ORDER BY id")


def incident_page(app, setup, client, add_user, sign_in) -> str:
    sign_in(client, *add_user(app))
    return client.get(f"/incidents/{setup.query('SELECT id FROM incidents')[0][0]}").get_data(as_text=True)


def test_a_call_nobody_answers_sends_the_next_rule_at_the_next_tick(app, setup_for, twilio, add_user, sign_in):
    twilio.ends[PHONE] = "no-answer"
    setup, client, _token, t0 = start(app, setup_for, ana(CALL, SMS))
    run_jobs(app, t0 + 1)
    assert len(twilio.calls) == 1 and twilio.problems == []
    call = twilio.calls[0]
    call_id = ledger(setup)["voice"][3]
    assert call["StatusCallback"] == f"{BASE}/twilio/status/{call_id}"
    assert call["StatusCallbackMethod"] == "POST" and call["StatusCallbackEvent"] == ["answered", "completed"]
    run_jobs(app, t0 + 2)
    assert twilio.messages == []  # on the clock alone, the SMS waits its 5 minutes
    sms_due = ledger(setup)["sms"][2]
    assert sms_due > t0 + 250

    assert twilio.report(client) == [204]  # the completed event: no-answer
    assert [p["CallStatus"] for _url, p, _s in twilio.reported] == ["no-answer"]
    found = ledger(setup)
    assert found["voice"][:2] == ("sent", "no-answer")
    assert found["sms"][0] == "pending" and found["sms"][2] <= time.time()
    run_jobs(app, t0 + 3)  # the next deliver tick
    assert len(twilio.messages) == 1 and twilio.messages[0]["To"] == MOBILE
    assert twilio.messages[0]["StatusCallback"] == f"{BASE}/twilio/status/{ledger(setup)['sms'][3]}"
    assert timeline(setup) == [("not_answered", "Ana's phone call was not answered (no-answer): next method now")]
    # The same report again (Twilio retries a callback it thinks failed) changes nothing more.
    twilio.pending = [(url, params) for url, params, _status in twilio.reported]
    assert twilio.report(client) == [204]
    assert len(timeline(setup)) == 1

    page = incident_page(app, setup, client, add_user, sign_in)
    assert "sent, not answered (no-answer))" in page  # the paging section: "Ana by phone call (sent, …)"
    assert '<strong class="answer">not answered (no-answer)</strong>' in page  # the ledger, in the timeline
    assert "Ana&#39;s phone call was not answered (no-answer): next method now" in page


def test_an_answered_call_shows_in_the_ledger_and_changes_no_timing(app, setup_for, twilio, add_user, sign_in):
    setup, client, _token, t0 = start(app, setup_for, ana(CALL, SMS))
    run_jobs(app, t0 + 1)
    sms_due = ledger(setup)["sms"][2]
    assert twilio.report(client) == [204, 204]
    assert [p["CallStatus"] for _url, p, _s in twilio.reported] == ["in-progress", "completed"]
    found = ledger(setup)
    assert found["voice"][1] == "answered" and found["sms"][1] is None
    assert found["sms"][0] == "pending" and found["sms"][2] == pytest.approx(sms_due, abs=0.001)
    run_jobs(app, t0 + 60)
    assert twilio.messages == [] and timeline(setup) == []
    sign_in(client, *add_user(app))
    page = client.get("/notifications").get_data(as_text=True)
    assert re.search(r'sent \d\d:\d\d:\d\d, <strong class="answer">answered</strong>', page), page
    assert "not answered" not in page


def test_an_undelivered_sms_moves_on_to_the_next_rule(app, setup_for, twilio, smtp):
    twilio.ends[MOBILE] = "undelivered"
    setup, client, _token, t0 = start(app, setup_for, ana(SMS, MAIL))
    run_jobs(app, t0 + 1)
    run_jobs(app, t0 + 2)
    assert len(twilio.messages) == 1 and smtp.mailbox.messages == []
    assert twilio.report(client) == [204, 204]  # sent (nothing to record), then undelivered
    assert [p["MessageStatus"] for _url, p, _s in twilio.reported] == ["sent", "undelivered"]
    assert ledger(setup)["sms"][1] == "undelivered"
    run_jobs(app, t0 + 3)
    assert [m["To"] for m in smtp.mailbox.wait(1)] == ["ana@example.com"]
    assert timeline(setup) == [("not_answered", "Ana's SMS was not answered (undelivered): next method now")]


def test_a_forged_status_callback_is_refused_and_changes_nothing(app, setup_for, twilio):
    twilio.ends[PHONE] = "busy"
    setup, client, _token, t0 = start(app, setup_for, ana(CALL, SMS))
    run_jobs(app, t0 + 1)
    before = ledger(setup)
    assert twilio.report(client, sign=False) == [403]
    assert ledger(setup) == before and before["voice"][1] is None and timeline(setup) == []
    # A signature made with another auth token is as good as none.
    real = twilio.token
    twilio.token = "someone-else"
    twilio.pending = [(url, params) for url, params, _status in twilio.reported]
    assert twilio.report(client) == [403]
    twilio.token = real
    assert ledger(setup) == before
    run_jobs(app, t0 + 3)
    assert twilio.messages == []


def test_a_callback_for_a_gone_notification_or_an_acknowledged_incident_changes_nothing(app, setup_for, twilio):
    twilio.ends[PHONE] = "no-answer"
    setup, client, token, t0 = start(app, setup_for, ana(CALL, SMS))
    run_jobs(app, t0 + 1)
    # No such notification: Twilio gets its 2xx, nothing is written.
    status, _ = twilio._signed_post(client, f"{BASE}/twilio/status/987654",
                                    {"AccountSid": twilio.sid, "CallSid": "CA" + "9" * 32, "CallStatus": "no-answer"})
    assert status == 204
    # Ana acknowledges on the dashboard's API before Twilio reports the call unanswered.
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    acked = client.post(f"/v1/incidents/{incident_id}/acknowledge", headers={"Authorization": f"Bearer {token}"})
    assert acked.status_code == 200
    events = setup.query("SELECT count(*) FROM incident_events")[0][0]
    assert twilio.report(client) == [204]
    assert timeline(setup) == [] and setup.query("SELECT count(*) FROM incident_events")[0][0] == events
    assert ledger(setup)["sms"][0] == "cancelled"
    run_jobs(app, t0 + 3)
    assert twilio.messages == []
    assert setup.query("SELECT status FROM incidents")[0][0] == "acknowledged"


def test_a_pushover_emergency_that_expires_unacknowledged_moves_on(make_app, database_url, tmp_path, setup_for,
                                                                    smtp):
    from providers.misc import PUSHOVER_TOKEN, PUSHOVER_USER, FakePushover

    from callgoose.jobs import receipts

    with FakePushover() as pushover:
        pushover.add_user(PUSHOVER_USER)
        app = make_app(database_url, tmp_path, BASE_URL=BASE, PUSHOVER_APP_TOKEN=PUSHOVER_TOKEN,
                       PUSHOVER_API_BASE=pushover.base, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                       DELIVERY_TIMEOUT_SECONDS=5)
        doc = ana({"name": "push", "type": "pushover", "user_key": PUSHOVER_USER}, MAIL)
        doc["users"][0]["notification_rules"][1]["after_minutes"] = 90  # beyond the emergency's hour
        doc["escalation_policies"][0]["levels"][0]["escalate_after_minutes"] = 120
        setup, _client, _token, t0 = start(app, setup_for, doc)
        run_jobs(app, t0 + 1)
        push = ledger(setup)["pushover"]
        receipt = setup.query("SELECT provider_id FROM notifications WHERE id = :id", id=push[3])[0][0]
        assert receipt in pushover.receipts
        with app.app_context():
            assert receipts.run(db.engine, app.config, t0 + 3700) is None  # still sounding: nothing
            asked = [r for r in pushover.requests if f"/1/receipts/{receipt}.json" in r["path"]]
            assert len(asked) == 1 and asked[0]["query"]["token"] == PUSHOVER_TOKEN
            pushover.expire(receipt)
            assert receipts.run(db.engine, app.config, t0 + 600) is None  # before its hour it cannot have expired
            assert ledger(setup)["pushover"][1] is None
            assert receipts.run(db.engine, app.config, t0 + 3700) == "1 expired Pushover emergencies moved on"
            assert receipts.run(db.engine, app.config, t0 + 3760) is None  # once
        found = ledger(setup)
        assert found["pushover"][1] == "expired" and found["email"][2] == pytest.approx(t0 + 3700, abs=0.001)
        run_jobs(app, t0 + 3701)
        assert [m["To"] for m in smtp.mailbox.wait(1)] == ["ana@example.com"]
        assert timeline(setup) == [("not_answered", "Ana's Pushover was not answered (expired): next method now")]
        with app.app_context():
            db.engine.dispose()


def test_a_pushover_api_that_drips_holds_the_receipts_job_no_longer_than_one_send_deadline(
        make_app, database_url, tmp_path, setup_for, smtp):
    """The receipts job runs in the worker's tick, which escalations and everyone's pages
    share: however many receipts wait and however slowly the API answers, it gives up within
    one send's deadline (the rest are asked next minute)."""
    from providers.misc import PUSHOVER_TOKEN, PUSHOVER_USER, FakePushover
    from receivers import DripReceiver

    from callgoose.jobs import receipts

    with FakePushover() as pushover, DripReceiver(gap=0.5, limit=10) as drip:
        pushover.add_user(PUSHOVER_USER)
        app = make_app(database_url, tmp_path, BASE_URL=BASE, PUSHOVER_APP_TOKEN=PUSHOVER_TOKEN,
                       PUSHOVER_API_BASE=pushover.base, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                       DELIVERY_TIMEOUT_SECONDS=5, DELIVERY_DEADLINE_SECONDS=2)
        doc = ana({"name": "push", "type": "pushover", "user_key": PUSHOVER_USER}, MAIL)
        doc["escalation_policies"][0]["levels"][0]["escalate_after_minutes"] = 120
        setup, client, token, t0 = start(app, setup_for, doc)
        for n, key in enumerate(("g2", "g3", "g4"), start=1):  # four emergencies, each a receipt to ask about
            assert post(client, token, firing(key)).status_code == 201
            run_jobs(app, t0 + 70 * n)  # a minute apart: not one bundle
        assert len(setup.query("SELECT id FROM notifications WHERE channel = 'pushover' AND provider_id IS NOT NULL")) == 4
        app.config["PUSHOVER_API_BASE"] = drip.url.removesuffix("/drip")  # the API now drips every answer
        started = time.monotonic()
        with app.app_context():
            assert receipts.run(db.engine, app.config, t0 + 3700) is None
        assert time.monotonic() - started < 2 + 1.5  # one deadline (2 s), not four
        with app.app_context():
            db.engine.dispose()
