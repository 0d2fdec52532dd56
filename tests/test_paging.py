"""Issue 8: paging people, with real parts on loopback and a controlled clock.

Mail goes to a real SMTP server (aiosmtpd), webhooks to a receiver that checks signatures,
calls and SMS to a Twilio-compatible server. The worker's jobs are called with ``now``.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import ALERTMANAGER, firing, post, resolved
from receivers import SmtpServer, WebhookReceiver, links_in, text_of, verify
from sqlalchemy import text

from callgoose import channels, clock
from callgoose.engine.signing import make_link
from callgoose.extensions import db
from callgoose.jobs import deliver, escalate
from callgoose.services import checks, deliveries, outbox, policies, service_paging
from callgoose.services.catalog import import_config
from callgoose.store.transactions import run_write

BASE = "http://callgoose.test"
WEBHOOK_SECRET = "s3cret-s3cret-s3cret"


def people(policy_levels, *, ana=None, bo=None, service_extra=None):
    """A configuration document: two users with email methods (Ana's may be others, each
    used at 0 minutes), one policy, checkout-api."""
    users = [
        {"email": "ana@example.com", "name": "Ana", "contact_methods": ana or [
            {"name": "mail", "type": "email", "address": "ana@example.com"}],
         **({"notification_rules": [{"contact_method": m["name"], "after_minutes": 0} for m in ana]} if ana else {})},
        {"email": "bo@example.com", "name": "Bo", "contact_methods": bo or [
            {"name": "mail", "type": "email", "address": "bo@example.com"}]},
    ]
    return {"users": users,
            "escalation_policies": [{"name": "checkout", "levels": policy_levels}],
            "services": [{**ALERTMANAGER, "escalation_policy": "checkout", **(service_extra or {})}]}


TWO_LEVELS = [{"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]},
              {"escalate_after_minutes": 5, "targets": [{"user": "bo@example.com"}]}]


def configure(app, doc):
    with app.app_context():
        import_config(doc, clock.now())


def run_jobs(app, now: float) -> None:
    """One worker tick's paging work, at ``now``."""
    with app.app_context():
        escalate.run(db.engine, app.config, now)
        deliver.run(db.engine, app.config, now)


def rows(setup, sql: str, **params):
    return setup.query(sql, **params)


def notifications(setup):
    return rows(setup, "SELECT id, kind, channel, target, status, user_id, incident_id, level, error, delivery_id, "
                       "attempts FROM notifications ORDER BY id")


def test_trigger_pages_level_one_escalates_to_level_two_and_the_mail_link_stops_it(paging_app, setup_for, smtp):
    """The issue's "done when", step by step."""
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    token = setup.token()
    client = paging_app.test_client()
    assert post(client, token, firing("g1", "CPU high")).status_code == 201
    # Times are counted from after the answer (here and below): the page is due from the call's
    # own moment, which a loaded machine can put more than a second after the moment before it.
    start = time.time()
    # The page is a row committed with the incident, before any worker ran.
    queued = notifications(setup)
    assert [(n[1], n[3], n[4], n[7]) for n in queued] == [("page", "ana@example.com", "pending", 0)]

    run_jobs(paging_app, start + 1)
    mails = smtp.mailbox.wait(1)
    assert len(mails) == 1 and mails[0]["To"] == "ana@example.com"
    assert mails[0]["Subject"] == "[Callgoose] P2 HIGH checkout-api: CPU high"
    assert mails[0]["Callgoose-Delivery"] == queued[0][9]
    body = text_of(mails[0])
    assert f"{BASE}/incidents/" in body and mails[0].get_body(("html",)) is not None

    run_jobs(paging_app, start + 5 * 60 - 5)  # not yet: level 1 has 5 minutes
    assert len(smtp.mailbox.messages) == 1
    run_jobs(paging_app, start + 5 * 60 + 2)  # escalation to level 2 is queued ...
    run_jobs(paging_app, start + 5 * 60 + 3)  # ... and sent
    mails = smtp.mailbox.wait(2)
    assert [m["To"] for m in mails] == ["ana@example.com", "bo@example.com"]

    # Ana follows her mail's acknowledge link: the GET asks, only the POST acts.
    ack = next(link for link in links_in(body) if "/l/" in link and "Acknowledge" in body.split(link)[0][-20:])
    path = ack.removeprefix(BASE)
    page = client.get(path)
    assert page.status_code == 200 and b"Acknowledge this incident?" in page.data
    incident_id = rows(setup, "SELECT id FROM incidents")[0][0]
    assert rows(setup, "SELECT status FROM incidents")[0][0] == "triggered"
    done = client.post(path)
    assert done.status_code == 200 and b"acknowledged" in done.data
    assert rows(setup, "SELECT status FROM incidents")[0][0] == "acknowledged"
    assert client.post(path).status_code == 410  # once

    run_jobs(paging_app, start + 10 * 60 + 5)
    run_jobs(paging_app, start + 30 * 60)
    mails = smtp.mailbox.wait(3)
    assert len(mails) == 3  # nothing more was paged; Bo heard that Ana acknowledged
    assert mails[2]["To"] == "bo@example.com" and mails[2]["Subject"].startswith("[Callgoose] Acknowledged by ana@example.com")
    state = rows(setup, "SELECT state, next_at FROM incident_escalations WHERE incident_id = :id", id=incident_id)
    assert state == [("stopped", None)]
    kinds = [r[0] for r in rows(setup, "SELECT kind FROM incident_events WHERE incident_id = :id ORDER BY id",
                                id=incident_id)]
    assert kinds == ["created", "escalated", "acknowledged"]


