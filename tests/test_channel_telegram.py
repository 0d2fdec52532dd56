"""Issue 17: the ``telegram`` contact method against the fake Bot API (tests/providers/telegram.py).

A page arrives as plain text with Acknowledge / Resolve buttons; a press acts as the person
whose chat it is, by webhook (the fake POSTs the update to a live server, with its secret
header) or by the worker's long poll, and shows "via Telegram" on the timeline. When someone
else acts, the page is rewritten to show it. Codes, tests, retries and permanent failures go
through the outbox like every channel's.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from helpers import ALERTMANAGER, firing, post, resolved, run_jobs
from providers.telegram import FakeTelegram
from receivers import free_port
from werkzeug.serving import make_server

from callgoose import clock
from callgoose.channels import telegram
from callgoose.engine.rules import SpecError
from callgoose.engine.signing import is_action, read_action
from callgoose.extensions import db
from callgoose.jobs import deliver
from callgoose.jobs import telegram as telegram_job
from callgoose.services.catalog import current_config, import_config
from callgoose.worker import Worker

CHAT, OTHER = 7001, 7002
BASE = "http://callgoose.test"


@pytest.fixture
def tg():
    with FakeTelegram(loopback_webhooks=True, webhook_retry_delay=0.05) as fake:
        fake.add_chat(CHAT, CHAT, "Ana", "ana")
        fake.add_chat(OTHER, OTHER, "Bo", "bo")
        yield fake


def telegram_app(make_app, database_url, tmp_path, tg, base=BASE, **config):
    return make_app(database_url, tmp_path, BASE_URL=base, TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_BASE=tg.base,
                    DELIVERY_TIMEOUT_SECONDS=5, **config)


def document(chat_id="7001") -> dict:
    """Ana is paged on Telegram at once for checkout-api (imported methods count as verified)."""
    return {"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [
        {"name": "phone", "type": "telegram", "chat_id": chat_id}],
        "notification_rules": [{"contact_method": "phone", "after_minutes": 0}]}],
        "escalation_policies": [{"name": "p", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "p"}]}


def configure(app, doc):
    with app.app_context():
        import_config(doc, clock.now())


def page(app, setup, title="CPU high", key="g1", token=None, at=None):
    """Open an incident that pages Ana and send the page (at ``at``, else a second from now);
    (incident id, token, when it was sent)."""
    token = token or setup.token()
    assert post(app.test_client(), token, firing(key, title)).status_code == 201
    at = at or time.time() + 1
    run_jobs(app, at)
    incident_id = setup.query("SELECT max(id) FROM incidents")[0][0]
    return incident_id, token, at


def buttons(message: dict) -> dict:
    return {b["text"]: b["callback_data"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row}


def deliver_update(client, update: dict, secret: str | None, path="/telegram/webhook"):
    """What the fake Telegram POSTs to a webhook: the update, with the secret header."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post(path, json=update, headers=headers)


def ledger(setup):
    return setup.query("SELECT kind, status, error, provider_id FROM notifications ORDER BY id")


# ---- the configuration document and the form --------------------------------------------------

def test_the_document_takes_a_chat_id_and_names_a_bad_one_by_its_path(dbapp):
    configure(dbapp, document(chat_id=7001))  # a number in JSON is fine too
    with dbapp.app_context():
        (user,) = current_config()["users"]
        assert user["contact_methods"] == [{"name": "phone", "type": "telegram", "chat_id": "7001"}]
        for bad in ("@ana", "-1001234567890", "12ab", "0", True, "1" * 17, ""):
            with pytest.raises(SpecError) as caught:
                import_config(document(chat_id=bad), clock.now())
            assert caught.value.path == "users[0].contact_methods[0].chat_id", bad
            assert ("is required" if bad == "" else "numeric chat id") in str(caught.value.message), bad


@pytest.fixture
def at(monkeypatch):
    """The dashboard's clock, moved by hand: ``at[0]``."""
    moment = [time.time()]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


