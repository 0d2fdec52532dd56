"""The provider fakes in tests/providers/web.py answer as the real servers do, so that the
channels' tests can trust them: an accepted message is parsed right, each refusal has the
provider's status and body, the failure knob answers in the provider's shape, and ``press``
performs a button's request as the provider's app or server would."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest
from providers.web import ClickFailed, FakeDiscord, FakeGotify, FakeMattermost, FakeNtfy, parse_ntfy_actions
from receivers import _Loopback, _Server, free_port


def call(method: str, url: str, body=None, headers: dict | None = None) -> tuple[int, dict, str]:
    """(status, headers, text) of one request; a JSON ``body`` is sent as JSON."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class Integration(_Loopback):
    """The other end of a button: records each request and answers ``status`` and ``answer``."""

    def __init__(self, status: int = 200, answer: bytes = b""):
        self.status, self.answer, self.requests = status, answer, []
        integration = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                integration.requests.append({"method": self.command, "path": self.path,
                                             "headers": dict(self.headers), "body": body})
                self.send_response(integration.status)
                self.send_header("Content-Length", str(len(integration.answer)))
                self.end_headers()
                self.wfile.write(integration.answer)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self


# -- ntfy --------------------------------------------------------------------------------------

def test_ntfy_short_actions_are_parsed_as_ntfy_documents():
    actions = parse_ntfy_actions(
        "http, Acknowledge, https://cg.test/ack/1, method=put, headers.Authorization=Bearer abc, "
        "body='{\"note\": \"a, b; c\"}', clear=true; action=view, label=\"Say \\\"hi\\\"\", url=https://cg.test/i/1")
    assert [{k: v for k, v in a.items() if k != "id"} for a in actions] == [
        {"action": "http", "label": "Acknowledge", "clear": True, "url": "https://cg.test/ack/1", "method": "PUT",
         "headers": {"Authorization": "Bearer abc"}, "body": '{"note": "a, b; c"}'},
        {"action": "view", "label": 'Say "hi"', "clear": False, "url": "https://cg.test/i/1"}]
    assert all(len(a["id"]) == 10 for a in actions)
    for bad, reason in [("view, A, https://a.test; view, B, https://b.test; view, C, https://c.test; "
                         "view, D, https://d.test", "only 3 actions allowed"),
                        ("http, Ack", "parameter 'url' is required for action 'http'"),
                        ("http, Ack, https://a.test, method=GET, body=x", "parameter 'body' cannot be set if method is GET"),
                        ("view, Open, https://a.test, color=red", "key 'color' unknown"),
                        ("view, Open, https://a.test, clear=maybe", "parameter 'clear' cannot be 'maybe'"),
                        ("http, 'Ack, https://a.test", "unexpected end of input"),
                        ("call, Ring, https://a.test", "term .https://a.test. unknown"),
                        ("call, Ring", "parameter 'action' cannot be 'call'")]:
        with pytest.raises(ValueError, match=reason):
            parse_ntfy_actions(bad)