def test_a_duplicate_a_replay_maintenance_and_a_disabled_service_page_nobody(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    token = setup.token()
    client = paging_app.test_client()
    assert post(client, token, firing("g1")).status_code == 201
    assert post(client, token, firing("g1")).status_code == 208  # a replay (S27)
    assert post(client, token, firing("g1", summary="CPU higher")).status_code == 208  # a duplicate (S26)
    assert len(notifications(setup)) == 1
    # Maintenance (S29): a trigger opens nothing, so it pages nobody.
    with paging_app.app_context():
        from callgoose.services.catalog import find_service, start_maintenance
        from callgoose.store.transactions import write
        write(lambda: start_maintenance(find_service("checkout-api"), [], None, clock.now()))
    assert post(client, token, firing("g2")).status_code == 202  # nothing done (S29)
    assert len(notifications(setup)) == 1
    # A disabled service never notifies either.
    configure(paging_app, people(TWO_LEVELS, service_extra={"enabled": False}))
    assert post(client, token, firing("g3")).status_code == 202
    assert len(notifications(setup)) == 1


def test_a_resolve_from_the_tool_stops_escalation_and_cancels_later_pages(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    doc = people(TWO_LEVELS, ana=[{"name": "mail", "type": "email", "address": "ana@example.com"}])
    doc["users"][0]["notification_rules"] = [{"contact_method": "mail", "after_minutes": 0},
                                             {"contact_method": "mail", "after_minutes": 3}]
    configure(paging_app, doc)
    token = setup.token()
    client = paging_app.test_client()
    assert post(client, token, firing("g1")).status_code == 201
    start = time.time()
    run_jobs(paging_app, start + 1)
    assert post(client, token, resolved("g1")).status_code == 200
    run_jobs(paging_app, start + 4 * 60)
    run_jobs(paging_app, start + 20 * 60)
    statuses = [(n[4], n[8]) for n in notifications(setup) if n[1] == "page"]
    assert statuses == [("sent", None), ("cancelled", "not sent: the incident was resolved first")]
    mails = smtp.mailbox.wait(2)  # no second page; the follow-up says it was resolved
    assert [m["Subject"] for m in mails] == ["[Callgoose] P2 HIGH checkout-api: CPU high",
                                             "[Callgoose] Resolved: checkout-api: CPU high"]


def test_the_policy_is_pinned_when_the_incident_opens(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    token = setup.token()
    client = paging_app.test_client()
    assert post(client, token, firing("g1")).status_code == 201
    start = time.time()
    # The policy now pages only Bo; the open incident keeps Ana then Bo.
    configure(paging_app, people([{"escalate_after_minutes": 5, "targets": [{"user": "bo@example.com"}]}]))
    run_jobs(paging_app, start + 1)
    assert post(client, token, firing("g2")).status_code == 201
    run_jobs(paging_app, start + 70)
    assert sorted(m["To"] for m in smtp.mailbox.wait(2)) == ["ana@example.com", "bo@example.com"]
    pages = [(n[6], n[3]) for n in notifications(setup) if n[1] == "page"]
    assert len({incident for incident, _ in pages}) == 2


def test_after_the_last_level_the_policy_repeats_then_says_nobody_acknowledged(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    doc = people([{"escalate_after_minutes": 1, "targets": [{"user": "ana@example.com"}]}])
    doc["escalation_policies"][0]["repeat"] = 1
    configure(paging_app, doc)
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    start = time.time()
    for minute in range(0, 6):
        run_jobs(paging_app, start + minute * 61 + 1)
    pages = [n for n in notifications(setup) if n[1] == "page"]
    assert len(pages) == 2  # the first pass and one repeat
    assert rows(setup, "SELECT state FROM incident_escalations") == [("finished",)]
    incident_id = rows(setup, "SELECT id FROM incidents")[0][0]
    setup_admin = client
    from callgoose.services.users import add_user
    with paging_app.app_context():
        add_user("admin@example.com", "correct horse", role="admin", now=clock.now())
    setup_admin.post("/login", data={"email": "admin@example.com", "password": "correct horse"})
    page = setup_admin.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Escalation finished, nobody acknowledged." in page
    assert "escalation finished, nobody acknowledged" in page  # the timeline entry


def test_a_target_without_a_verified_method_is_a_visible_event(paging_app, setup_for, smtp, add_user, sign_in):
    setup = setup_for(paging_app)
    configure(paging_app, {"services": [ALERTMANAGER]})
    email, password = add_user(paging_app, "cy@example.com", admin=True)  # default email method, unverified
    with paging_app.app_context():
        uid = rows(setup, "SELECT id FROM users WHERE email = 'cy@example.com'")[0][0]
        policy = policies.save_policy(None, "cy only", 0, [(5, [uid])], clock.now())
        from callgoose.services.catalog import find_service
        service_paging.set_service_policy(find_service("checkout-api").id, policy.id)
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    assert notifications(setup) == []
    assert rows(setup, "SELECT kind, note FROM incident_events WHERE kind = 'unreachable'") == [
        ("unreachable", "cy@example.com (level 1) has no verified contact method for high urgency")]
    sign_in(client, email, password)
    assert "Without a verified contact method: cy@example.com" in client.get("/policies").get_data(as_text=True)


def test_service_webhooks_are_signed_retried_with_backoff_with_one_delivery_id(paging_app, setup_for):
    setup = setup_for(paging_app)
    with WebhookReceiver(WEBHOOK_SECRET, statuses=[500, 503]) as receiver:
        configure(paging_app, people(TWO_LEVELS, service_extra={"webhooks": [
            {"url": receiver.url, "secret": WEBHOOK_SECRET, "events": ["incident.triggered"]}]}))
        client = paging_app.test_client()
        assert post(client, setup.token(), firing("g1")).status_code == 201
        start = time.time()
        run_jobs(paging_app, start + 1)
        event = [n for n in notifications(setup) if n[1] == "event"][0]
        assert event[4] == "pending" and "HTTP 500" in event[8]
        run_jobs(paging_app, start + 20)  # the first retry is due 30 s later, not before
        assert len(receiver.requests) == 1
        run_jobs(paging_app, start + 32)
        assert len(receiver.requests) == 2
        run_jobs(paging_app, start + 32 + 50)  # then 60 s (doubling)
        assert len(receiver.requests) == 2
        run_jobs(paging_app, start + 32 + 61)
        assert len(receiver.requests) == 3 and receiver.requests[2]["answered"] == 200
    event = [n for n in notifications(setup) if n[1] == "event"][0]
    assert event[4] == "sent" and event[10] == 3
    ids = {r["headers"]["Callgoose-Delivery"] for r in receiver.requests}
    assert ids == {event[9]}
    for request in receiver.requests:
        assert request["headers"]["Content-Type"] == "application/json"
        assert verify(WEBHOOK_SECRET, request["headers"]["Callgoose-Signature"], request["body"],
                      now=int(request["headers"]["Callgoose-Signature"].split(",")[0][2:]))
    bodies = [r["json"] for r in receiver.requests]
    assert {json.dumps({k: v for k, v in b.items() if k != "sent_at"}, sort_keys=True) for b in bodies} == {
        json.dumps({k: v for k, v in bodies[0].items() if k != "sent_at"}, sort_keys=True)}
    assert bodies[0]["event"] == "incident.triggered"
    incident = bodies[0]["incident"]
    assert incident["service"] == {"name": "checkout-api"} and incident["status"] == "triggered"
    assert set(incident) == {"id", "service", "title", "description", "status", "urgency", "priority", "mapping_value",
                             "duplicate_count", "created_at", "acknowledged_at", "resolved_at"}
    # The signature is computed per attempt: the three t values follow the clock of each.
    ts = [int(r["headers"]["Callgoose-Signature"].split(",")[0][2:]) for r in receiver.requests]
    assert ts == sorted(ts) and ts[2] - ts[0] >= 90


def test_a_page_that_failed_is_retried_after_30_s_not_held_by_the_methods_minute(paging_app, setup_for):
    """A method's one message a minute counts messages that left, not attempts that failed: a
    page whose send failed did not reach its person, so its retry goes out 30 s later as the
    outbox promises (it waited for the minute before), and a success then holds the next."""
    setup = setup_for(paging_app)
    with WebhookReceiver(statuses=[503]) as receiver:
        configure(paging_app, people(TWO_LEVELS, ana=[{"name": "hook", "type": "webhook", "url": receiver.url}]))
        token = setup.token()
        assert post(paging_app.test_client(), token, firing("g1")).status_code == 201
        start = time.time()
        run_jobs(paging_app, start + 1)
        assert notifications(setup)[0][4] == "pending" and len(receiver.requests) == 1
        run_jobs(paging_app, start + 33)
        assert len(receiver.requests) == 2 and notifications(setup)[0][4] == "sent"
        assert post(paging_app.test_client(), token, firing("g2")).status_code == 201
        run_jobs(paging_app, start + 40)  # the retry reached Ana at +33: the next waits for the minute
        assert len(receiver.requests) == 2
        run_jobs(paging_app, start + 95)
        assert len(receiver.requests) == 3


def test_a_4xx_fails_for_good_and_is_shown_and_a_private_address_is_refused(paging_app, setup_for, make_app,
                                                                          add_user, sign_in):
    setup = setup_for(paging_app)
    with WebhookReceiver(statuses=[404]) as receiver:
        configure(paging_app, people(TWO_LEVELS, service_extra={"webhooks": [
            {"url": receiver.url, "secret": WEBHOOK_SECRET}]}))
        start = time.time()
        client = paging_app.test_client()
        token = setup.token()
        assert post(client, token, firing("g1")).status_code == 201
        run_jobs(paging_app, start + 1)
        run_jobs(paging_app, start + 100)
        assert len(receiver.requests) == 1
    event = [n for n in notifications(setup) if n[1] == "event"][0]
    assert event[4] == "failed" and event[8] == "the receiver answered HTTP 404"
    email, password = add_user(paging_app)
    sign_in(client, email, password)
    page = client.get("/notifications?status=failed").get_data(as_text=True)
    assert "the receiver answered HTTP 404" in page and "Send again" in page
    # Without the allow list, loopback is refused when delivering.
    paging_app.config["WEBHOOK_ALLOWED_HOSTS"] = ""
    assert post(client, token, firing("g2")).status_code == 201
    run_jobs(paging_app, start + 200)
    refused = [n for n in notifications(setup) if n[1] == "event"][-1]
    assert refused[4] == "failed" and "loopback, private or link-local" in refused[8]


def test_a_call_reads_the_title_and_a_keypress_acknowledges(paging_app, setup_for, twilio):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS, ana=[{"name": "phone", "type": "voice", "address": "+14155550100"}]))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "Disk full")).status_code == 201
    start = time.time()
    run_jobs(paging_app, start + 1)
    assert len(twilio.calls) == 1 and twilio.problems == [], notifications(setup)
    call = twilio.calls[0]
    assert call["To"] == "+14155550100" and call["From"] == "+15005550006" and call["Method"] == "POST"
    assert call["Url"].startswith(f"{BASE}/twilio/voice/")
    # A callback without Twilio's signature changes nothing.
    forged = client.post(call["Url"].removeprefix(BASE) + "/keypress", data={"Digits": "1", "CallSid": call["sid"]})
    assert forged.status_code == 403
    assert rows(setup, "SELECT status FROM incidents")[0][0] == "triggered"
    twiml, answer = twilio.answer(client, call, "1")
    assert "Disk full" in twiml.find("Gather").find("Say").text
    assert "Acknowledged 1 incident" in answer.find("Say").text
    assert rows(setup, "SELECT status FROM incidents")[0][0] == "acknowledged"
    actor = rows(setup, "SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert actor == "ana@example.com (phone keypress)"


def test_an_sms_reply_resolves_and_3_escalates_now(paging_app, setup_for, twilio, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS, ana=[{"name": "sms", "type": "sms", "address": "+14155550101"}]))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "Queue stuck")).status_code == 201
    start = time.time()
    run_jobs(paging_app, start + 1)
    assert len(twilio.messages) == 1
    sms = twilio.messages[0]
    assert sms["To"] == "+14155550101" and "Queue stuck" in sms["Body"] and "Reply 1" in sms["Body"]
    status, text = twilio.reply_sms(client, f"{BASE}/twilio/sms", "+14155550101", "3", sign=False)
    assert status == 403
    status, text = twilio.reply_sms(client, f"{BASE}/twilio/sms", "+14155550101", "3")
    assert status == 200 and "Escalated 1 incident" in text
    run_jobs(paging_app, start + 2)  # level 2 is paged at once, not after 5 minutes
    run_jobs(paging_app, start + 3)
    assert [m["To"] for m in smtp.mailbox.wait(1)] == ["bo@example.com"]
    status, text = twilio.reply_sms(client, f"{BASE}/twilio/sms", "+14155550101", "2")
    assert status == 200 and "Resolved 1 incident" in text
    assert rows(setup, "SELECT status FROM incidents")[0][0] == "resolved"