def test_my_notifications_adds_it_and_its_code_and_test_arrive_in_the_chat(make_app, database_url, tmp_path, tg,
                                                                          setup_for, add_user, sign_in, at):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    setup = setup_for(app)
    client = app.test_client()
    sign_in(client, *add_user(app, "ana@example.com", admin=False))
    mine = client.get("/notifications/me").get_data(as_text=True)
    assert 'id="add-telegram"' in mine and "send it /start" in mine
    added = client.post("/notifications/me/methods", data={"name": "phone", "type": "telegram", "address": "7001"},
                        follow_redirects=True)
    assert added.status_code == 200
    refused = client.post("/notifications/me/methods", data={"name": "bad", "type": "telegram", "address": "@ana"},
                          follow_redirects=True).get_data(as_text=True)
    assert "numeric chat id" in refused
    ((method_id, address, verified),) = setup.query(
        "SELECT id, address, verified_at FROM contact_methods WHERE channel = 'telegram'")
    assert address == "7001" and verified is None

    assert "Code queued" in client.post(f"/notifications/me/methods/{method_id}/code",
                                        follow_redirects=True).get_data(as_text=True)
    with app.app_context():
        deliver.run(db.engine, app.config, at[0] + 1)
    (sent,) = tg.sent(CHAT)
    code = re.search(r"verification code is (\d{6})", sent["text"]).group(1)
    assert "reply_markup" not in sent
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    assert setup.query("SELECT verified_at FROM contact_methods WHERE id = :id", id=method_id)[0][0] is not None

    at[0] += 61  # one code or test a minute per method
    assert "Test notification queued" in client.post(f"/notifications/me/methods/{method_id}/test",
                                                     follow_redirects=True).get_data(as_text=True)
    with app.app_context():
        deliver.run(db.engine, app.config, at[0] + 1)
    test_message = tg.sent(CHAT)[-1]
    assert test_message["text"].startswith("Test notification from Callgoose to phone")
    assert [(k, s) for k, s, _e, _p in ledger(setup)] == [("verify", "sent"), ("test", "sent")]
    assert ledger(setup)[-1][3] == f"{CHAT}:{test_message['message_id']}"


def test_the_add_form_as_the_page_renders_it_adds_the_method(make_app, database_url, tmp_path, tg, setup_for,
                                                             add_user, sign_in):
    """What a browser sends: the form's own input names, filled in."""
    app = telegram_app(make_app, database_url, tmp_path, tg)
    client = app.test_client()
    sign_in(client, *add_user(app, "ana@example.com", admin=False))
    mine = client.get("/notifications/me").get_data(as_text=True)
    form = re.search(r'<details [^>]*id="add-telegram".*?</form>', mine, re.S).group(0)
    fields = {}
    for tag in re.findall(r"<input [^>]*>", form):
        value = re.search(r'value="([^"]*)"', tag)
        fields[re.search(r'name="([^"]+)"', tag).group(1)] = value.group(1) if value else ""
    assert set(fields) == {"csrf_token", "user_id", "type", "name", "address"}, fields
    assert fields["type"] == "telegram"
    sent = {**fields, "name": "phone", "address": "7001"}
    page = client.post("/notifications/me/methods", data=sent, follow_redirects=True).get_data(as_text=True)
    assert "Added phone." in page
    assert setup_for(app).query("SELECT channel, address FROM contact_methods WHERE name = 'phone'") == [
        ("telegram", "7001")]


# ---- webhook mode: the fake POSTs the press to a live server ----------------------------------

@pytest.fixture
def live(make_app, database_url, tmp_path, tg):
    """An app served on a loopback port (BASE_URL is its address), for the fake to POST to."""
    port = free_port()
    app = telegram_app(make_app, database_url, tmp_path, tg, base=f"http://127.0.0.1:{port}")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    thread.join(5)


