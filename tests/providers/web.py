"""Loopback stand-ins for four push providers' HTTP APIs: ntfy, Gotify, Discord webhooks and
Mattermost incoming webhooks. Each checks a request the way the real server does (read from the
providers' documentation and server source), answers a refusal with the real status and
body shape, records accepted messages as parsed dicts in ``messages`` and refused requests with
the reason in ``refused``, and can be told to answer the next requests with a chosen status
(``fail_next``) so that retries can be tested. ``press`` does what the provider's app does when a
person taps a message's button."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import string
import threading
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.message import Message
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from receivers import _Loopback, _Server


@dataclass
class Request:
    """One HTTP request as a fake sees it (``query`` keeps the first value of each name)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes

    def header(self, name: str) -> str:
        """A header's value as the Go servers read it: raw bytes taken as UTF-8, not Latin-1."""
        value = self.headers.get(name)
        if value is None:
            return ""
        try:
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value

    @property
    def media_type(self) -> str:
        return self.header("Content-Type").split(";")[0].strip().lower()


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, doc, headers: dict[str, str] | None = None, newline: bool = False,
               compact: bool = True) -> Reply:
    """A JSON answer; compact as Go's encoder writes it (Discord's answers have spaces)."""
    body = json.dumps(doc, separators=(",", ":") if compact else None).encode() + (b"\n" if newline else b"")
    return Reply(status, body, "application/json", dict(headers or {}))


class Refused(Exception):
    """Raised inside a fake to answer a request with a refusal and record why."""

    def __init__(self, reason: str, reply: Reply):
        super().__init__(reason)
        self.reason, self.reply = reason, reply


class ClickFailed(Exception):
    """A button press that the provider's app or server would show as failed."""

    def __init__(self, status: int, body: str):
        super().__init__(f"{status}: {body}")
        self.status, self.body = status, body


