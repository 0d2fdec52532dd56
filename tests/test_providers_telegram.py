"""The fake Telegram Bot API (tests/providers/telegram.py) answers as Telegram documents it,
called over HTTP with urllib as the coming ``telegram`` contact method will call it."""

from __future__ import annotations

import json
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from providers.telegram import FIRST_UPDATE_ID, FakeTelegram
from receivers import WebhookReceiver, self_signed

CHAT, USER = 7001, 7001
ACK = {"inline_keyboard": [[{"text": "Acknowledge", "callback_data": "ack:inc-1"},
                            {"text": "Open", "url": "https://callgoose.example/incidents/1"}]]}


def call(tg: FakeTelegram, method: str, params: dict | None = None, how: str = "json", token: str | None = None):
    """(status, answer) of one Bot API call; ``how``: a JSON body, a form body or the query string."""
    url = f"{tg.base}/bot{token or tg.token}/{method}"
    params = params or {}
    flat = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower() if isinstance(v, bool) else v
            for k, v in params.items()}
    data, headers = None, {}
    if how == "json":
        data, headers = json.dumps(params).encode(), {"Content-Type": "application/json"}
    elif how == "form":
        data, headers = urlencode(flat).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    elif flat:
        url += "?" + urlencode(flat)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            body = error.read()
            if error.headers.get_content_type() == "application/json":
                return error.code, json.loads(body)
            return error.code, body.decode()


def refused(tg, method, params, status=400, how="json") -> str:
    """The description of a call that must fail with ``status``."""
    code, answer = call(tg, method, params, how)
    assert code == status, answer
    assert answer["ok"] is False and answer["error_code"] == status, answer
    return answer["description"]


@pytest.fixture
def tg():
    with FakeTelegram(loopback_webhooks=True, webhook_retry_delay=0.05) as fake:
        fake.add_chat(CHAT, USER)
        yield fake


def poll(tg, params: dict, into: list):
    """A getUpdates in a thread, as a long-polling client runs it; its answer lands in ``into``."""
    def run():
        into.append((call(tg, "getUpdates", params), time.monotonic()))
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_get_me_wrong_token_and_unknown_method(tg):
    status, answer = call(tg, "getMe")
    assert status == 200 and answer["ok"] is True
    assert answer["result"]["id"] == int(tg.token.split(":")[0])
    assert answer["result"]["is_bot"] is True and answer["result"]["username"] == "callgoose_test_bot"
    assert call(tg, "getme", how="query")[0] == 200  # method names are case-insensitive

    assert call(tg, "getMe", token="5550001234:AAWrongToken") == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert call(tg, "sendSticker", {"chat_id": CHAT}) == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert [r["status"] for r in tg.wait(4)] == [200, 200, 401, 404]


@pytest.mark.parametrize("how", ["json", "form", "query"])
def test_send_message_takes_parameters_each_way(tg, how):
    first = call(tg, "sendMessage", {"chat_id": CHAT, "text": "Incident #1: CPU high", "reply_markup": ACK}, how)
    second = call(tg, "sendMessage", {"chat_id": str(CHAT), "text": "Incident #2"}, how)
    assert first[0] == second[0] == 200
    message = first[1]["result"]
    assert message["message_id"] == 1 and second[1]["result"]["message_id"] == 2
    assert message["chat"] == {"id": CHAT, "first_name": "Ana", "username": "ana", "type": "private"}
    assert message["from"]["is_bot"] is True
    assert message["text"] == "Incident #1: CPU high" and isinstance(message["date"], int)
    assert message["reply_markup"] == ACK
    assert "reply_markup" not in second[1]["result"]
    assert [m["text"] for m in tg.sent(CHAT)] == ["Incident #1: CPU high", "Incident #2"]
    assert tg.calls("sendMessage")[0]["http_method"] == ("GET" if how == "query" else "POST")