def test_ntfy_publish_with_headers_and_as_json():
    with FakeNtfy() as ntfy:
        status, headers, text = call("POST", ntfy.url("cg-alerts"), "  Disk full on db1\n", {
            "Title": "=?UTF-8?B?w4RwZmVs?=", "p": "high", "X-Tags": "warning, , rotating_light", "Click": "https://cg.test/i/7",
            "Markdown": "yes", "Actions": "http, Acknowledge, https://cg.test/ack/7, body=ack; view, Open, https://cg.test/i/7"})
        assert status == 200 and headers["Content-Type"] == "application/json"
        answer = json.loads(text)
        assert answer["event"] == "message" and answer["topic"] == "cg-alerts" and len(answer["id"]) == 12
        assert answer["expires"] - answer["time"] == 12 * 3600
        assert (answer["title"], answer["message"], answer["priority"]) == ("Äpfel", "Disk full on db1", 4)
        assert answer["tags"] == ["warning", "rotating_light"] and answer["click"] == "https://cg.test/i/7"
        assert answer["content_type"] == "text/markdown"
        assert [(a["action"], a["label"], a.get("body")) for a in answer["actions"]] == [
            ("http", "Acknowledge", "ack"), ("view", "Open", None)]

        status, _, text = call("POST", ntfy.base + "/", {
            "topic": "cg-alerts", "message": "CPU high", "priority": 5, "tags": ["fire"],
            "actions": [{"action": "http", "label": "Ack", "url": "https://cg.test/a", "method": "put",
                         "headers": {"X-Key": "k"}, "clear": True}]})
        assert status == 200
        assert ntfy.wait(2)[1] == {**json.loads(text), "via": "json", "user": None}
        second = json.loads(text)
        assert (second["message"], second["priority"], second["tags"]) == ("CPU high", 5, ["fire"])
        assert "title" not in second and "click" not in second  # ntfy leaves empty fields out
        assert {k: v for k, v in second["actions"][0].items() if k != "id"} == {
            "action": "http", "label": "Ack", "clear": True, "url": "https://cg.test/a", "method": "PUT",
            "headers": {"X-Key": "k"}}

        status, _, text = call("POST", ntfy.base + "/", {"topic": "cg-alerts", "title": None, "message": "n"})
        assert status == 200 and "title" not in json.loads(text)  # null is Go's zero value, not an error

        status, _, text = call("PUT", ntfy.url("cg-alerts"), b"")
        assert status == 200 and json.loads(text)["message"] == "triggered"
        assert ntfy.messages[0]["via"] == "headers" and ntfy.refused == []


def test_ntfy_refusals_and_access_control():
    with FakeNtfy() as ntfy:
        ntfy.protect("cg-private", token="tk_right")
        cases = [
            (("POST", ntfy.url("cg-alerts"), "x", {"Priority": "9"}), 400,
             {"code": 40007, "http": 400, "error": "invalid priority parameter",
              "link": "https://ntfy.sh/docs/publish/#message-priority"}),
            (("POST", ntfy.url("cg-alerts"), "x", {"Actions": "http, Ack"}), 400,
             {"code": 40018, "http": 400,
              "error": "invalid request: actions invalid; parameter 'url' is required for action 'http'",
              "link": "https://ntfy.sh/docs/publish/#action-buttons"}),
            (("POST", ntfy.base + "/", {"topic": "no/slash", "message": "x"}), 400,
             {"code": 40009, "http": 400, "error": "invalid request: topic invalid"}),
            (("POST", ntfy.base + "/", "{not json", {"Content-Type": "application/json"}), 400,
             {"code": 40024, "http": 400, "error": "invalid request: request body must be valid JSON"}),
            (("POST", ntfy.base + "/", {"topic": "cg-alerts", "priority": "high"}), 400,
             {"code": 40024, "http": 400, "error": "invalid request: request body must be valid JSON"}),
            (("POST", ntfy.url("cg-private"), "x"), 403,
             {"code": 40301, "http": 403, "error": "forbidden", "link": "https://ntfy.sh/docs/publish/#authentication"}),
            (("POST", ntfy.url("cg-alerts"), "x", {"Authorization": "Bearer tk_wrong"}), 401,
             {"code": 40101, "http": 401, "error": "unauthorized", "link": "https://ntfy.sh/docs/publish/#authentication"}),
            (("POST", ntfy.base + "/not.a.topic", "x"), 404, {"code": 40401, "http": 404, "error": "page not found"}),
        ]
        for args, status, body in cases:
            got_status, headers, text = call(*args)
            assert (got_status, json.loads(text)) == (status, body), args
            assert headers["Content-Type"] == "application/json"
        assert [r["status"] for r in ntfy.refused] == [c[1] for c in cases]
        assert ntfy.refused[5]["reason"] == "forbidden"

        basic = "Basic " + base64.b64encode(b":tk_right").decode()  # ntfy: empty user name, token as password
        for auth in ("Bearer tk_right", basic):
            status, _, text = call("POST", ntfy.url("cg-private"), "hello", {"Authorization": auth})
            assert status == 200, text
        assert [m["user"] for m in ntfy.wait(2)] == ["token-0", "token-0"]