def test_a_page_has_buttons_and_a_press_by_webhook_acts_as_the_person_via_telegram(live, tg, setup_for):
    app = live
    base = app.config["BASE_URL"]
    setup = setup_for(app)
    configure(app, document())
    answer = app.test_cli_runner().invoke(args=["telegram-webhook"])
    assert answer.exit_code == 0, answer.output
    assert f"Telegram sends the bot's updates to {base}/telegram/webhook" in answer.output
    assert tg.webhook["url"] == f"{base}/telegram/webhook"
    assert tg.webhook["secret_token"] == telegram.webhook_secret("test", tg.token)

    incident_id, _token, _start = page(app, setup, "CPU high")
    (message,) = tg.sent(CHAT)
    head, link, *below = message["text"].splitlines()
    assert (head, link) == ("P2 HIGH checkout-api: CPU high", f"{base}/incidents/{incident_id}")
    assert below[0] == "cpu at 99%" and below[-1].startswith("Opened ")  # the page's facts
    (send,) = tg.calls("sendMessage")
    assert "parse_mode" not in send["params"] and str(send["params"]["chat_id"]) == str(CHAT)
    keys = buttons(message)
    assert list(keys) == ["Acknowledge", "Resolve"]
    for action, data in zip(("acknowledge", "resolve"), keys.values()):
        assert is_action(data) and len(data.encode()) <= 64
        fields = read_action("test", data, time.time())
        assert fields["action"] == action and fields["whole"] is True
    assert ledger(setup) == [("page", "sent", None, f"{CHAT}:{message['message_id']}")]

    tg.press(CHAT, message["message_id"], keys["Acknowledge"])
    tg.wait_until(lambda: len(tg.callback_answers) == 1)
    assert tg.callback_answers[0]["text"] == "Acknowledged"
    tg.wait_until(lambda: tg.deliveries)  # recorded once our answer is back
    assert [d["status"] for d in tg.deliveries] == [200]
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
        ("ana@example.com (via Telegram)",)]
    tg.wait_until(lambda: tg.sent(CHAT)[0].get("edit_date") is not None)
    (edited,) = tg.sent(CHAT)
    assert edited["text"] == message["text"] + "\n\n✓ Acknowledged"
    assert buttons(edited) == {"Resolve": keys["Resolve"]}  # acknowledging again would do nothing

    tg.press(CHAT, message["message_id"], keys["Resolve"])
    tg.wait_until(lambda: len(tg.callback_answers) == 2)
    assert tg.callback_answers[1]["text"] == "Resolved"
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]
    tg.wait_until(lambda: "reply_markup" not in tg.sent(CHAT)[0])
    assert tg.sent(CHAT)[0]["text"] == message["text"] + "\n\n✓ Resolved"

    assert app.test_cli_runner().invoke(args=["telegram-webhook", "--delete"]).exit_code == 0
    assert tg.webhook is None


def test_an_update_without_the_secret_or_from_another_chat_acts_on_nothing(make_app, database_url, tmp_path, tg,
                                                                          setup_for):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    setup = setup_for(app)
    configure(app, document())
    _incident_id, _token, _start = page(app, setup)
    (message,) = tg.sent(CHAT)
    ack = buttons(message)["Acknowledge"]
    client = app.test_client()
    secret = telegram.webhook_secret("test", tg.token)
    real = tg.press(CHAT, message["message_id"], ack)  # what Telegram would POST
    assert deliver_update(client, real, None).status_code == 403
    assert deliver_update(client, real, secret[:-1] + "x").status_code == 403
    assert deliver_update(client, real, telegram.webhook_secret("another key", tg.token)).status_code == 403
    # Ana's button, pressed in Bo's chat (a copied update): it was not sent there.
    stolen = {"update_id": real["update_id"] + 1, "callback_query": {
        **real["callback_query"], "id": "1", "from": {"id": OTHER, "is_bot": False, "first_name": "Bo"},
        "message": {**real["callback_query"]["message"], "chat": {"id": OTHER, "type": "private"}}}}
    assert deliver_update(client, stolen, secret).status_code == 200
    assert deliver_update(client, stolen, secret, path="/channels/telegram/callback").status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]
    assert setup.query("SELECT count(*) FROM incident_events WHERE kind = 'acknowledged'") == [(0,)]
    assert tg.callback_answers == []  # the fake had no such query pending; nothing was answered
    # The real update, with the secret, acts: the refusals above used nothing up.
    assert deliver_update(client, real, secret).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    assert [a["text"] for a in tg.callback_answers] == ["Acknowledged"]


