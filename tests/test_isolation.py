"""Isolation in the worker: one slow receiver or one bad message delays or fails nobody else's
page (RELIABILITY.md, "Isolation"). Real parts on loopback: an SMTP server, a webhook receiver
that drips its answer, a Twilio-compatible API, and a real ``serve`` process."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from helpers import ALERTMANAGER, firing, post
from receivers import DripReceiver, FakeTwilio, SmtpServer, WebhookReceiver
from servers import free_port, start_server
from servers import post as post_to
from sqlalchemy import event

from callgoose import clock
from callgoose.delivery import Permanent, Settings, Temporary, twilio, webhook
from callgoose.delivery.deadline import Budget
from callgoose.extensions import db
from callgoose.jobs import deliver
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"


def paged(users: dict[str, list[dict]]) -> dict:
    """A configuration: each user pages on its own service (``<name>-svc``) through its own policy."""
    doc = {"users": [], "escalation_policies": [], "services": []}
    for name, methods in users.items():
        doc["users"].append({"email": f"{name}@example.com", "name": name, "contact_methods": methods,
                             "notification_rules": [{"contact_method": m["name"], "after_minutes": 0}
                                                    for m in methods]})
        doc["escalation_policies"].append({"name": f"{name}-policy", "levels": [
            {"escalate_after_minutes": 60, "targets": [{"user": f"{name}@example.com"}]}]})
        doc["services"].append({**ALERTMANAGER, "name": f"{name}-svc", "escalation_policy": f"{name}-policy"})
    return doc


def mail(name: str) -> list[dict]:
    return [{"name": "mail", "type": "email", "address": f"{name}@example.com"}]


def notifications(setup):
    return setup.query("SELECT id, kind, channel, status, error, attempts, incident_id FROM notifications ORDER BY id")


def test_a_dripping_webhook_send_ends_at_its_deadline():
    """A receiver that answers a byte a second defeats a 5 s read timeout; the send's own
    deadline (here 1 s) ends it, as a temporary failure that says so."""
    settings = Settings(base_url=BASE, webhook_allowed_hosts=frozenset({"127.0.0.1"}), timeout=5)
    outcome = {}

    def send():
        started = time.monotonic()
        try:
            with Budget(1.0):
                webhook.post(settings, receiver.url, b"{}", {})
        except Exception as exc:  # noqa: BLE001 - the test reads what it was
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    with DripReceiver(gap=0.5) as receiver:
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(6)
        assert not sender.is_alive(), "the send outlived its deadline"
    assert isinstance(outcome["error"], Temporary) and "1 s" in str(outcome["error"])
    assert outcome["seconds"] < 2.5


def test_a_dripping_receiver_delays_nobody_else_s_page(make_app, database_url, tmp_path, setup_for):
    """The issue's "done when": while a sender is stuck on Ana's dripping webhook, Bo's and
    Cy's pages (201 -> mail received) arrive within a second, through a real ``serve``."""
    with SmtpServer() as smtp, DripReceiver(gap=1.0, limit=60) as drip:
        app = make_app(database_url, tmp_path, BASE_URL=BASE)
        setup = setup_for(app)
        with app.app_context():
            import_config(paged({"ana": [{"name": "hook", "type": "webhook", "url": drip.url}],
                                 "bo": mail("bo"), "cy": mail("cy")}), clock.now())
        tokens = {name: setup.token(name, f"{name}-svc") for name in ("ana", "bo", "cy")}
        port = free_port()
        server = start_server(database_url, tmp_path, port, 4, CALLGOOSE_SMTP_HOST="127.0.0.1",
                              CALLGOOSE_SMTP_PORT=str(smtp.port), CALLGOOSE_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                              CALLGOOSE_DELIVERY_TIMEOUT_SECONDS="5", CALLGOOSE_BASE_URL=BASE)
        try:
            assert post_to(port, tokens["ana"], firing("a1"))[0] == 201
            assert len(drip.wait(1, timeout=15)) == 1  # a sender now waits on the drip
            for count, name in enumerate(("bo", "cy"), start=1):
                status, _ = post_to(port, tokens[name], firing(f"{name}1"))
                answered = time.time()
                assert status == 201
                smtp.mailbox.wait(count, timeout=10)
                assert len(smtp.mailbox.times) == count, f"{name}'s page did not arrive while the webhook dripped"
                assert smtp.mailbox.messages[-1]["To"] == f"{name}@example.com"
                assert smtp.mailbox.times[-1] - answered < 1.0
        finally:  # a stop lets the send in flight end, at its deadline (20 s)
            server.terminate()
            assert server.wait(40) == 0