def test_ntfy_message_over_4096_bytes_becomes_an_attachment():
    text = "x" * 4096
    with FakeNtfy() as ntfy:
        assert json.loads(call("POST", ntfy.url("cg"), text)[2])["message"] == text  # 4,096 bytes is still a message
        status, _, answer = call("POST", ntfy.url("cg"), text + "yz", {"Title": "Long"})
        message = json.loads(answer)
        assert status == 200 and message["message"] == "You received a file: attachment.txt"
        assert message["title"] == "Long"
        assert message["attachment"]["name"] == "attachment.txt" and message["attachment"]["size"] == 4098
        assert call("GET", message["attachment"]["url"])[2] == text + "yz"
        assert ntfy.messages[1]["file"] == text + "yz"
    with FakeNtfy(attachments=False) as ntfy:  # ntfy's default configuration has no attachment cache
        status, _, answer = call("POST", ntfy.url("cg"), text + "yz")
        assert status == 400 and json.loads(answer)["code"] == 40014 and ntfy.messages == []


def test_ntfy_press_sends_the_http_action_as_the_app_does():
    with FakeNtfy() as ntfy, Integration(answer=b"acked") as integration:
        call("POST", ntfy.url("cg"), "Disk full", {"Actions": (
            f"http, Acknowledge, {integration.url}/ack/7, method=PUT, headers.Authorization=Bearer s3cret, "
            f"body='{{\"ack\": 7}}'; http, Snooze, {integration.url}/snooze/7")})
        message = ntfy.wait(1)[0]
        assert ntfy.press(message, "Acknowledge") == (200, "acked")
        assert ntfy.press(message, "Snooze") == (200, "acked")
        ack, snooze = integration.requests
        assert (ack["method"], ack["path"], ack["body"]) == ("PUT", "/ack/7", b'{"ack": 7}')
        assert ack["headers"]["Authorization"] == "Bearer s3cret" and "Content-Type" not in ack["headers"]
        assert (snooze["method"], snooze["body"]) == ("POST", b"")  # ntfy's default method, an empty body
        integration.status = 503
        assert ntfy.press(message, "Snooze")[0] == 503
        with pytest.raises(ValueError):
            ntfy.press(message, "Escalate")


# -- Gotify ------------------------------------------------------------------------------------