def test_start_answers_with_the_chat_id_to_enter(make_app, database_url, tmp_path, tg):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    update = tg.message_to_bot(OTHER, "/start")
    answer = deliver_update(app.test_client(), update, telegram.webhook_secret("test", tg.token))
    assert answer.status_code == 200
    reply = tg.sent(OTHER)[-1]
    assert reply["text"].startswith(f"Your chat id is {OTHER}.")
    assert deliver_update(app.test_client(), tg.message_to_bot(OTHER, "hello"),
                          telegram.webhook_secret("test", tg.token)).status_code == 200
    assert len(tg.sent(OTHER)) == 1  # only /start is answered
    tg.chats[OTHER]["user"]["language_code"] = "de"  # the person's Telegram app is in German
    deliver_update(app.test_client(), tg.message_to_bot(OTHER, "/start"), telegram.webhook_secret("test", tg.token))
    assert tg.sent(OTHER)[-1]["text"].startswith(f"Ihre Chat-ID ist {OTHER}.")


# ---- poll mode: behind NAT, the worker fetches the presses ------------------------------------

def test_poll_mode_the_worker_fetches_the_press_and_only_the_chat_s_person_acts(make_app, database_url, tmp_path,
                                                                                tg, setup_for):
    app = telegram_app(make_app, database_url, tmp_path, tg, TELEGRAM_UPDATES="poll", TELEGRAM_POLL_SECONDS="1")
    setup = setup_for(app)
    configure(app, document())
    assert post(app.test_client(), setup.token(), firing("g1", "Disk full")).status_code == 201
    worker = Worker(app)
    try:
        assert worker.tick()  # pages (in the worker's sender threads) and starts the long poll
        tg.wait_until(lambda: tg.chats[CHAT]["messages"])
        (message,) = tg.sent(CHAT)
        keys = buttons(message)
        tg.wait_until(lambda: any(c["method"] == "getUpdates" for c in tg.requests))
        assert tg.webhook is None

        tg.press(CHAT, message["message_id"], keys["Acknowledge"], from_user_id=OTHER)  # not Ana
        tg.wait_until(lambda: len(tg.callback_answers) == 1)
        assert tg.callback_answers[0]["text"] == "This button was not sent to you."
        assert setup.query("SELECT status FROM incidents") == [("triggered",)]

        worker.tick()
        tg.press(CHAT, message["message_id"], keys["Acknowledge"])
        tg.wait_until(lambda: len(tg.callback_answers) == 2)
        assert tg.callback_answers[1]["text"] == "Acknowledged"
        assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
        assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
            ("ana@example.com (via Telegram)",)]
        tg.message_to_bot(OTHER, "/start")
        tg.wait_until(lambda: tg.chats[OTHER]["messages"] and tg.sent(OTHER))
        assert tg.sent(OTHER)[0]["text"].startswith(f"Your chat id is {OTHER}.")
        # every update was confirmed: a getUpdates after the last one asks past it
        last = tg.made[-1]["update_id"]
        tg.wait_until(lambda: any(str(c["params"].get("offset")) == str(last + 1) for c in tg.requests
                                  if c["method"] == "getUpdates"))
    finally:
        telegram_job.stop(app)
        worker.stop()