def _random_id(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class _Fake(_Loopback):
    """What the four fakes share: the loopback server, the records, ``wait`` and ``fail_next``."""

    def __init__(self, port: int = 0):
        self.messages: list[dict] = []
        self.refused: list[dict] = []  # {"status", "reason", "method", "path", "answer"}
        self.requests: list[dict] = []  # every request: method, path, headers, body, status
        self.lock = threading.Condition()
        self._failures: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                reply = fake._dispatch(Request(self.command, split.path, query, self.headers, body))
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        # a short poll interval, so that leaving the ``with`` takes milliseconds, not half a second
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` in the provider's own error shape."""
        with self.lock:
            self._failures.extend([status] * count)

    def wait(self, count: int, timeout: float = 10) -> list[dict]:
        """The accepted messages once there are ``count`` of them (fails after ``timeout``)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.messages) >= count, timeout), (self.messages, self.refused)
            return list(self.messages)

    def _accept(self, record: dict) -> None:
        with self.lock:
            self.messages.append(record)
            self.lock.notify_all()

    def _dispatch(self, request: Request) -> Reply:
        with self.lock:
            injected = self._failures.pop(0) if self._failures else None
        if injected is not None:
            reply, reason = self._failure(injected), f"injected {injected}"
        else:
            try:
                reply, reason = self._answer(request), None
            except Refused as refusal:
                reply, reason = refusal.reply, refusal.reason
            except Exception:  # a bug in the fake: answer as the provider's 500, keep the traceback
                reply, reason = self._failure(500), "fake error: " + traceback.format_exc()
        with self.lock:
            self.requests.append({"method": request.method, "path": request.path, "query": request.query,
                                  "headers": dict(request.headers), "body": request.body, "status": reply.status})
            if reason is not None:
                try:
                    answer = json.loads(reply.body) if reply.body else None
                except ValueError:
                    answer = reply.body.decode(errors="replace")
                self.refused.append({"status": reply.status, "reason": reason, "method": request.method,
                                     "path": request.path, "answer": answer})
            self.lock.notify_all()
        return reply

    def _answer(self, request: Request) -> Reply:
        raise NotImplementedError

    def _failure(self, status: int) -> Reply:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# ntfy (https://docs.ntfy.sh/publish/; server/server.go, errors.go, actions.go)

_NTFY_TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")
_NTFY_KEY = re.compile(r"([-.A-Za-z0-9_]+)\s*=\s*")
_NTFY_PRIORITIES = {"1": 1, "min": 1, "2": 2, "low": 2, "3": 3, "default": 3, "4": 4, "high": 4,
                    "5": 5, "max": 5, "urgent": 5}
_NTFY_ERRORS = {  # ntfy's errHTTP values: (code, http status, error, link)
    "bad_priority": (40007, 400, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority"),
    "bad_topic": (40009, 400, "invalid request: topic invalid", ""),
    "not_utf8": (40011, 400, "invalid request: message must be UTF-8 encoded", ""),
    "attachments_disallowed": (40014, 400, "invalid request: attachments not allowed", "https://ntfy.sh/docs/config/#attachments"),
    "bad_actions": (40018, 400, "invalid request: actions invalid", "https://ntfy.sh/docs/publish/#action-buttons"),
    "bad_icon": (40021, 400, "invalid request: icon URL is invalid", "https://ntfy.sh/docs/publish/#icons"),
    "bad_json": (40024, 400, "invalid request: request body must be valid JSON", ""),
    "unauthorized": (40101, 401, "unauthorized", "https://ntfy.sh/docs/publish/#authentication"),
    "forbidden": (40301, 403, "forbidden", "https://ntfy.sh/docs/publish/#authentication"),
    "not_found": (40401, 404, "page not found", ""),
    "json_too_large": (41303, 413, "JSON body too large", ""),
    "too_many_requests": (42901, 429, "limit reached: too many requests", "https://ntfy.sh/docs/publish/#limitations"),
    "internal": (50001, 500, "internal server error", ""),
}


def _ntfy_refusal(kind: str, detail: str = "") -> Refused:
    code, status, error, link = _NTFY_ERRORS[kind]
    doc = {"code": code, "http": status, "error": f"{error}; {detail}" if detail else error}
    if link:
        doc["link"] = link
    return Refused(doc["error"], json_reply(status, doc, newline=True))


def parse_ntfy_actions(text: str) -> list[dict]:
    """Actions as ntfy reads the ``Actions`` header: a JSON array, or the short format
    ``<action>, <label>, <url>, key=value, ...; ...`` (values may be quoted with " or ')."""
    text = text.strip()
    if text.startswith("["):
        try:
            actions = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"JSON error: {exc}") from exc
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            raise ValueError("JSON error: not an array of objects")
    else:
        actions = [_ntfy_short_action(sections) for sections in _ntfy_sections(text)]
    actions = [_ntfy_action(a) for a in actions]
    if len(actions) > 3:
        raise ValueError("only 3 actions allowed")
    for action in actions:
        if action["action"] not in ("view", "broadcast", "http"):
            raise ValueError(f"parameter 'action' cannot be '{action['action']}', valid values are 'view', "
                             "'broadcast' and 'http'")
        if not action.get("label"):
            raise ValueError("parameter 'label' is required")
        if action["action"] in ("view", "http") and not action.get("url"):
            raise ValueError(f"parameter 'url' is required for action '{action['action']}'")
        if action["action"] == "http" and action.get("method") in ("GET", "HEAD") and action.get("body"):
            raise ValueError(f"parameter 'body' cannot be set if method is {action['method']}")
    return actions


def _ntfy_action(given: dict) -> dict:
    """An action as ntfy answers it: its fields in ntfy's order, empty optional ones left out."""
    action = {"id": _random_id(10), "action": str(given.get("action") or "").lower(),
              "label": given.get("label") or "", "clear": bool(given.get("clear", False))}
    for key in ("url", "method", "headers", "body", "intent", "extras"):
        value = given.get(key)
        if value:
            action[key] = value.upper() if key == "method" else value
    return action


def _ntfy_sections(text: str) -> list[list[tuple[str, str]]]:
    """Split the short format into actions (``;``) of (key, value) sections (``,``)."""
    actions, sections, i, n = [], [], 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        key = ""
        match = _NTFY_KEY.match(text, i)
        if match:
            key, i = match.group(1), match.end()
        if i < n and text[i] in "\"'":
            quote, start = text[i], i + 1
            i = start
            while i < n and not (text[i] == quote and text[i - 1] != "\\"):
                i += 1
            if i >= n:
                raise ValueError(f"unexpected end of input, quote started at position {start}")
            value = text[start:i].replace("\\" + quote, quote)
            i += 1
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i < n and text[i] not in ",;":
                raise ValueError(f"unexpected character '{text[i]}' at position {i}")
        else:
            start = i
            while i < n and text[i] not in ",;":
                i += 1
            value = text[start:i].strip()
        sections.append((key, value))
        last = i >= n or text[i] == ";"
        i += 1
        if last:
            actions.append(sections)
            sections = []
    return actions


def _ntfy_short_action(sections: list[tuple[str, str]]) -> dict:
    action: dict = {"headers": {}, "extras": {}}
    for position, (key, value) in enumerate(sections):
        if not key:
            key = {0: "action", 1: "label"}.get(position, "")
            if position == 2 and action.get("action", "").lower() in ("view", "http"):
                key = "url"
        if not key:
            raise ValueError(f"term '{value}' unknown")
        if key.startswith("headers."):
            action["headers"][key[len("headers."):]] = value
        elif key.startswith("extras."):
            action["extras"][key[len("extras."):]] = value
        elif key.lower() == "clear":
            if value.lower() not in ("true", "yes", "1", "false", "no", "0"):
                raise ValueError(f"parameter 'clear' cannot be '{value}', only boolean values are allowed "
                                 "(true/yes/1/false/no/0)")
            action["clear"] = value.lower() in ("true", "yes", "1")
        elif key.lower() in ("action", "label", "url", "method", "body", "intent"):
            action[key.lower()] = value
        else:
            raise ValueError(f"key '{key}' unknown")
    return {k: v for k, v in action.items() if v != {}}


class FakeNtfy(_Fake):
    """A ntfy server. Publishing is POST/PUT to ``/<topic>`` (message in the body, options in
    headers or query parameters) or a JSON object to ``/``. ``protect(topic, token=...)`` turns
    on access control as ntfy does: then any unknown credentials get 401 (40101), and a
    protected topic refuses everyone but its grantees with 403 (40301).

    A body over 4,096 bytes (or not UTF-8) is not truncated: like ntfy.sh, the fake keeps it as
    an attachment ``attachment.txt`` and the message reads "You received a file: attachment.txt"
    (the full text is in the record's ``file`` and at the attachment's URL). ntfy's default
    configuration has no attachment cache and refuses such a body with 400 (40014);
    ``attachments=False`` does that."""

    MESSAGE_LIMIT = 4096
    CACHE_SECONDS = 12 * 3600
    ATTACHMENT_SECONDS = 3 * 3600

    def __init__(self, attachments: bool = True, port: int = 0):
        super().__init__(port)
        self.attachments = attachments
        self.tokens: dict[str, str] = {}  # token -> user
        self.passwords: dict[str, str] = {}  # user -> password
        self.acl: dict[str, set[str]] = {}  # protected topic -> users who may publish
        self.files: dict[str, bytes] = {}

    def url(self, topic: str) -> str:
        return f"{self.base}/{topic}"

    def protect(self, topic: str, token: str | None = None, user: str | None = None, password: str | None = None):
        """Let only this token (or user and password) publish to ``topic``."""
        grantees = self.acl.setdefault(topic, set())
        if token is not None:
            self.tokens[token] = user or f"token-{len(self.tokens)}"
            grantees.add(self.tokens[token])
        if user is not None and password is not None:
            self.passwords[user] = password
            grantees.add(user)

    def _failure(self, status: int) -> Reply:
        kind = {429: "too_many_requests", 500: "internal"}.get(status)
        if kind:
            return _ntfy_refusal(kind).reply
        return json_reply(status, {"code": status * 100 + 1, "http": status, "error": "injected failure"}, newline=True)

    def _answer(self, request: Request) -> Reply:
        user = self._authenticate(request)
        match = re.fullmatch(r"/file/([A-Za-z0-9]+)\.txt", request.path)
        if request.method in ("GET", "HEAD") and match and match.group(1) in self.files:
            return Reply(200, self.files[match.group(1)], "text/plain; charset=utf-8")
        if request.method not in ("POST", "PUT"):
            raise _ntfy_refusal("not_found")
        if request.path == "/":
            topic, options, body = self._from_json(request)
        elif _NTFY_TOPIC.fullmatch(request.path[1:]):
            topic, options, body = request.path[1:], self._from_headers(request), request.body
        else:
            raise _ntfy_refusal("not_found")
        if topic in self.acl and user not in self.acl[topic]:
            raise _ntfy_refusal("forbidden")
        return self._publish(topic, options, body, user, "json" if request.path == "/" else "headers")

    def _authenticate(self, request: Request) -> str | None:
        """The user the request's credentials name (None when anonymous); ntfy reads them only
        once access control is on, and then answers any unknown ones with 401."""
        if not (self.tokens or self.passwords):
            return None
        value = request.header("Authorization").strip()
        if request.query.get("auth"):
            try:
                value = base64.urlsafe_b64decode(request.query["auth"] + "==").decode().strip()
            except (binascii.Error, UnicodeDecodeError):
                raise _ntfy_refusal("internal") from None
        scheme, _, credentials = value.partition(" ")
        if scheme.lower() not in ("basic", "bearer") or not credentials:
            return None
        if scheme.lower() == "bearer":
            user = self.tokens.get(credentials.strip())
        else:
            try:
                name, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _ntfy_refusal("unauthorized") from None
            if name == "":  # ntfy: Basic with an empty user name carries a token as the password
                user = self.tokens.get(password)
            else:
                user = name if self.passwords.get(name) == password else None
        if user is None:
            raise _ntfy_refusal("unauthorized")
        return user

    def _param(self, request: Request, *names: str) -> str:
        """ntfy's readParam: the first header that is set (RFC 2047 words decoded), else the
        first lower-case query parameter."""
        for name in names:
            value = request.header(name).strip()
            if "=?" in value:
                try:
                    value = str(make_header(decode_header(value))).strip()
                except (ValueError, LookupError):
                    pass
            if name.lower() == "priority" and re.fullmatch(r"u=\d,\s*(i|\d)|u=\d", value):
                value = ""  # RFC 9218's Priority header (added by proxies), which ntfy ignores
            if value:
                return value
        for name in names:
            if request.query.get(name.lower(), "").strip():
                return request.query[name.lower()].strip()
        return ""

    def _from_headers(self, request: Request) -> dict:
        def flag(*names):
            return self._param(request, *names).lower() in ("1", "yes", "true")

        return {
            "title": self._param(request, "x-title", "title", "t"),
            "message": self._param(request, "x-message", "message", "m").replace("\\n", "\n"),
            "priority": self._param(request, "x-priority", "priority", "prio", "p"),
            "tags": [t.strip() for t in self._param(request, "x-tags", "tags", "tag", "ta").split(",") if t.strip()],
            "click": self._param(request, "x-click", "click"),
            "icon": self._param(request, "x-icon", "icon"),
            "actions": self._param(request, "x-actions", "actions", "action"),
            "markdown": flag("x-markdown", "markdown", "md") or request.media_type == "text/markdown",
        }

    def _from_json(self, request: Request) -> tuple[str, dict, bytes]:
        """ntfy's JSON publishing: checked as Go decodes it into its publishMessage struct, then
        turned into the same options as headers would give."""
        if len(request.body) > 2 * self.MESSAGE_LIMIT:
            raise _ntfy_refusal("json_too_large")
        try:
            doc = json.loads(request.body)
        except ValueError:
            raise _ntfy_refusal("bad_json") from None
        strings = ("topic", "title", "message", "click", "icon", "attach", "filename", "email", "call", "cache",
                   "firebase", "delay")
        if not isinstance(doc, dict) or not all(_nullable(doc.get(k), str) for k in strings) \
                or not _nullable(doc.get("priority"), int) or not _nullable(doc.get("markdown"), bool) \
                or not _string_list(doc.get("tags")) or not _ntfy_json_actions(doc.get("actions")):
            raise _ntfy_refusal("bad_json")
        if not _NTFY_TOPIC.fullmatch(doc.get("topic") or ""):
            raise _ntfy_refusal("bad_topic")
        options = {"title": doc.get("title") or "", "message": "", "tags": list(doc.get("tags") or []),
                   "priority": str(doc["priority"]) if doc.get("priority") else "", "click": doc.get("click") or "",
                   "icon": doc.get("icon") or "", "markdown": bool(doc.get("markdown")),
                   "actions": json.dumps(doc["actions"]) if doc.get("actions") else ""}
        return doc["topic"], options, (doc.get("message") or "triggered").encode()

    def _publish(self, topic: str, options: dict, body: bytes, user: str | None, via: str) -> Reply:
        priority = 0
        if options["priority"]:
            if options["priority"].lower() not in _NTFY_PRIORITIES:
                raise _ntfy_refusal("bad_priority")
            priority = _NTFY_PRIORITIES[options["priority"].lower()]
        if options["icon"] and not re.match(r"https?://", options["icon"]):
            raise _ntfy_refusal("bad_icon")
        actions = []
        if options["actions"]:
            try:
                actions = parse_ntfy_actions(options["actions"])
            except ValueError as exc:
                raise _ntfy_refusal("bad_actions", str(exc)) from None
        now = int(time.time())
        message = {"id": _random_id(12), "time": now, "expires": now + self.CACHE_SECONDS, "event": "message",
                   "topic": topic}
        record: dict = {"via": via, "user": user}
        text = options["message"]
        if len(body) > self.MESSAGE_LIMIT or not _utf8(body):
            if not self.attachments:
                raise _ntfy_refusal("attachments_disallowed")
            self.files[message["id"]] = body
            record["file"] = body.decode("utf-8", errors="replace")
            text = text or "You received a file: attachment.txt"
            message["attachment"] = {"name": "attachment.txt", "type": "text/plain; charset=utf-8", "size": len(body),
                                     "expires": now + self.ATTACHMENT_SECONDS,
                                     "url": f"{self.base}/file/{message['id']}.txt"}
        elif body:
            text = body.decode().strip()
        for key, value in (("title", options["title"]), ("message", text or "triggered"), ("priority", priority),
                           ("tags", options["tags"]), ("click", options["click"]), ("icon", options["icon"]),
                           ("actions", actions)):
            if value:  # ntfy leaves empty fields out of its JSON (omitempty)
                message[key] = value
        if options["markdown"]:
            message["content_type"] = "text/markdown"
        self._accept({**message, **record})
        return json_reply(200, message, newline=True)

    def press(self, message: dict, label: str) -> tuple[int, str]:
        """Tap the ``http`` action labelled ``label`` as the ntfy Android app does: its method
        (POST when none is given), URL, headers and body (empty for methods other than GET and
        HEAD), redirects followed; (status, body) of the answer."""
        action = next((a for a in message.get("actions", []) if a.get("label") == label), None)
        if action is None or action["action"] != "http":
            raise ValueError(f"no http action labelled {label!r} in {message.get('actions')}")
        method = action.get("method") or "POST"
        body = action.get("body")
        if body is None and method not in ("GET", "HEAD"):
            body = ""
        headers = {"User-Agent": "ntfy/1.0 (Callgoose test app)", **(action.get("headers") or {})}
        request = urllib.request.Request(action["url"], data=None if body is None else body.encode(),
                                         headers=headers, method=method)
        opener = urllib.request.build_opener(_NoDefaultContentType, _NoDefaultContentTypeTLS)
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


class _NoDefaultContentType(urllib.request.HTTPHandler):
    """urllib adds ``Content-Type: application/x-www-form-urlencoded`` to every request with a
    body; the ntfy app (OkHttp, a body without a media type) sends none unless the action's
    headers name one."""

    def http_request(self, request):
        chosen = request.has_header("Content-type")
        request = super().http_request(request)
        if not chosen:
            request.unredirected_hdrs.pop("Content-type", None)
        return request


class _NoDefaultContentTypeTLS(urllib.request.HTTPSHandler):
    https_request = _NoDefaultContentType.http_request


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _nullable(value, kind: type) -> bool:
    """Whether Go's JSON decoder accepts ``value`` for a field of that kind (null always fits;
    an int field takes only numbers without a fraction)."""
    if value is None:
        return True
    if kind is int:
        return _go_int(value)
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _go_int(value) -> bool:
    """Whether Go's JSON decoder puts ``value`` into an int (a number without a fraction)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _string_list(value) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _ntfy_json_actions(value) -> bool:
    if value is None:
        return True
    if not isinstance(value, list):
        return False
    for action in value:
        if not isinstance(action, dict) or not _nullable(action.get("clear"), bool):
            return False
        if not all(_nullable(action.get(k), str) for k in ("action", "label", "url", "method", "body", "intent")):
            return False
        for key in ("headers", "extras"):
            mapping = action.get(key) or {}
            if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
                return False
    return True


# ---------------------------------------------------------------------------------------------
# Gotify (https://gotify.net/api-docs; api/message.go, auth/authentication.go, error/handler.go)

def _gotify_error(status: int, description: str) -> Refused:
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
             500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    doc = {"error": names.get(status, "Error"), "errorCode": status, "errorDescription": description}
    return Refused(description, json_reply(status, doc))


class FakeGotify(_Fake):
    """A Gotify server's ``POST /message``. The application token is read as Gotify reads it:
    the ``token`` query parameter first, then ``X-Gotify-Key``, then ``Authorization: Bearer``.
    The body is JSON (with ``extras``) or a form; ``message`` is required, ``priority`` an
    integer (the application's default when absent), an empty title becomes the app's name."""

    def __init__(self, apps: dict[str, str] | None = None, default_priority: int = 0, port: int = 0):
        super().__init__(port)
        self.apps = dict(apps or {"A" + _random_id(14): "Callgoose"})  # token -> application name
        self.token = next(iter(self.apps))
        self.default_priority = default_priority
        self._ids = 0

    @property
    def url(self) -> str:
        return f"{self.base}/message"

    def _failure(self, status: int) -> Reply:
        return _gotify_error(status, "injected failure").reply

    def _answer(self, request: Request) -> Reply:
        if request.path != "/message" or request.method != "POST":
            raise _gotify_error(404, "page not found")  # gin's NoRoute, for a wrong method too
        token, where = request.query.get("token", ""), "query"
        if not token:
            token, where = request.header("X-Gotify-Key"), "header"
        if not token and request.header("Authorization")[:7].lower() == "bearer ":
            token, where = request.header("Authorization")[7:], "bearer"
        if token not in self.apps:
            raise _gotify_error(401, "you need to provide a valid access token or user credentials to access this api")
        doc = self._bind(request)
        message = doc.get("message") or ""  # absent, null and "" all fail gin's "required"
        if message == "":
            raise _gotify_error(400, "Field 'message' is required")
        with self.lock:
            self._ids += 1
            number = self._ids
        answer = {"id": number, "appid": list(self.apps).index(token) + 1, "message": message,
                  "title": doc["title"] if (doc.get("title") or "").strip() else self.apps[token],
                  "priority": doc["priority"] if doc.get("priority") is not None else self.default_priority,
                  "date": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")}
        if doc.get("extras"):
            answer["extras"] = doc["extras"]
        self._accept({**answer, "token_from": where, "content_type": request.media_type})
        return json_reply(200, answer)

    def _bind(self, request: Request) -> dict:
        """Gin's Bind: JSON for application/json, else a form (body and query parameters)."""
        if request.media_type == "application/json":
            try:
                doc = json.loads(request.body)
            except ValueError as exc:
                raise _gotify_error(400, f"invalid character in JSON: {exc}") from None
            if not isinstance(doc, dict):
                raise _gotify_error(400, "json: cannot unmarshal into Go value of type model.CreateMessage")
            for key, kind in (("message", "string"), ("title", "string"), ("priority", "int"), ("extras", "map")):
                value = doc.get(key)
                ok = value is None or {"string": isinstance(value, str), "int": _go_int(value),
                                       "map": isinstance(value, dict)}[kind]
                if not ok:
                    raise _gotify_error(400, f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                                             f"CreateMessage.{key} of type {kind}")
            return doc
        form = dict(request.query)
        if request.media_type == "application/x-www-form-urlencoded":
            form.update({k: v[0] for k, v in parse_qs(request.body.decode(errors="replace"),
                                                      keep_blank_values=True).items()})
        doc = {k: form[k] for k in ("message", "title") if k in form}
        if form.get("priority", "") != "":
            if not re.fullmatch(r"[-+]?\d+", form["priority"]):
                raise _gotify_error(400, f'strconv.ParseInt: parsing "{form["priority"]}": invalid syntax')
            doc["priority"] = int(form["priority"])
        return doc


# ---------------------------------------------------------------------------------------------
# Discord (https://discord.com/developers/docs/resources/webhook#execute-webhook, .../message
# "Embed Limits", .../reference "Error Messages", .../topics/rate-limits)

def _discord_error(status: int, code: int, message: str, errors: dict | None = None,
                   headers: dict[str, str] | None = None) -> Refused:
    doc: dict = {"message": message, "code": code}
    if errors is not None:
        doc["errors"] = errors
    reason = message if errors is None else f"{message}: {json.dumps(errors)}"
    return Refused(reason, json_reply(status, doc, headers, compact=False))


def _field_error(code: str, message: str) -> dict:
    return {"_errors": [{"code": code, "message": message}]}


class FakeDiscord(_Fake):
    """Discord's execute-webhook endpoint ``POST /api/webhooks/<id>/<token>`` (also under
    ``/api/v<n>/``), JSON or form body, checked against Discord's documented limits; answers
    204, or 200 with the message object when ``?wait=true``. ``fail_next(n, 429)`` answers
    Discord's rate-limit body with ``Retry-After``; ``retry_after`` sets the wait it asks for.

    Two checks come from reports rather than the documentation: embed URLs must be http(s)
    (``URL_TYPE_INVALID_SCHEME``, quoted in discord-api-docs#5837) and a host without a dot
    (``http://localhost:8000``) is "Not a well formed URL." (bugsink#280, gitea#14379)."""

    def __init__(self, webhooks: dict[str, str] | None = None, retry_after: float = 0.5, port: int = 0):
        super().__init__(port)
        self.webhooks = dict(webhooks or {str(secrets.randbelow(10**18) + 10**18): _random_id(68)})
        self.webhook_id = next(iter(self.webhooks))
        self.retry_after = retry_after
        self.channel_id = str(secrets.randbelow(10**18) + 10**18)

    @property
    def url(self) -> str:
        return f"{self.base}/api/webhooks/{self.webhook_id}/{self.webhooks[self.webhook_id]}"

    def _failure(self, status: int) -> Reply:
        if status == 429:
            wait = self.retry_after
            headers = {"Retry-After": str(math.ceil(wait)), "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": f"{time.time() + wait:.3f}", "X-RateLimit-Reset-After": str(wait),
                       "X-RateLimit-Bucket": "callgoose-test", "X-RateLimit-Scope": "user"}
            doc = {"message": "You are being rate limited.", "retry_after": wait, "global": False}
            return json_reply(429, doc, headers, compact=False)
        return json_reply(status, {"message": f"{status}: injected failure", "code": 0}, compact=False)

    def _answer(self, request: Request) -> Reply:
        match = re.fullmatch(r"/api(?:/v\d+)?/webhooks/([^/]+)/([^/]+)", request.path)
        if match is None:
            raise _discord_error(404, 0, "404: Not Found")
        if request.method != "POST":
            raise _discord_error(405, 0, "405: Method Not Allowed")
        webhook_id, token = match.groups()
        if not webhook_id.isdigit():
            raise _discord_error(400, 50035, "Invalid Form Body", {"webhook_id": _field_error(
                "NUMBER_TYPE_COERCE", f'Value "{webhook_id}" is not snowflake.')})
        if webhook_id not in self.webhooks:
            raise _discord_error(404, 10015, "Unknown Webhook")
        if token != self.webhooks[webhook_id]:
            raise _discord_error(401, 50027, "Invalid Webhook Token")
        wait = request.query.get("wait", "false")
        if wait not in ("true", "True", "1", "false", "False", "0"):
            raise _discord_error(400, 50035, "Invalid Form Body", {"wait": _field_error(
                "BOOLEAN_TYPE_COERCE", f'Value "{wait}" is not a valid boolean.')})
        doc = self._body(request)
        errors = self._check(doc)
        if errors:
            raise _discord_error(400, 50035, "Invalid Form Body", errors)
        content = doc.get("content") or ""
        if not content.strip() and not doc.get("embeds") and not doc.get("components") and not doc.get("poll"):
            raise _discord_error(400, 50006, "Cannot send an empty message")
        message = self._message(webhook_id, doc)
        self._accept({**doc, "id": message["id"], "webhook_id": webhook_id, "wait": wait in ("true", "True", "1"),
                      "thread_id": request.query.get("thread_id")})
        if wait in ("true", "True", "1"):
            return json_reply(200, message, compact=False)
        return Reply(204)

    def _body(self, request: Request) -> dict:
        if request.media_type == "application/json":
            try:
                doc = json.loads(request.body)
            except ValueError:
                raise _discord_error(400, 50109, "The request body contains invalid JSON.") from None
        elif request.media_type == "application/x-www-form-urlencoded":
            form = {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
            try:
                doc = json.loads(form.pop("payload_json")) if "payload_json" in form else form
            except ValueError:
                raise _discord_error(400, 50109, "The request body contains invalid JSON.") from None
        else:
            raise _discord_error(400, 50035, "Invalid Form Body", _field_error(
                "CONTENT_TYPE_INVALID", "Expected \"Content-Type\" header to be one of {'application/json', "
                "'application/x-www-form-urlencoded', 'multipart/form-data'}."))
        if not isinstance(doc, dict):
            raise _discord_error(400, 50035, "Invalid Form Body", _field_error(
                "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
        return doc

    def _check(self, doc: dict) -> dict:
        """Every violation of Discord's limits, in its nested error shape ({} when none)."""
        errors: dict = {}
        content = doc.get("content")
        if content is not None and not isinstance(content, str):
            errors["content"] = _field_error("BASE_TYPE_STRING", "Must be a string.")
        elif content and len(content) > 2000:
            errors["content"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        username = doc.get("username")
        if username is not None:
            if not isinstance(username, str) or not 1 <= len(username.strip()) <= 80:
                errors["username"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
            else:
                for word in ("discord", "clyde"):
                    if word in username.lower():
                        errors["username"] = _field_error("USERNAME_INVALID_CONTAINS",
                                                          f'Username cannot contain "{word}"')
        if doc.get("avatar_url") is not None and (problem := _discord_url(doc["avatar_url"])):
            errors["avatar_url"] = problem
        mentions = doc.get("allowed_mentions")
        if mentions is not None:
            parse = mentions.get("parse", []) if isinstance(mentions, dict) else None
            if not isinstance(parse, list) or any(p not in ("roles", "users", "everyone") for p in parse):
                errors["allowed_mentions"] = {"parse": _field_error(
                    "BASE_TYPE_CHOICES", "Value must be one of ('roles', 'users', 'everyone').")}
        embeds = doc.get("embeds")
        if embeds is not None:
            if not isinstance(embeds, list):
                errors["embeds"] = _field_error("BASE_TYPE_LIST", "Must be a list.")
            elif len(embeds) > 10:
                errors["embeds"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
            else:
                found, total = {}, 0
                for index, embed in enumerate(embeds):
                    problems, size = self._check_embed(embed)
                    total += size
                    if problems:
                        found[str(index)] = problems
                if found:
                    errors["embeds"] = found
                elif total > 6000:
                    errors["embeds"] = _field_error("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        return errors

    def _check_embed(self, embed) -> tuple[dict, int]:
        """One embed's problems and the characters it counts toward the 6,000 total."""
        if not isinstance(embed, dict):
            return _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"), 0
        problems: dict = {}
        size = _text(embed, "title", 256, problems) + _text(embed, "description", 4096, problems)
        if embed.get("url") is not None and (problem := _discord_url(embed["url"])):
            problems["url"] = problem
        color = embed.get("color")
        if color is not None and (not _go_int(color) or not 0 <= color <= 0xFFFFFF):
            # Discord's code and wording for this one were not found in public reports
            problems["color"] = _field_error("NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
        stamp = embed.get("timestamp")
        if stamp is not None:
            try:
                datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                problems["timestamp"] = _field_error("DATE_TYPE_PARSE", f"Could not parse {stamp}. Should be ISO8601.")
        for part, key, limit, required in (("footer", "text", 2048, True), ("author", "name", 256, True)):
            holder = embed.get(part)
            if holder is None:
                continue
            if not isinstance(holder, dict):
                problems[part] = _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            found: dict = {}
            size += _text(holder, key, limit, found, required)
            for url_key in ("url", "icon_url"):
                if holder.get(url_key) is not None and (problem := _discord_url(holder[url_key])):
                    found[url_key] = problem
            if found:
                problems[part] = found
        fields = embed.get("fields")
        if fields is not None:
            if not isinstance(fields, list):
                problems["fields"] = _field_error("BASE_TYPE_LIST", "Must be a list.")
            elif len(fields) > 25:
                problems["fields"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            else:
                bad: dict = {}
                for index, item in enumerate(fields):
                    if not isinstance(item, dict):
                        bad[str(index)] = _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                        continue
                    found = {}
                    size += _text(item, "name", 256, found, required=True)
                    size += _text(item, "value", 1024, found, required=True)
                    if item.get("inline") is not None and not isinstance(item["inline"], bool):
                        found["inline"] = _field_error("BASE_TYPE_BOOLEAN", "Must be either true or false.")
                    if found:
                        bad[str(index)] = found
                if bad:
                    problems["fields"] = bad
        return problems, size

    def _message(self, webhook_id: str, doc: dict) -> dict:
        """The message object Discord returns for ``?wait=true``."""
        embeds = [{**e, "type": "rich"} for e in doc.get("embeds") or []]
        return {"id": str(secrets.randbelow(10**18) + 10**18), "type": 0, "content": doc.get("content") or "",
                "channel_id": self.channel_id, "webhook_id": webhook_id,
                "author": {"bot": True, "id": webhook_id, "username": doc.get("username") or "Callgoose",
                           "avatar": None, "discriminator": "0000"},
                "attachments": [], "embeds": embeds, "mentions": [], "mention_roles": [], "pinned": False,
                "mention_everyone": False, "tts": bool(doc.get("tts")), "flags": doc.get("flags") or 0,
                "components": [], "edited_timestamp": None,
                "timestamp": datetime.now(timezone.utc).isoformat(timespec="microseconds")}


def _text(holder: dict, key: str, limit: int, problems: dict, required: bool = False) -> int:
    """Check one of an embed's texts against its limit (Discord trims it first); the
    characters it counts toward the 6,000 total, and any problem put in ``problems``."""
    value = holder.get(key)
    if value is None or (required and isinstance(value, str) and not value.strip()):
        if required:
            problems[key] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
        return 0
    if not isinstance(value, str):
        problems[key] = _field_error("BASE_TYPE_STRING", "Must be a string.")
        return 0
    if len(value.strip()) > limit:
        problems[key] = _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        return 0
    return len(value.strip())


def _discord_url(value) -> dict | None:
    """Discord's URL check for embeds and avatars (http or https, a host with a dot)."""
    if not isinstance(value, str):
        return _field_error("BASE_TYPE_STRING", "Must be a string.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return _field_error("URL_TYPE_INVALID_SCHEME",
                            f"Scheme \"{parts.scheme}\" is not supported. Scheme must be one of ('http', 'https').")
    if "." not in (parts.hostname or ""):
        return _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    return None


# ---------------------------------------------------------------------------------------------
# Mattermost (https://developers.mattermost.com/integrate/webhooks/incoming/, .../reference/
# message-attachments, .../plugins/interactive-messages; web/webhook.go, app/webhook.go,
# app/integration_action.go, api4/action.go, i18n/en.json)

_MM_ID = string.ascii_lowercase + string.digits


def _mattermost_error(status: int, error_id: str, message: str) -> Refused:
    doc = {"id": error_id, "message": message, "detailed_error": "", "request_id": _random_id(26, _MM_ID),
           "status_code": status}
    return Refused(message, json_reply(status, doc))


class FakeMattermost(_Fake):
    """Mattermost's incoming webhooks, ``POST /hooks/<key>``: JSON (or ``payload=`` in a form)
    with text and/or attachments; 200 with ``ok`` as text/plain. ``press`` clicks a message
    button as the Mattermost server does for the person who clicked it.

    Mattermost routes a click to ``/api/v4/posts/<post>/actions/<action id>`` only when the id
    is alphanumeric; it stores a post whose action id has a ``-`` or ``_`` without complaint, but
    that button answers 404 forever. The fake accepts such a post too, notes it in ``problems``,
    and ``press`` fails with 404 as the server would."""

    MAX_POST_RUNES = 16383

    def __init__(self, hooks: dict[str, str] | None = None, team: str = "callgoose", port: int = 0):
        super().__init__(port)
        self.hooks = dict(hooks or {_random_id(26, _MM_ID): "alerts"})  # key -> channel name
        self.key = next(iter(self.hooks))
        self.team, self.team_id = team, _random_id(26, _MM_ID)
        self.channel_ids: dict[str, str] = {}
        self.problems: list[str] = []
        self.presses: list[dict] = []  # what press() sent, and the answer

    @property
    def url(self) -> str:
        return f"{self.base}/hooks/{self.key}"

    def _channel_id(self, name: str) -> str:
        return self.channel_ids.setdefault(name, _random_id(26, _MM_ID))

    def _failure(self, status: int) -> Reply:
        return _mattermost_error(status, "web.incoming_webhook.general.app_error", "injected failure").reply

    def _answer(self, request: Request) -> Reply:
        match = re.fullmatch(r"/hooks/([A-Za-z0-9]+)", request.path)
        if match is None:
            raise _mattermost_error(404, "api.context.404.app_error", "Sorry, we could not find the page.")
        if request.method != "POST":
            raise Refused("method not allowed", Reply(405))
        key = match.group(1)
        doc = self._payload(request)
        if not doc.get("text") and doc.get("attachments") is None:
            raise _mattermost_error(400, "web.incoming_webhook.text.app_error", "No text specified.")
        if key not in self.hooks:
            raise _mattermost_error(400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
        text = doc.get("text") or ""
        attachments = doc.get("attachments") or []
        for attachment in attachments:
            for item in attachment.get("fields") or []:
                if item.get("value") is not None and not isinstance(item["value"], str):
                    item["value"] = json.dumps(item["value"])  # Mattermost's StringifySlackFieldValue
            for action in attachment.get("actions") or []:
                if not action.get("id"):
                    action["id"] = _random_id(26, _MM_ID)  # Mattermost's GenerateActionIds
                elif not re.fullmatch(r"[A-Za-z0-9]+", action["id"]):
                    with self.lock:
                        self.problems.append(f"action id {action['id']!r} is not alphanumeric: Mattermost keeps "
                                             "the post, but clicking the button answers 404")
        channel = doc.get("channel") or self.hooks[key]
        parts = [text[i:i + self.MAX_POST_RUNES] for i in range(0, len(text), self.MAX_POST_RUNES)] or [""]
        record = {"hook": key, "post_id": _random_id(26, _MM_ID), "channel": channel,
                  "channel_id": self._channel_id(channel), "text": text, "username": doc.get("username") or "",
                  "icon_url": doc.get("icon_url") or "", "props": doc.get("props") or {}, "attachments": attachments,
                  "type": doc.get("type") or "", "posts": len(parts), "content_type": request.media_type}
        self._accept(record)
        return Reply(200, b"ok", "text/plain")

    def _payload(self, request: Request) -> dict:
        """The body as Mattermost decodes it into its IncomingWebhookRequest (control characters
        inside strings are tolerated, types are not)."""
        body = request.body
        if request.media_type == "application/x-www-form-urlencoded":
            body = parse_qs(body.decode(errors="replace")).get("payload", [""])[0].encode()
        try:
            doc = json.loads(body, strict=False)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not _mattermost_types(doc):
            raise _mattermost_error(400, "model.incoming_hook.parse_data.app_error", "Unable to parse incoming data.")
        return doc

    def press(self, post: dict, action_name: str, user_id: str = "u" * 26, user_name: str = "responder") -> dict:
        """Click the button named ``action_name`` of an accepted ``post`` as Mattermost's server
        does: POST to the action's integration URL with the person, channel, team, post and the
        action's context; the integration must answer 200 (with JSON, or nothing). Returns the
        parsed answer ({} when empty); raises ClickFailed as the person would see it failing."""
        action = next((a for att in post["attachments"] for a in att.get("actions") or []
                       if a.get("name") == action_name), None)
        if action is None:
            raise ValueError(f"no action named {action_name!r} in post {post['post_id']}")
        if not re.fullmatch(r"[A-Za-z0-9]+", action["id"]):
            raise ClickFailed(404, "404 page not found")  # the router never matches the action's URL
        integration = action.get("integration") or {}
        if not integration.get("url"):
            raise ClickFailed(404, "api.post.do_action.action_id.app_error")
        upstream = {"user_id": user_id, "user_name": user_name, "channel_id": post["channel_id"],
                    "channel_name": post["channel"], "team_id": self.team_id, "team_domain": self.team,
                    "post_id": post["post_id"], "trigger_id": base64.b64encode(secrets.token_bytes(48)).decode(),
                    "type": action.get("type", ""), "data_source": ""}
        if integration.get("context"):
            upstream["context"] = integration["context"]
        request = urllib.request.Request(integration["url"], data=json.dumps(upstream).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        self.presses.append({"sent": upstream, "status": status, "answer": text})
        if status != 200:
            raise ClickFailed(400, f"api.post.do_action.action_integration.app_error status={status}")
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            raise ClickFailed(400, "api.post.do_action.action_integration.app_error (not JSON)") from None
        if not isinstance(answer, dict):
            raise ClickFailed(400, "api.post.do_action.action_integration.app_error (not an object)")
        return answer


def _mattermost_types(doc: dict) -> bool:
    """Whether Go's decoder fills an IncomingWebhookRequest from ``doc`` (wrong types fail)."""
    def is_str(value):
        return value is None or isinstance(value, str)

    if not all(is_str(doc.get(k)) for k in ("text", "username", "icon_url", "channel", "icon_emoji", "type")):
        return False
    if doc.get("props") is not None and not isinstance(doc["props"], dict):
        return False
    attachments = doc.get("attachments")
    if attachments is None:
        return True
    if not isinstance(attachments, list):
        return False
    for attachment in attachments:
        if not isinstance(attachment, dict):
            return False
        if not all(is_str(attachment.get(k)) for k in ("fallback", "color", "pretext", "title", "title_link", "text",
                                                        "author_name", "author_link", "author_icon", "image_url",
                                                        "thumb_url", "footer", "footer_icon")):
            return False
        for item in attachment.get("fields") or []:
            if not isinstance(item, dict) or not is_str(item.get("title")) \
                    or not isinstance(item.get("short", False), bool):
                return False
        actions = attachment.get("actions")
        if actions is not None and not isinstance(actions, list):
            return False
        for action in actions or []:
            if not isinstance(action, dict) or not all(is_str(action.get(k)) for k in ("id", "name", "type", "style")):
                return False
            integration = action.get("integration")
            if integration is not None and (not isinstance(integration, dict) or not is_str(integration.get("url"))
                                            or not isinstance(integration.get("context") or {}, dict)):
                return False
    return True