def test_gotify_accepts_json_and_forms():
    with FakeGotify(apps={"AgoodToken": "Callgoose"}, default_priority=4) as gotify:
        extras = {"client::display": {"contentType": "text/markdown"},
                  "client::notification": {"click": {"url": "https://cg.test/i/7"}}}
        status, _, text = call("POST", gotify.url, {"title": "Disk full", "message": "**db1**", "priority": 8,
                                                    "extras": extras}, {"X-Gotify-Key": "AgoodToken"})
        answer = json.loads(text)
        assert status == 200 and answer["id"] == 1 and answer["appid"] == 1
        assert (answer["title"], answer["message"], answer["priority"], answer["extras"]) == (
            "Disk full", "**db1**", 8, extras)
        assert answer["date"].endswith("Z")
        status, _, text = call("POST", gotify.url + "?token=AgoodToken", "message=CPU+high&title=",
                               {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200
        assert {k: json.loads(text)[k] for k in ("id", "title", "priority")} == {"id": 2, "title": "Callgoose", "priority": 4}
        call("POST", gotify.url, {"message": "m"}, {"Authorization": "Bearer AgoodToken"})
        assert [m["token_from"] for m in gotify.wait(3)] == ["header", "query", "bearer"]


def test_gotify_refusals():
    unauthorized = {"error": "Unauthorized", "errorCode": 401,
                    "errorDescription": "you need to provide a valid access token or user credentials to access this api"}
    with FakeGotify(apps={"AgoodToken": "Callgoose"}) as gotify:
        good = {"X-Gotify-Key": "AgoodToken"}
        assert call("POST", gotify.url, {"message": "m"}, {"X-Gotify-Key": "Awrong"})[::2] == (401, json.dumps(
            unauthorized, separators=(",", ":")))
        # the query parameter is read first, so a wrong one there loses even with a right header
        assert call("POST", gotify.url + "?token=Awrong", {"message": "m"}, good)[0] == 401
        status, _, text = call("POST", gotify.url, {"title": "no message"}, good)
        assert (status, json.loads(text)) == (400, {"error": "Bad Request", "errorCode": 400,
                                                    "errorDescription": "Field 'message' is required"})
        status, _, text = call("POST", gotify.url, {"message": "m", "priority": "high"}, good)
        assert status == 400 and "CreateMessage.priority" in json.loads(text)["errorDescription"]
        assert call("GET", gotify.url, None, good)[0] == 404
        assert gotify.messages == [] and [r["status"] for r in gotify.refused] == [401, 401, 400, 400, 404]


# -- Discord -----------------------------------------------------------------------------------

def embed(**fields) -> dict:
    return {"title": "Disk full", "description": "db1 at 97%", "url": "https://cg.test/i/7", "color": 0xE53935,
            "timestamp": "2026-12-01T10:00:00Z", "footer": {"text": "Callgoose"},
            "fields": [{"name": "Service", "value": "checkout", "inline": True}], **fields}


def test_discord_accepts_within_limits_and_waits_when_asked():
    with FakeDiscord() as discord:
        body = {"content": "c" * 2000, "username": "Callgoose", "embeds": [embed()], "allowed_mentions": {"parse": []}}
        status, _, text = call("POST", discord.url, body)
        assert (status, text) == (204, "")
        status, _, text = call("POST", discord.url + "?wait=true", {"embeds": [embed(description="d" * 4096),
                                                                             embed(description="d" * 1800)]})
        message = json.loads(text)
        assert status == 200 and message["webhook_id"] == discord.webhook_id and message["author"]["bot"] is True
        assert [e["type"] for e in message["embeds"]] == ["rich", "rich"] and message["content"] == ""
        first, second = discord.wait(2)
        assert first["content"] == "c" * 2000 and first["wait"] is False and first["embeds"] == [embed()]
        assert second["id"] == message["id"] and second["wait"] is True


def test_discord_refusals_have_discords_codes():
    invalid = "Invalid Form Body"
    with FakeDiscord() as discord:
        def errors(body):
            status, _, text = call("POST", discord.url, body)
            answer = json.loads(text)
            assert (status, answer["code"], answer["message"]) == (400, 50035, invalid), answer
            return answer["errors"]

        assert errors({"content": "c" * 2001}) == {"content": {"_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}
        assert errors({"embeds": [embed()] * 11})["embeds"]["_errors"][0]["message"] == "Must be 10 or fewer in length."
        found = errors({"embeds": [embed(title="t" * 257), embed(fields=[{"name": "n", "value": "v"}] * 26),
                                   embed(footer={"text": "f" * 2049}, fields=[{"name": "n" * 257, "value": "v" * 1025}])]})
        assert found["embeds"]["0"]["title"]["_errors"][0]["message"] == "Must be 256 or fewer in length."
        assert found["embeds"]["1"]["fields"]["_errors"][0]["message"] == "Must be 25 or fewer in length."
        assert set(found["embeds"]["2"]) == {"footer", "fields"}
        assert set(found["embeds"]["2"]["fields"]["0"]) == {"name", "value"}
        assert errors({"embeds": [embed(fields=[{"name": "only a name"}])]})["embeds"]["0"]["fields"]["0"]["value"] == {
            "_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}
        total = [{"description": "d" * 3000}, {"description": "d" * 3001}]
        assert errors({"embeds": total})["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"
        assert call("POST", discord.url, {"embeds": [{"description": "d" * 3000}] * 2})[0] == 204  # exactly 6,000
        assert errors({"embeds": [embed(url="http://localhost:8000/i/7")]})["embeds"]["0"]["url"]["_errors"][0][
            "code"] == "URL_TYPE_INVALID_URL"

        empty = call("POST", discord.url, {"content": "  ", "embeds": []})
        assert (empty[0], json.loads(empty[2])) == (400, {"message": "Cannot send an empty message", "code": 50006})
        wrong_token = discord.url.rsplit("/", 1)[0] + "/nope"
        assert (call("POST", wrong_token, {"content": "x"})[0],
                json.loads(call("POST", wrong_token, {"content": "x"})[2])) == (
            401, {"message": "Invalid Webhook Token", "code": 50027})
        unknown = f"{discord.base}/api/v10/webhooks/1/{discord.webhooks[discord.webhook_id]}"
        status, _, text = call("POST", unknown, {"content": "x"})
        assert (status, json.loads(text)) == (404, {"message": "Unknown Webhook", "code": 10015})
        assert discord.messages[0]["embeds"] == [{"description": "d" * 3000}] * 2 and len(discord.messages) == 1


# -- Mattermost --------------------------------------------------------------------------------

def post_with_buttons(url: str, ack_id: str | None = "ack") -> dict:
    ack = {"name": "Acknowledge", "style": "primary", "integration": {"url": f"{url}/ack", "context": {"incident": 7}}}
    if ack_id is not None:
        ack["id"] = ack_id
    return {"text": "Disk full on db1", "username": "Callgoose", "props": {"card": "details"},
            "attachments": [{"fallback": "Disk full", "color": "#E53935", "title": "Disk full",
                             "fields": [{"short": True, "title": "Urgency", "value": 3}],
                             "actions": [ack, {"id": "open", "name": "Open", "type": "button",
                                               "integration": {"url": f"{url}/open"}}]}]}


def test_mattermost_accepts_text_and_attachments():
    with FakeMattermost(port=free_port()) as mattermost:
        assert mattermost.url.startswith(f"http://127.0.0.1:{mattermost.port}/hooks/")
        status, headers, text = call("POST", mattermost.url, post_with_buttons("http://cg.test", ack_id=None))
        assert (status, headers["Content-Type"], text) == (200, "text/plain", "ok")
        payload = {"text": "t" * 16384, "attachments": [{"fallback": "f", "fields": [{"title": "n", "value": 2.5}]}]}
        status, _, text = call("POST", mattermost.url, "payload=" + json.dumps(payload),
                               {"Content-Type": "application/x-www-form-urlencoded"})
        assert (status, text) == (200, "ok")
        post, form = mattermost.wait(2)
        assert (post["text"], post["channel"], post["username"], post["props"]) == (
            "Disk full on db1", "alerts", "Callgoose", {"card": "details"})
        generated = post["attachments"][0]["actions"][0]["id"]
        assert len(generated) == 26 and generated.isalnum()  # Mattermost gives an action without id one
        assert post["attachments"][0]["fields"][0]["value"] == "3"  # and stringifies field values
        assert form["attachments"][0]["fields"][0]["value"] == "2.5"
        assert (post["posts"], form["posts"]) == (1, 2)  # Mattermost splits text over 16,383 characters
        assert mattermost.problems == []


def test_mattermost_refusals():
    with FakeMattermost() as mattermost:
        def refusal(url, body):
            status, _, text = call("POST", url, body, {"Content-Type": "application/json"})
            answer = json.loads(text)
            assert answer["detailed_error"] == "" and len(answer["request_id"]) == 26
            return status, answer["id"], answer["message"], answer["status_code"]

        assert refusal(mattermost.base + "/hooks/unknownkey", {"text": "x"}) == (
            400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.", 400)
        assert refusal(mattermost.url, {"username": "Callgoose"}) == (
            400, "web.incoming_webhook.text.app_error", "No text specified.", 400)
        assert refusal(mattermost.url, "{broken") == (
            400, "model.incoming_hook.parse_data.app_error", "Unable to parse incoming data.", 400)
        assert refusal(mattermost.url, {"text": 5})[1] == "model.incoming_hook.parse_data.app_error"
        assert mattermost.messages == [] and len(mattermost.refused) == 4


def test_mattermost_press_posts_what_the_server_posts():
    update = {"update": {"message": "Acknowledged by responder", "props": {}}, "ephemeral_text": "Done."}
    with FakeMattermost() as mattermost, Integration(answer=json.dumps(update).encode()) as integration:
        call("POST", mattermost.url, post_with_buttons(integration.url))
        post = mattermost.wait(1)[0]
        assert mattermost.press(post, "Acknowledge", user_id="u1" * 13, user_name="ana") == update
        sent = integration.requests[0]
        assert (sent["method"], sent["path"], sent["headers"]["Content-Type"]) == ("POST", "/ack", "application/json")
        body = json.loads(sent["body"])
        assert {k: body[k] for k in ("user_id", "user_name", "channel_id", "channel_name", "team_id", "team_domain",
                                     "post_id", "type", "data_source", "context")} == {
            "user_id": "u1" * 13, "user_name": "ana", "channel_id": post["channel_id"], "channel_name": "alerts",
            "team_id": mattermost.team_id, "team_domain": "callgoose", "post_id": post["post_id"], "type": "",
            "data_source": "", "context": {"incident": 7}}
        assert base64.b64decode(body["trigger_id"])
        assert "context" not in json.loads(mattermost.press(post, "Open") and integration.requests[1]["body"])
        integration.status = 500
        with pytest.raises(ClickFailed) as failed:
            mattermost.press(post, "Acknowledge")
        assert failed.value.status == 400

        call("POST", mattermost.url, post_with_buttons(integration.url, ack_id="ack-1"))
        hyphen = mattermost.wait(2)[1]
        assert mattermost.problems and "'ack-1'" in mattermost.problems[0]
        with pytest.raises(ClickFailed) as failed:
            mattermost.press(hyphen, "Acknowledge")
        assert failed.value.status == 404 and len(integration.requests) == 3  # the click never left Mattermost


# -- the failure knob --------------------------------------------------------------------------

@pytest.mark.parametrize("make, send, status, check", [
    (FakeNtfy, lambda f: call("POST", f.url("cg"), "x"), 429,
     lambda h, b: b == {"code": 42901, "http": 429, "error": "limit reached: too many requests",
                        "link": "https://ntfy.sh/docs/publish/#limitations"}),
    (FakeGotify, lambda f: call("POST", f.url, {"message": "x"}, {"X-Gotify-Key": f.token}), 500,
     lambda h, b: b["error"] == "Internal Server Error" and b["errorCode"] == 500),
    (lambda: FakeDiscord(retry_after=1.5), lambda f: call("POST", f.url, {"content": "x"}), 429,
     lambda h, b: h["Retry-After"] == "2" and b == {"message": "You are being rate limited.", "retry_after": 1.5,
                                                     "global": False}),
    (FakeMattermost, lambda f: call("POST", f.url, {"text": "x"}), 503,
     lambda h, b: b["status_code"] == 503 and "id" in b),
])
def test_fail_next_answers_in_the_providers_shape_then_recovers(make, send, status, check):
    with make() as fake:
        fake.fail_next(2, status)
        for _ in range(2):
            got, headers, text = send(fake)
            assert got == status and check(headers, json.loads(text))
        assert send(fake)[0] in (200, 204)
        assert len(fake.wait(1)) == 1 and [r["reason"] for r in fake.refused] == [f"injected {status}"] * 2


def test_fakes_serve_requests_concurrently():
    with FakeNtfy() as ntfy:
        threads = [threading.Thread(target=call, args=("POST", ntfy.url("cg"), f"m{i}")) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(m["message"] for m in ntfy.wait(8)) == [f"m{i}" for i in range(8)]