def test_poll_mode_with_a_webhook_set_reports_why_on_the_job(make_app, database_url, tmp_path, tg, monkeypatch):
    app = telegram_app(make_app, database_url, tmp_path, tg, TELEGRAM_UPDATES="poll", TELEGRAM_POLL_SECONDS="1")
    tg.webhook = {"url": "https://example.com/telegram/webhook", "secret_token": None, "max_connections": 40,
                  "ip_address": "127.0.0.1"}
    monkeypatch.setattr(telegram_job, "FAILING_SECONDS", 0)
    monkeypatch.setattr(telegram_job, "PAUSE_SECONDS", 0.05)
    with app.app_context():
        engine = db.engine
    try:
        assert telegram_job.run(engine, app.config, time.time(), app=app) is None
        tg.wait_until(lambda: any(r["status"] == 409 for r in tg.calls("getUpdates")))
        time.sleep(0.1)
        with pytest.raises(RuntimeError, match="HTTP 409: Conflict: can't use getUpdates method while webhook"):
            telegram_job.run(engine, app.config, time.time(), app=app)
    finally:
        telegram_job.stop(app)
    # Without poll mode (or without the app) the job does nothing at all.
    other = telegram_app(make_app, database_url, tmp_path / "b", tg)
    assert telegram_job.run(engine, other.config, time.time(), app=other) is None
    assert telegram_job.KEY not in other.extensions


# ---- follow-ups rewrite the page --------------------------------------------------------------

def test_when_someone_else_acts_the_page_is_rewritten_with_the_buttons_still_of_use(make_app, database_url, tmp_path,
                                                                                   tg, setup_for):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    setup = setup_for(app)
    configure(app, document())
    incident_id, token, start = page(app, setup, "CPU high")
    (message,) = tg.sent(CHAT)
    client = app.test_client()
    assert client.post(f"/v1/incidents/{incident_id}/acknowledge",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    run_jobs(app, start + 62)  # the follow-up, after the method's minute
    (edited,) = tg.sent(CHAT)  # no second message: the page itself says it
    actor = setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert edited["text"] == f"Acknowledged by {actor}: checkout-api: CPU high\n{BASE}/incidents/{incident_id}"
    assert list(buttons(edited)) == ["Snooze 1 h", "Resolve"]  # acknowledged: it may be snoozed (issue 20)
    assert [(k, s) for k, s, _e, _p in ledger(setup)] == [("page", "sent"), ("acknowledged", "sent")]

    # Its Snooze button snoozes for an hour, for Ana; the page keeps its Resolve button.
    update = tg.press(CHAT, message["message_id"], buttons(edited)["Snooze 1 h"])
    assert deliver_update(client, update, telegram.webhook_secret("test", tg.token)).status_code == 200
    status, until = setup.query("SELECT status, snoozed_until FROM incidents")[0]
    assert status == "acknowledged" and until is not None
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'snoozed'") == [
        ("ana@example.com (via Telegram)",)]
    assert tg.sent(CHAT)[0]["text"].endswith("\n\n✓ Snoozed for 1 h") and list(buttons(tg.sent(CHAT)[0])) == [
        "Resolve"]

    # Its new Resolve button acts for Ana, on what the page carried.
    update = tg.press(CHAT, message["message_id"], buttons(tg.sent(CHAT)[0])["Resolve"])
    assert deliver_update(client, update, telegram.webhook_secret("test", tg.token)).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'resolved'") == [
        ("ana@example.com (via Telegram)",)]
    assert tg.sent(CHAT)[0]["text"].endswith("\n\n✓ Resolved") and "reply_markup" not in tg.sent(CHAT)[0]

    # The tool resolves another incident: its page loses its buttons and says so.
    second, _token, start = page(app, setup, "Disk full", key="g2", token=token, at=start + 124)
    assert len(tg.sent(CHAT)) == 2
    assert post(client, token, resolved("g2")).status_code == 200
    run_jobs(app, start + 62)
    (first, rewritten) = tg.sent(CHAT)
    assert rewritten["text"] == f"Resolved: checkout-api: Disk full\n{BASE}/incidents/{second}"
    assert "reply_markup" not in rewritten


def test_a_page_telegram_no_longer_has_is_followed_by_a_new_message(make_app, database_url, tmp_path, tg,
                                                                    setup_for):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    setup = setup_for(app)
    configure(app, document())
    incident_id, token, start = page(app, setup, "CPU high")
    tg.chats[CHAT]["messages"].clear()  # Ana deleted the chat's history
    assert post(app.test_client(), token, resolved("g1")).status_code == 200
    run_jobs(app, start + 62)
    (news,) = tg.sent(CHAT)
    assert news["text"] == f"Resolved: checkout-api: CPU high\n{BASE}/incidents/{incident_id}"
    assert [(k, s) for k, s, _e, _p in ledger(setup)] == [("page", "sent"), ("resolved", "sent")]