def test_a_message_that_cannot_be_built_fails_alone_and_for_good(make_app, database_url, tmp_path, setup_for):
    """A title with a line break (a row stored before titles were made one line) cannot be a
    mail header: that message fails at once and for good; nothing else waits or fails."""
    with SmtpServer() as smtp:
        app = make_app(database_url, tmp_path, BASE_URL=BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
        setup = setup_for(app)
        with app.app_context():
            import_config(paged({"ana": mail("ana"), "bo": mail("bo")}), clock.now())
        client = app.test_client()
        assert post(client, setup.token("ana", "ana-svc"), firing("a1", "disk")).status_code == 201
        assert post(client, setup.token("bo", "bo-svc"), firing("b1", "cpu")).status_code == 201
        with app.app_context(), db.engine.begin() as conn:  # as stored by an older release
            conn.exec_driver_sql("UPDATE incidents SET title = 'disk\nBcc: everyone@example.com' "
                                 "WHERE title = 'disk'")
        with app.app_context():
            deliver.run(db.engine, app.config, time.time() + 1)
        assert len(smtp.mailbox.wait(1)) == 1 and smtp.mailbox.messages[0]["To"] == "bo@example.com"
    ana, bo = notifications(setup)
    assert ana[3] == "failed" and ana[5] == 1 and "could not be built" in ana[4], ana
    assert bo[3] == "sent"


def test_a_failure_is_recorded_while_another_connection_holds_the_database(make_app, sqlite_url, tmp_path,
                                                                           setup_for):
    """SQLite: the database is locked by another connection for two seconds just as a send's
    failure is to be recorded; the failure is still recorded (and retried), never "unknown"."""
    path = sqlite_url.removeprefix("sqlite:///")
    app = make_app(sqlite_url, tmp_path, BASE_URL=BASE, WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    with app.app_context():  # a short busy timeout, so each try of a write fails fast
        event.listen(db.engine, "connect", lambda conn, _r: conn.execute("PRAGMA busy_timeout=50"))
        db.engine.dispose()
    setup = setup_for(app)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def lock_then_answer():  # the receiver takes the database's write lock, then answers 500
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(2.0, lambda: holder.execute("COMMIT")).start()

    with WebhookReceiver(statuses=[500], on_request=lock_then_answer) as receiver:
        with app.app_context():
            import_config(paged({"ana": [{"name": "hook", "type": "webhook", "url": receiver.url}]}),
                          clock.now())
        client = app.test_client()
        assert post(client, setup.token("ana", "ana-svc"), firing("a1")).status_code == 201
        start = time.time()
        with app.app_context():
            deliver.run(db.engine, app.config, start + 1)
            assert len(receiver.requests) == 1
            page = notifications(setup)[0]
            assert page[3] == "pending" and "HTTP 500" in page[4] and page[5] == 1, page
            deliver.run(db.engine, app.config, start + 62)  # past the claim's deadline: retried
    holder.close()
    page = notifications(setup)[0]
    assert page[3] == "sent" and page[5] == 2 and len(receiver.requests) == 2, page


def test_delivery_errors_are_classed_550_and_twilio_4xx_for_good_5xx_and_429_for_later():
    """Review debt: how the senders class what the other side said."""
    settings = Settings(base_url=BASE, smtp_host="127.0.0.1", timeout=5, twilio_from="+15005550006")
    from callgoose.delivery import mail
    from callgoose.engine.messages import Message

    message = Message(subject="s", text="t", html="<p>t</p>", short="t", incident_ids=())
    with SmtpServer() as smtp:
        smtp.mailbox.refuse.add("gone@example.com")
        smtp_settings = Settings(**{**settings.__dict__, "smtp_port": smtp.port})
        with pytest.raises(Permanent, match="550"):
            mail.send(smtp_settings, "gone@example.com", message, "d1")
        assert mail.send(smtp_settings, "here@example.com", message, "d2")
    with FakeTwilio() as fake:
        good = Settings(**{**settings.__dict__, "twilio_account_sid": fake.sid, "twilio_auth_token": fake.token,
                           "twilio_api_base": fake.base})
        with pytest.raises(Permanent, match="HTTP 400: The 'To' number"):
            twilio.send_sms(good, "not-a-number", "hello")
        with pytest.raises(Permanent, match="HTTP 401"):
            twilio.send_sms(Settings(**{**good.__dict__, "twilio_auth_token": "wrong"}), "+14155550100", "x")
        assert twilio.send_sms(good, "+14155550100", "hello").startswith("SM")
    with WebhookReceiver(statuses=[503, 429, 410]) as receiver:
        hook = Settings(base_url=BASE, webhook_allowed_hosts=frozenset({"127.0.0.1"}), timeout=5)
        for expected in (Temporary, Temporary, Permanent):
            with pytest.raises(expected):
                webhook.post(hook, receiver.url, b"{}", {})


def test_a_leader_stuck_in_a_tick_lets_a_standby_take_over(dbapp, monkeypatch):
    """A leader whose tick cannot finish gives up its lease (on PostgreSQL, its advisory lock)
    within about a lease, so a standby takes over; on SQLite the lease row lapses."""
    from callgoose.worker import Worker

    release, entered = threading.Event(), threading.Event()

    def stuck(engine, config, now, keep_alive):  # the first run hangs (a statement, a bug)
        if not entered.is_set():
            entered.set()
            release.wait(60)

    monkeypatch.setattr("callgoose.worker.JOBS", {"stuck": (stuck, 0)})
    dbapp.config["WORKER_LEASE_SECONDS"] = 2
    leader, standby = Worker(dbapp), Worker(dbapp)
    leader.start()
    try:
        assert entered.wait(10)
        began = time.monotonic()
        while not standby.tick() and time.monotonic() - began < 15:
            release.wait(0.2)
        assert standby.leader, "the standby never took over from the stuck leader"
        assert time.monotonic() - began < 2 + 3
    finally:
        release.set()
        leader.stop()
        standby.stop()