def test_a_sender_that_died_mid_send_leaves_outcome_unknown_never_resent(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    start = time.time()
    with paging_app.app_context():  # a worker claims the page, then dies before sending or recording
        claimed = run_write(db.engine, lambda cursor: outbox.claim(cursor, start + 1))
    assert len(claimed.batches) == 1
    run_jobs(paging_app, start + 30)  # still within the deadline: left alone
    assert notifications(setup)[0][4] == "sending"
    run_jobs(paging_app, start + 62)
    page = notifications(setup)[0]
    assert page[4] == "unknown" and "outcome unknown" in page[8]
    run_jobs(paging_app, start + 200)
    assert smtp.mailbox.messages == [] and notifications(setup)[0][4] == "unknown"
    # A person can send it again; that is a new delivery.
    with paging_app.app_context():
        assert deliveries.resend(page[0], start + 201)
    run_jobs(paging_app, start + 202)
    assert len(smtp.mailbox.wait(1)) == 1


def test_an_alert_storm_reaches_a_person_as_a_few_messages(paging_app, setup_for, smtp, twilio):
    """100 incidents in a minute: one mail at once, one bundle a minute later; calls capped at
    three per quarter hour."""
    setup = setup_for(paging_app)
    configure(paging_app, people(
        [{"escalate_after_minutes": 60, "targets": [{"user": "ana@example.com"}]}],
        ana=[{"name": "mail", "type": "email", "address": "ana@example.com"},
             {"name": "phone", "type": "voice", "address": "+14155550100"}]))
    doc_rules = [{"contact_method": "mail", "after_minutes": 0}, {"contact_method": "phone", "after_minutes": 0}]
    doc = people([{"escalate_after_minutes": 60, "targets": [{"user": "ana@example.com"}]}],
                 ana=[{"name": "mail", "type": "email", "address": "ana@example.com"},
                      {"name": "phone", "type": "voice", "address": "+14155550100"}])
    doc["users"][0]["notification_rules"] = doc_rules
    configure(paging_app, doc)
    client = paging_app.test_client()
    token = setup.token()
    assert post(client, token, firing("g0")).status_code == 201
    start = time.time()
    run_jobs(paging_app, start + 1)
    for i in range(1, 100):
        assert post(client, token, firing(f"g{i}")).status_code == 201
        if i % 10 == 0:
            run_jobs(paging_app, start + 1 + i * 0.5)
    for second in range(60, 60 * 30, 30):
        run_jobs(paging_app, start + second)
    queued = [n for n in notifications(setup) if n[1] == "page"]
    assert len(queued) == 200 and {n[4] for n in queued} == {"sent"}
    mails = smtp.mailbox.wait(2)
    assert len(mails) == 2, [m["Subject"] for m in mails]
    assert "99 updates" in mails[1]["Subject"]
    print("storm:", len(queued), "pages queued;", len(mails), "mails:", [m["Subject"] for m in mails],
          len(twilio.calls), "calls")
    assert len(twilio.calls) == 2  # the first at once, the rest bundled a minute later


def test_verification_code_arrives_by_mail_and_verifies(paging_app, setup_for, smtp, add_user, sign_in):
    email, password = add_user(paging_app, "dee@example.com", admin=False)
    client = paging_app.test_client()
    sign_in(client, email, password)
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "not verified" in page and "No verified contact method" in page
    method_id = int(re.search(r'id="method-(\d+)"', page).group(1))
    assert client.post(f"/notifications/me/methods/{method_id}/code").status_code == 302
    run_jobs(paging_app, time.time())
    code = re.search(r"\b(\d{6})\b", text_of(smtp.mailbox.wait(1)[0])).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": "000000" if code != "000000" else "1"})
    assert "not verified" in client.get("/notifications/me").get_data(as_text=True)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "not verified" not in page and ">verified<" in page
    setup = setup_for(paging_app)
    assert rows(setup, "SELECT body FROM notifications WHERE kind = 'verify'") == [(None,)]  # the code is not kept


def test_a_test_notification_reaches_a_slack_webhook(paging_app, setup_for, add_user, sign_in):
    email, password = add_user(paging_app, "eve@example.com", admin=False)
    client = paging_app.test_client()
    sign_in(client, email, password)
    with WebhookReceiver() as receiver:
        client.post("/notifications/me/methods", data={"name": "team chat", "type": "webhook",
                                                       "address": receiver.url, "format": "slack"})
        page = client.get("/notifications/me").get_data(as_text=True)
        method_id = int(re.findall(r'id="method-(\d+)"', page)[-1])
        client.post(f"/notifications/me/methods/{method_id}/test")
        run_jobs(paging_app, time.time())
        assert len(receiver.requests) == 1
    assert set(receiver.requests[0]["json"]) == {"text"} and "Test notification" in receiver.requests[0]["json"]["text"]
    assert "Last delivery:" in client.get("/notifications/me").get_data(as_text=True)


def test_ingestion_does_not_wait_for_a_dead_mail_server(make_app, sqlite_url, tmp_path, setup_for):
    app = make_app(sqlite_url, tmp_path, BASE_URL=BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=1)
    setup = setup_for(app)
    configure(app, people(TWO_LEVELS))
    client = app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    start = time.time()
    run_jobs(app, start + 1)
    page = notifications(setup)[0]
    assert page[4] == "pending" and "could not be reached" in page[8]


def test_links_are_signed_expire_and_say_so(paging_app, setup_for):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    incident_id = rows(setup, "SELECT id FROM incidents")[0][0]
    old = make_link("test", incident_id, "acknowledge", None, time.time() - 25 * 3600)
    page = client.get(f"/l/{old}")
    assert page.status_code == 410 and b"expired" in page.data and b"Sign in" in page.data
    forged = make_link("another key", incident_id, "resolve", None, time.time())
    assert client.post(f"/l/{forged}").status_code == 410
    assert rows(setup, "SELECT status FROM incidents")[0][0] == "triggered"


def test_configuration_round_trip_keeps_the_oncall_part(paging_app, setup_for):
    doc = people(TWO_LEVELS, ana=[{"name": "mail", "type": "email", "address": "ana@example.com"},
                                  {"name": "phone", "type": "sms", "address": "+14155550100"}],
                 service_extra={"webhooks": [{"url": "https://hooks.example.com/x", "secret": WEBHOOK_SECRET}]})
    configure(paging_app, doc)
    runner = paging_app.test_cli_runner()
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    ana = exported["users"][0]
    assert ana["contact_methods"][1] == {"name": "phone", "type": "sms", "address": "+14155550100"}
    assert ana["notification_rules"] == [{"contact_method": "mail", "after_minutes": 0, "urgency": ["high", "low"]},
                                         {"contact_method": "phone", "after_minutes": 0, "urgency": ["high", "low"]}]
    assert exported["escalation_policies"] == [{"name": "checkout", "repeat": 0, "levels": TWO_LEVELS}]
    service = exported["services"][0]
    assert service["escalation_policy"] == "checkout"
    assert service["webhooks"] == [{"url": "https://hooks.example.com/x", "secret": WEBHOOK_SECRET,
                                    "events": ["incident.triggered", "incident.acknowledged", "incident.resolved",
                                               "incident.escalated"], "format": "json"}]
    configure(paging_app, exported)
    assert json.loads(runner.invoke(args=["export-config"]).stdout) == exported
    assert rows(setup_for(paging_app), "SELECT count(*) FROM contact_methods WHERE verified_at IS NULL") == [(0,)]


@pytest.mark.parametrize("doc, path", [
    ({"users": [{"email": "x"}], "services": []}, "users[0].email"),
    ({"users": [{"email": "a@b.co", "contact_methods": [{"name": "p", "type": "sms", "address": "0800"}]}],
      "services": []}, "users[0].contact_methods[0].address"),
    ({"escalation_policies": [{"name": "p", "levels": [{"escalate_after_minutes": 0,
                                                        "targets": [{"user": "a@b.co"}]}]}], "services": []},
     "escalation_policies[0].levels[0].escalate_after_minutes"),
    ({"escalation_policies": [{"name": "p", "levels": [{"escalate_after_minutes": 5,
                                                        "targets": [{"user": "nobody@b.co"}]}]}], "services": []},
     "escalation_policies[0].levels[0].targets[0].user"),
    ({"services": [{"name": "s", "escalation_policy": "missing"}]}, "services[0].escalation_policy"),
    ({"services": [{"name": "s", "webhooks": [{"url": "https://x.example"}]}]}, "services[0].webhooks[0].secret"),
])
def test_import_faults_name_their_path(paging_app, doc, path):
    runner = paging_app.test_cli_runner()
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(doc, fh)
    result = runner.invoke(args=["import-config", fh.name])
    assert result.exit_code == 1 and path in result.output, result.output


def call_at(app, token: str, body: dict, now: float) -> int:
    """A call from a tool at ``now`` (the service layer, with the controlled clock)."""
    from callgoose.services.ingestion import open_call, process_call
    with app.app_context():
        opened = open_call(db.engine, app.extensions["callgoose_specs"], token)
        return process_call(db.engine, opened[0], opened[1], json.dumps(body).encode(), "application/json", None,
                            now, 300).status


def test_at_most_three_calls_per_person_per_quarter_hour(paging_app, setup_for, twilio):
    setup = setup_for(paging_app)
    configure(paging_app, people([{"escalate_after_minutes": 60, "targets": [{"user": "ana@example.com"}]}],
                                 ana=[{"name": "phone", "type": "voice", "address": "+14155550100"}]))
    token = setup.token()
    start = time.time()
    sent_at = []
    for second in range(0, 20 * 60, 10):
        now = start + second
        if second % 70 == 0 and second <= 420:  # an incident every 70 s: 7 of them
            assert call_at(paging_app, token, firing(f"g{second}"), now) == 201
        before = len(twilio.calls)
        run_jobs(paging_app, now)
        sent_at += [second] * (len(twilio.calls) - before)
    # 0, 70, 140: three calls; the fourth waits until the first leaves the quarter hour, and
    # carries every incident that opened meanwhile.
    assert sent_at[:3] == [0, 70, 140] and sent_at[3] in (900, 910) and len(sent_at) == 4  # within one tick
    pages = [n for n in notifications(setup) if n[1] == "page"]
    assert len(pages) == 7 and {n[4] for n in pages} == {"sent"}


@pytest.mark.slow
def test_a_worker_process_killed_while_sending_loses_no_page_and_doubles_none(make_app, database_url, tmp_path,
                                                                            setup_for):
    """A real ``flask worker`` process is killed (SIGKILL) while its SMTP conversation hangs;
    the page is then "outcome unknown" (never silently resent), and nothing else is lost."""
    import os
    import signal
    import socket
    import threading

    from servers import start_worker

    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(8)
    accepted = []

    def accept():  # takes connections and never says a word: the sender hangs in the greeting
        while True:
            try:
                conn, _ = stall.accept()
            except OSError:
                return
            accepted.append(conn)
    threading.Thread(target=accept, daemon=True).start()
    port = stall.getsockname()[1]
    app = make_app(database_url, tmp_path, BASE_URL=BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                   DELIVERY_TIMEOUT_SECONDS=30)
    setup = setup_for(app)
    configure(app, people([{"escalate_after_minutes": 60, "targets": [{"user": "ana@example.com"}]}]))
    client = app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    worker = start_worker(database_url, tmp_path, CALLGOOSE_SMTP_HOST="127.0.0.1", CALLGOOSE_SMTP_PORT=str(port),
                          CALLGOOSE_DELIVERY_TIMEOUT_SECONDS="30")
    try:
        deadline = time.time() + 30
        while time.time() < deadline and (notifications(setup)[0][4] != "sending" or not accepted):
            time.sleep(0.1)
        assert notifications(setup)[0][4] == "sending" and len(accepted) == 1
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    assert notifications(setup)[0][4] == "sending"  # the row says a send was under way
    later = time.time() + 120  # past the deadline, another worker's tick
    run_jobs(app, later)
    page = notifications(setup)[0]
    assert page[4] == "unknown" and "outcome unknown" in page[8]
    run_jobs(app, later + 600)
    assert len(accepted) == 1 and notifications(setup)[0][4] == "unknown"  # not resent
    assert len(notifications(setup)) == 1  # and nothing else appeared or went missing
    stall.close()
    for conn in accepted:
        conn.close()


def test_a_mail_link_never_reaches_a_log():
    from callgoose.logs import redact
    link = make_link("k", 12, "acknowledge", 3, time.time())
    assert redact(f'"GET /l/{link} HTTP/1.1" 200') == '"GET /l/[REDACTED] HTTP/1.1" 200'


def test_retention_drops_old_tests_and_codes_and_keeps_pages(paging_app, setup_for, add_user, sign_in):
    from callgoose.services.retention import prune
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    start = time.time()
    sign_in(client, *add_user(paging_app))
    method_id = setup.query("SELECT id FROM contact_methods WHERE name = 'Email'")[0][0]
    client.post(f"/notifications/me/methods/{method_id}/test")
    # The test message is queued at the real time of the request, which on a loaded machine can be
    # more than a second after ``start``: the worker runs as of a moment after both were queued.
    run_jobs(paging_app, time.time() + 1)
    assert sorted(r[0:2] for r in setup.query("SELECT kind, status FROM notifications")) == [
        ("page", "sent"), ("test", "sent")]
    with paging_app.app_context():
        result = prune(db.engine, start + 31 * 86400, 30, 300)
    assert result.notifications == 1
    assert [r[0] for r in setup.query("SELECT kind FROM notifications")] == ["page"]


def test_my_notifications_says_when_mail_or_twilio_is_not_configured(make_app, sqlite_url, tmp_path, add_user,
                                                                     sign_in):
    app = make_app(sqlite_url, tmp_path)
    client = app.test_client()
    sign_in(client, *add_user(app))
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "Mail is not set up on this server" in page
    hint = re.search(r"Not set up on this server:(.*?)</p>", page, re.S).group(1)
    assert ("SMS (<code>CALLGOOSE_TWILIO_ACCOUNT_SID, CALLGOOSE_TWILIO_AUTH_TOKEN, CALLGOOSE_TWILIO_FROM</code>, "
            "or <code>CALLGOOSE_SMS_GATEWAY_URL</code>)") in hint  # either sends SMS
    assert "Phone call (<code>CALLGOOSE_TWILIO_ACCOUNT_SID" in hint and "Email" not in hint and "Webhook" not in hint
    assert "Telegram (<code>CALLGOOSE_TELEGRAM_BOT_TOKEN</code>)" in hint
    every = {name: "x" for channel in channels.REGISTRY.values() for name in channel.needs}  # push apps' too
    configured = make_app(sqlite_url, tmp_path, **{**every, "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
                                                   "TWILIO_FROM": "+1555"})
    client = configured.test_client()
    sign_in(client, "admin@example.com", "correct horse")
    assert "Not set up on this server:" not in client.get("/notifications/me").get_data(as_text=True)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_goes_over_starttls_or_implicit_tls_with_a_login(make_app, sqlite_url, tmp_path, setup_for,
                                                             monkeypatch, security):
    """CALLGOOSE_SMTP_SECURITY: the certificate is checked (the test's own CA file is trusted
    through SSL_CERT_FILE) and the login goes over the encrypted connection."""
    import shutil
    import ssl

    from aiosmtpd.smtp import AuthResult
    from receivers import self_signed
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        logins.append((auth_data.login, auth_data.password, encrypted))
        return AuthResult(success=auth_data.login == b"pager" and auth_data.password == b"pw")
    # aiosmtpd offers AUTH under implicit TLS only with auth_require_tls off (it only knows of
    # STARTTLS); the connection is TLS from its first byte either way.
    options = ({"tls_context": context, "require_starttls": True, "auth_require_tls": True} if security == "starttls"
               else {"ssl_context": context, "server_hostname": "127.0.0.1", "auth_require_tls": False})
    with SmtpServer(authenticator=authenticate, **options) as smtp:
        app = make_app(sqlite_url, tmp_path, BASE_URL=BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                       SMTP_SECURITY=security, SMTP_USERNAME="pager", SMTP_PASSWORD="pw")
        setup = setup_for(app)
        configure(app, people(TWO_LEVELS))
        client = app.test_client()
        assert post(client, setup.token(), firing("g1")).status_code == 201
        start = time.time()
        run_jobs(app, start + 1)
        assert [m["To"] for m in smtp.mailbox.wait(1)] == ["ana@example.com"], notifications(setup)
    assert logins == [(b"pager", b"pw", True)]
    assert notifications(setup)[0][4] == "sent"


def test_text_settings_from_the_environment_stay_text(monkeypatch, tmp_path):
    """CALLGOOSE_SMTP_PASSWORD=12345 is a password, not a number (the environment is otherwise
    read as JSON where it parses)."""
    from callgoose import create_app
    from callgoose.delivery import Settings
    monkeypatch.setenv("CALLGOOSE_SMTP_PASSWORD", "12345")
    monkeypatch.setenv("CALLGOOSE_TWILIO_AUTH_TOKEN", "1e3")
    monkeypatch.setenv("CALLGOOSE_SMTP_PORT", "2525")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "t"})
    settings = Settings.from_config(app.config)
    assert settings.smtp_password == "12345" and settings.twilio_auth_token == "1e3" and settings.smtp_port == 2525
    assert Settings.from_config({"SMTP_PASSWORD": 12345}).smtp_password == "12345"  # instance/config.py