def test_send_message_takes_a_multipart_form(tg):
    boundary = "callgoose-boundary"
    fields = {"chat_id": str(CHAT), "text": "multipart <b>ok</b>", "parse_mode": "HTML"}
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                   for name, value in fields.items()) + f"--{boundary}--\r\n"
    request = urllib.request.Request(f"{tg.api}/sendMessage", data=body.encode(), method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        message = json.loads(response.read())["result"]
    assert message["text"] == "multipart ok" and message["entities"] == [{"type": "bold", "offset": 10, "length": 2}]


def test_message_ids_count_per_chat_and_with_the_users_messages(tg):
    tg.add_chat(8002, 8002, "Bo", "bo")
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "one"})[1]["result"]["message_id"] == 1
    assert call(tg, "sendMessage", {"chat_id": 8002, "text": "one"})[1]["result"]["message_id"] == 1
    assert tg.message_to_bot(CHAT, "hello")["message"]["message_id"] == 2
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "two"})[1]["result"]["message_id"] == 3


def test_send_checks_the_chat_and_the_length_after_parsing(tg):
    assert refused(tg, "sendMessage", {"chat_id": 999, "text": "hi"}) == "Bad Request: chat not found"
    assert refused(tg, "sendMessage", {"chat_id": "@ana", "text": "hi"}) == "Bad Request: chat not found"
    assert refused(tg, "sendMessage", {"text": "hi"}) == "Bad Request: chat_id is empty"
    assert refused(tg, "sendMessage", {"chat_id": CHAT}) == "Bad Request: message text is empty"
    assert refused(tg, "sendMessage", {"chat_id": CHAT, "text": " \n "}) == "Bad Request: message text is empty"
    assert refused(tg, "sendMessage", {"chat_id": CHAT, "text": "x" * 4097}) == "Bad Request: message is too long"
    assert refused(tg, "sendMessage", {"chat_id": CHAT, "text": "&lt;" * 4097, "parse_mode": "HTML"}) == (
        "Bad Request: message is too long")
    assert refused(tg, "sendMessage", {"chat_id": CHAT, "text": "<b></b>", "parse_mode": "HTML"}) == (
        "Bad Request: message text is empty")
    assert tg.sent(CHAT) == []

    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "é" * 4096})[0] == 200  # characters, not bytes
    bold = "<b>" + "x" * 4096 + "</b>"
    status, answer = call(tg, "sendMessage", {"chat_id": CHAT, "text": bold, "parse_mode": "HTML"})
    assert status == 200, answer
    assert answer["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 4096}]
    assert len(tg.sent(CHAT)) == 2


def test_html_parse_mode_allows_telegrams_tags_only(tg):
    html = ('<b>CPU high</b> on <code>db-1</code> &lt;prod&gt; '
            '<a href="https://callgoose.example/i/1?a=1&amp;b=2">open</a> <span class="tg-spoiler">s</span>')
    status, answer = call(tg, "sendMessage", {"chat_id": CHAT, "text": html, "parse_mode": "HTML"})
    assert status == 200, answer
    assert answer["result"]["text"] == "CPU high on db-1 <prod> open s"
    assert answer["result"]["entities"] == [
        {"type": "bold", "offset": 0, "length": 8}, {"type": "code", "offset": 12, "length": 4},
        {"type": "text_link", "offset": 24, "length": 4, "url": "https://callgoose.example/i/1?a=1&b=2"},
        {"type": "spoiler", "offset": 29, "length": 1}]
    emoji = call(tg, "sendMessage", {"chat_id": CHAT, "text": "🔥 <i>x</i>", "parse_mode": "HTML"})[1]["result"]
    assert emoji["entities"] == [{"type": "italic", "offset": 3, "length": 1}]  # UTF-16 offsets

    def parse_error(text):
        description = refused(tg, "sendMessage", {"chat_id": CHAT, "text": text, "parse_mode": "HTML"})
        assert description.startswith("Bad Request: can't parse entities: ")
        return description.removeprefix("Bad Request: can't parse entities: ")
    assert parse_error("line<br>next") == 'Unsupported start tag "br" at byte offset 4'
    assert parse_error("é<div>x</div>") == 'Unsupported start tag "div" at byte offset 2'  # bytes, not characters
    assert parse_error("<b>unclosed") == 'Can\'t find end tag corresponding to start tag "b"'
    assert parse_error("<b><i>x</b></i>").startswith("Unmatched end tag at byte offset 7")
    assert parse_error("1 < 2").startswith("Unsupported start tag")
    parse_error("<span>x</span>")  # a span is a spoiler only with class="tg-spoiler"
    assert len(tg.sent(CHAT)) == 2

    plain = call(tg, "sendMessage", {"chat_id": CHAT, "text": "1 < 2 <b>"})[1]["result"]  # no parse_mode: as is
    assert plain["text"] == "1 < 2 <b>" and "entities" not in plain


def test_inline_buttons_need_one_action_and_short_callback_data(tg):
    def keyboard(**button):
        return {"chat_id": CHAT, "text": "page", "reply_markup": {"inline_keyboard": [[button]]}}

    def button_error(**button):
        return refused(tg, "sendMessage", keyboard(**button)).removeprefix("Bad Request: ")
    assert button_error(text="Ack", callback_data="x" * 65) == "BUTTON_DATA_INVALID"
    assert button_error(text="Ack", callback_data="é" * 33) == "BUTTON_DATA_INVALID"  # 66 bytes
    assert button_error(text="Ack", callback_data="") == "BUTTON_DATA_INVALID"
    assert "Text buttons are unallowed" in button_error(text="Ack")
    assert "exactly one" in button_error(text="Ack", callback_data="a", url="https://x.example")
    assert '"text"' in button_error(callback_data="a")
    assert button_error(text="Go", url="javascript:alert(1)") == "BUTTON_URL_INVALID"
    broken = {"chat_id": CHAT, "text": "t", "reply_markup": "{"}
    assert "reply keyboard markup" in refused(tg, "sendMessage", broken, how="form")
    assert tg.sent(CHAT) == []

    status, answer = call(tg, "sendMessage", keyboard(text="Ack", callback_data="é" * 32))  # 64 bytes
    assert status == 200, answer


def test_edit_message_text_and_not_modified(tg):
    message = call(tg, "sendMessage", {"chat_id": CHAT, "text": "CPU high", "reply_markup": ACK})[1]["result"]
    same = {"chat_id": CHAT, "message_id": message["message_id"], "text": "CPU high", "reply_markup": ACK}
    assert refused(tg, "editMessageText", same) == (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
        "as a current content and reply markup of the message")

    status, answer = call(tg, "editMessageText", {**same, "text": "<b>Acknowledged</b> by Ana", "parse_mode": "HTML"})
    assert status == 200, answer
    edited = answer["result"]
    assert edited["message_id"] == message["message_id"] and edited["text"] == "Acknowledged by Ana"
    assert edited["reply_markup"] == ACK and isinstance(edited["edit_date"], int)
    assert edited["entities"] == [{"type": "bold", "offset": 0, "length": 12}]

    # Without reply_markup an edit removes the keyboard, as Telegram's does.
    status, answer = call(tg, "editMessageText", {"chat_id": CHAT, "message_id": message["message_id"],
                                                  "text": "<b>Acknowledged</b> by Ana", "parse_mode": "HTML"})
    assert status == 200 and "reply_markup" not in answer["result"]
    assert refused(tg, "editMessageText", {"chat_id": CHAT, "message_id": message["message_id"],
                                           "text": "<b>Acknowledged</b> by Ana", "parse_mode": "HTML"}).startswith(
        "Bad Request: message is not modified")
    assert [(m["text"], "reply_markup" in m) for m in tg.sent(CHAT)] == [("Acknowledged by Ana", False)]

    assert refused(tg, "editMessageText", {"chat_id": CHAT, "message_id": 99, "text": "x"}) == (
        "Bad Request: message to edit not found")
    assert refused(tg, "editMessageText", {"chat_id": 999, "message_id": 1, "text": "x"}) == (
        "Bad Request: chat not found")
    assert refused(tg, "editMessageText", {**same, "text": "x" * 4097}) == "Bad Request: message is too long"


def test_long_poll_returns_as_soon_as_a_button_is_pressed(tg):
    message = call(tg, "sendMessage", {"chat_id": CHAT, "text": "CPU high", "reply_markup": ACK})[1]["result"]
    answers: list = []
    before = tg.poll_generation
    thread = poll(tg, {"timeout": 20}, answers)
    tg.wait_until(lambda: tg.poll_generation == before + 1)
    time.sleep(0.3)
    assert answers == []  # still waiting: nothing to give yet
    pressed_at = time.monotonic()
    tg.press(CHAT, message["message_id"], "ack:inc-1")
    thread.join(10)
    ((status, answer), answered_at), = answers
    assert status == 200 and answered_at - pressed_at < 2
    update, = answer["result"]
    assert update["update_id"] == FIRST_UPDATE_ID
    query = update["callback_query"]
    assert query["from"] == {"id": USER, "is_bot": False, "first_name": "Ana", "username": "ana", "language_code": "en"}
    assert query["message"]["message_id"] == message["message_id"] and query["message"]["chat"]["id"] == CHAT
    assert query["data"] == "ack:inc-1" and isinstance(query["id"], str) and isinstance(query["chat_instance"], str)

    assert call(tg, "answerCallbackQuery", {"callback_query_id": query["id"], "text": "Acknowledged",
                                            "show_alert": True}, how="form") == (200, {"ok": True, "result": True})
    assert [(a["callback_query_id"], a["text"], a["show_alert"]) for a in tg.callback_answers] == [
        (query["id"], "Acknowledged", True)]
    assert refused(tg, "answerCallbackQuery", {"callback_query_id": query["id"]}) == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid")

    second = tg.press(CHAT, message["message_id"], "ack:inc-1")["callback_query"]["id"]
    assert refused(tg, "answerCallbackQuery", {"callback_query_id": second, "text": "x" * 201}) == (
        "Bad Request: MESSAGE_TOO_LONG")
    with pytest.raises(ValueError):
        tg.press(CHAT, message["message_id"], "no-such-button")


def test_long_poll_waits_out_its_timeout(tg):
    started = time.monotonic()
    assert call(tg, "getUpdates", {"timeout": 1}) == (200, {"ok": True, "result": []})
    assert 0.9 < time.monotonic() - started < 5


def test_an_offset_confirms_earlier_updates(tg):
    message = call(tg, "sendMessage", {"chat_id": CHAT, "text": "page", "reply_markup": ACK})[1]["result"]
    start = tg.message_to_bot(CHAT, "/start")
    assert start["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    press = tg.press(CHAT, message["message_id"], "ack:inc-1")
    ids = [start["update_id"], press["update_id"]]
    assert ids[1] == ids[0] + 1

    assert [u["update_id"] for u in call(tg, "getUpdates")[1]["result"]] == ids
    assert [u["update_id"] for u in call(tg, "getUpdates")[1]["result"]] == ids  # not confirmed yet
    assert [u["update_id"] for u in call(tg, "getUpdates", {"limit": 1}, how="query")[1]["result"]] == ids[:1]
    assert [u["update_id"] for u in call(tg, "getUpdates", {"offset": ids[0] + 1})[1]["result"]] == ids[1:]
    assert call(tg, "getUpdates", {"offset": ids[1] + 1}, how="form")[1]["result"] == []
    assert call(tg, "getUpdates")[1]["result"] == []  # confirmed updates do not come back
    assert tg.message_to_bot(CHAT, "again")["update_id"] == ids[1] + 1


def test_allowed_updates_drop_other_kinds(tg):
    message = call(tg, "sendMessage", {"chat_id": CHAT, "text": "page", "reply_markup": ACK})[1]["result"]
    assert call(tg, "getUpdates", {"allowed_updates": ["callback_query"]}, how="form")[1]["result"] == []
    tg.message_to_bot(CHAT, "hello")
    tg.press(CHAT, message["message_id"], "ack:inc-1")
    assert [list(u)[1] for u in call(tg, "getUpdates")[1]["result"]] == ["callback_query"]


def test_webhook_gets_updates_with_the_secret_header_and_retries(tg):
    with WebhookReceiver(statuses=[500]) as hook:
        assert call(tg, "setWebhook", {"url": hook.url, "secret_token": "s3cr3t_-Token"}) == (
            200, {"ok": True, "result": True, "description": "Webhook was set"})
        update = tg.message_to_bot(CHAT, "/start")
        first, second = hook.wait(2)
        assert [first["answered"], second["answered"]] == [500, 200]
        for record in (first, second):
            headers = {k.lower(): v for k, v in record["headers"].items()}
            assert headers["x-telegram-bot-api-secret-token"] == "s3cr3t_-Token"
            assert headers["content-type"] == "application/json"
            assert record["json"] == update
        tg.wait_until(lambda: len(tg.deliveries) == 2 and not tg.updates)
        assert [(d["attempt"], d["status"]) for d in tg.deliveries] == [(1, 500), (2, 200)]
        info = call(tg, "getWebhookInfo")[1]["result"]
        assert info["url"] == hook.url and info["pending_update_count"] == 0
        assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"

        assert call(tg, "setWebhook", {"url": hook.url})[1]["description"] == "Webhook was set"  # no secret now
        tg.message_to_bot(CHAT, "two")
        third = hook.wait(3)[2]
        assert "x-telegram-bot-api-secret-token" not in {k.lower() for k in third["headers"]}


def test_a_webhook_that_keeps_failing_is_given_up_after_a_few_attempts():
    with FakeTelegram(loopback_webhooks=True, webhook_attempts=3, webhook_retry_delay=0.05) as tg, \
            WebhookReceiver(statuses=[503, 503, 503, 503]) as hook:
        tg.add_chat(CHAT, USER)
        call(tg, "setWebhook", {"url": hook.url})
        tg.message_to_bot(CHAT, "lost")
        tg.wait_until(lambda: len(tg.deliveries) == 3 and not tg.updates)
        time.sleep(0.3)
        assert [d["status"] for d in tg.deliveries] == [503, 503, 503] and len(hook.requests) == 3


def test_get_updates_conflicts_with_a_webhook_and_with_another_poll(tg):
    conflict = ("Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first")
    tg.message_to_bot(CHAT, "queued before the webhook")
    with WebhookReceiver() as hook:
        call(tg, "setWebhook", {"url": hook.url})
        assert call(tg, "getUpdates") == (409, {"ok": False, "error_code": 409, "description": conflict})
        assert hook.wait(1)[0]["json"]["message"]["text"] == "queued before the webhook"
        deleted = call(tg, "deleteWebhook", {"drop_pending_updates": True}, how="query")
        assert deleted == (200, {"ok": True, "result": True, "description": "Webhook was deleted"})
    assert call(tg, "deleteWebhook")[1]["description"] == "Webhook is already deleted"
    assert call(tg, "getWebhookInfo")[1]["result"] == {
        "url": "", "has_custom_certificate": False, "pending_update_count": 0}
    assert call(tg, "getUpdates") == (200, {"ok": True, "result": []})

    first: list = []
    before = tg.poll_generation
    thread = poll(tg, {"timeout": 20}, first)
    tg.wait_until(lambda: tg.poll_generation == before + 1)
    assert call(tg, "getUpdates") == (200, {"ok": True, "result": []})
    thread.join(10)
    assert first[0][0] == (409, {"ok": False, "error_code": 409, "description": (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")})


def test_set_webhook_checks_url_and_secret():
    with FakeTelegram() as tg:  # as Telegram: HTTPS on its ports, no loopback addresses
        assert refused(tg, "setWebhook", {"url": "http://127.0.0.1:8080/hook"}) == (
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        assert refused(tg, "setWebhook", {"url": "https://hooks.example:9000/t"}) == (
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        assert refused(tg, "setWebhook", {"url": "https://127.0.0.1/t"}) == (
            "Bad Request: bad webhook: IP address 127.0.0.1 is reserved")
        for secret in ("has space", "ünïcode", "x" * 257):
            assert refused(tg, "setWebhook", {"url": "https://hooks.example/t", "secret_token": secret}) == (
                "Bad Request: secret token contains unallowed characters")
        assert call(tg, "getWebhookInfo")[1]["result"]["url"] == ""
        longest = {"url": "https://hooks.example/t", "secret_token": "A" * 256}
        assert call(tg, "setWebhook", longest)[1]["description"] == "Webhook was set"
        assert call(tg, "setWebhook", longest)[1]["description"] == "Webhook is already set"
        info = call(tg, "getWebhookInfo")[1]["result"]
        assert info["url"] == "https://hooks.example/t" and info["max_connections"] == 40


def test_flood_control_and_server_error_knobs(tg):
    tg.throttle(2, retry_after=3)
    flood = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
             "parameters": {"retry_after": 3}}
    assert call(tg, "getMe") == (429, flood)
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "lost"}) == (429, flood)
    assert call(tg, "getMe")[0] == 200
    assert tg.sent(CHAT) == []

    tg.throttle(1, method="sendMessage")
    assert call(tg, "getMe")[0] == 200  # only sendMessage is throttled
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "lost"})[0] == 429
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "sent"})[0] == 200

    tg.fail(1, 502)
    status, body = call(tg, "getMe")
    assert status == 502 and "<title>502 Bad Gateway</title>" in body  # nginx's page, not JSON
    tg.fail(1, 500, method="sendMessage", applied=True)
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "sent, answer lost"}) == (
        500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
    assert [m["text"] for m in tg.sent(CHAT)] == ["sent", "sent, answer lost"]


def test_a_user_who_blocked_the_bot(tg):
    tg.block(CHAT)
    assert refused(tg, "sendMessage", {"chat_id": CHAT, "text": "page"}, status=403) == (
        "Forbidden: bot was blocked by the user")
    tg.block(CHAT, False)
    assert call(tg, "sendMessage", {"chat_id": CHAT, "text": "page"})[0] == 200


def test_an_https_webhook_is_verified_with_the_given_context(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = self_signed(tmp_path)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)
    for context, works in ((None, False), (ssl.create_default_context(cafile=cert), True)):
        hook = WebhookReceiver()
        hook.server.socket = serving.wrap_socket(hook.server.socket, server_side=True)
        url = hook.url.replace("http://", "https://")
        with FakeTelegram(loopback_webhooks=True, webhook_attempts=1, webhook_context=context) as tg, hook:
            tg.add_chat(CHAT, USER)
            assert call(tg, "setWebhook", {"url": url, "secret_token": "tls"})[0] == 200
            update = tg.message_to_bot(CHAT, "/start")
            tg.wait_until(lambda: len(tg.deliveries) == 1)
            delivery, = tg.deliveries
            if works:
                assert delivery["status"] == 200 and hook.wait(1)[0]["json"] == update
            else:  # Telegram checks the certificate too: an unknown one is a failed delivery
                assert delivery["status"] is None and "CERTIFICATE_VERIFY_FAILED" in delivery["error"]