# ---- the outbox: retries, permanent failures, limits ------------------------------------------

def test_a_5xx_or_429_is_retried_and_a_4xx_fails_for_good_in_the_ledger(make_app, database_url, tmp_path, tg,
                                                                       setup_for, add_user, sign_in):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    setup = setup_for(app)
    configure(app, document())
    tg.fail(1, 500, method="sendMessage")
    _incident_id, token, start = page(app, setup)
    ((kind, status, error, _provider),) = ledger(setup)
    assert (kind, status) == ("page", "pending")
    assert error == "attempt 1 failed, retrying: Telegram answered HTTP 500: Internal Server Error"
    tg.throttle(1, retry_after=3, method="sendMessage")
    run_jobs(app, start + 61)  # 30 s later, and the method's minute past
    assert ledger(setup)[0][1:3] == ("pending", "attempt 2 failed, retrying: Telegram answered HTTP 429: "
                                                "Too Many Requests: retry after 3")
    tg.fail(1, 502, method="sendMessage")  # nginx's HTML page: no description to quote
    run_jobs(app, start + 124)
    assert ledger(setup)[0][1:3] == ("pending", "attempt 3 failed, retrying: Telegram answered HTTP 502")
    assert tg.sent(CHAT) == []
    run_jobs(app, start + 248)
    assert ledger(setup)[0][1] == "sent" and len(tg.sent(CHAT)) == 1

    # A chat Telegram does not know, and a bot the person blocked: no retry can help.
    configure(app, document(chat_id="9999"))
    page(app, setup, "Disk full", key="g2", token=token, at=start + 310)  # the method's minute past
    assert ledger(setup)[-1][1:3] == ("failed", "Telegram answered HTTP 400: Bad Request: chat not found")
    configure(app, document())
    tg.block(CHAT)
    page(app, setup, "Memory low", key="g3", token=token, at=start + 372)
    assert ledger(setup)[-1][1:3] == ("failed", "Telegram answered HTTP 403: Forbidden: bot was blocked by the user")
    client = app.test_client()
    sign_in(client, *add_user(app))
    shown = client.get("/notifications?channel=telegram").get_data(as_text=True)
    assert "Bad Request: chat not found" in shown and "bot was blocked by the user" in shown
    assert tg.token not in shown  # the bot token is in the API's URL, never in a message


def test_without_a_bot_token_pages_wait_and_the_webhook_refuses(make_app, database_url, tmp_path, setup_for):
    app = make_app(database_url, tmp_path, BASE_URL=BASE)
    setup = setup_for(app)
    configure(app, document())
    page(app, setup)
    assert ledger(setup)[0][1:3] == ("pending", "attempt 1 failed, retrying: Telegram is not configured "
                                                "(set CALLGOOSE_TELEGRAM_BOT_TOKEN)")
    assert app.test_client().post("/telegram/webhook", json={"update_id": 1}).status_code == 403
    answer = app.test_cli_runner().invoke(args=["telegram-webhook"])
    assert answer.exit_code != 0


def test_titles_arrive_as_plain_text_within_telegram_s_limit(make_app, database_url, tmp_path, tg, setup_for):
    app = telegram_app(make_app, database_url, tmp_path, tg)
    setup = setup_for(app)
    configure(app, document())
    title = '<b>Disk</b> & <a href="https://evil.example">login</a> <tg-spoiler>'
    page(app, setup, title)
    (message,) = tg.sent(CHAT)
    assert message["text"].startswith(f"P2 HIGH checkout-api: {title}\n") and "entities" not in message
    assert telegram.fit("x" * 5000) == "x" * 4095 + "…"
    long = telegram.fit("😀" * 3000)  # two UTF-16 units each, as Telegram counts
    assert len(long.encode("utf-16-le")) // 2 <= 4096 and long.endswith("…")
    assert telegram.fit("short") == "short"