SPOKEN = {  # language: the <Say> language, how the call starts, what pressing 1 answers
    "de": ("de-DE", "Callgoose-Alarm. Dringlichkeit hoch. ", "1 Vorfall bestätigt."),
    "ja": ("ja-JP", "Callgoose からのアラートです。緊急度", "インシデント1件を確認しました。"),
}


@pytest.mark.parametrize("language", sorted(SPOKEN))
def test_a_call_speaks_the_person_s_language(paging_app, setup_for, twilio, language):
    """Issue 10, item 10, and issue 21: the call, and what a keypress did, in the called
    person's language, in that language's voice (the fake Twilio refuses a voice that does
    not speak the ``language`` given, as Twilio does)."""
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS, ana=[{"name": "phone", "type": "voice", "address": "+14155550100"}]))
    with paging_app.app_context():
        from callgoose.extensions import db
        from callgoose.store.models import User
        db.session.execute(db.update(User).where(User.email == "ana@example.com").values(language=language))
        db.session.commit()
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "Platte voll")).status_code == 201
    start = time.time()
    run_jobs(paging_app, start + 1)
    twiml, answer = twilio.answer(client, twilio.calls[0], "1")
    said = twiml.find("Gather").find("Say")
    tts, opening, reply_text = SPOKEN[language]
    assert said.get("language") == tts and said.get("voice") == f"Google.{tts}-Standard-A"
    assert said.text.startswith(opening) and "Platte voll" in said.text
    if language == "de":
        assert "Drücken Sie 1 zum Bestätigen, 2 zum Beheben, 3 zum Eskalieren." in said.text
    reply = answer.find("Say")
    assert reply.get("language") == tts and reply.text == reply_text


def test_a_language_without_a_voice_is_called_in_english():
    """Issue 21, item 5: where the provider has no voice for a language (Croatian), the call
    speaks English in an English voice, not Croatian words in a voice that cannot say them."""
    from callgoose.engine import languages
    assert languages.spoken("hr") == "en" and languages.voice("hr") == ("en-US", "Google.en-US-Standard-A")
    assert languages.spoken("ja") == "ja" and languages.voice("ja") == ("ja-JP", "Google.ja-JP-Standard-A")
    assert languages.voice("zh-Hant") == ("cmn-TW", "Google.cmn-TW-Standard-A")
    without = [found.code for found in languages.TABLE if found.voice is None]
    assert without == ["hr"]


def test_a_page_and_a_code_reach_a_person_in_their_language(paging_app, setup_for, smtp):
    """Issue 10, item 10: what the outbox sends is worded in the recipient's language (their
    choice on /settings); a person who chose none gets English."""
    setup = setup_for(paging_app)
    configure(paging_app, people([{"escalate_after_minutes": 5, "targets": [
        {"user": "ana@example.com"}, {"user": "bo@example.com"}]}]))
    with paging_app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE users SET language = 'de' WHERE email = 'ana@example.com'"))
        ana = rows(setup, "SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
        method = rows(setup, "SELECT id FROM contact_methods WHERE user_id = :id", id=ana)[0][0]
        checks.send_code(ana, method, clock.now(), paging_app.config["SECRET_KEY"])
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "CPU high")).status_code == 201
    start = time.time()
    run_jobs(paging_app, start + 1)
    mails = smtp.mailbox.wait(3)
    german = next(m for m in mails if m["To"] == "ana@example.com" and "HOCH" in m["Subject"])
    assert german["Subject"] == "[Callgoose] P2 HOCH checkout-api: CPU high"
    body = text_of(german)
    assert "Öffnen:" in body and "Bestätigen:" in body and "Beheben:" in body
    assert "Die Links zum Bestätigen und Beheben funktionieren einmal" in body and "Acknowledge" not in body
    code = next(m for m in mails if m["To"] == "ana@example.com" and "Bestätigungscode" in m["Subject"])
    assert "Geben Sie ihn innerhalb von 15 Minuten" in text_of(code)
    english = next(m for m in mails if m["To"] == "bo@example.com")
    assert english["Subject"] == "[Callgoose] P2 HIGH checkout-api: CPU high" and "Acknowledge:" in text_of(english)
