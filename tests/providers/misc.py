"""Pushover, Matrix, a generic SMS gateway and Slack as loopback HTTP servers for the contact-method
tests. Each checks a request as the provider documents, answers as the provider does (status,
body, error wording), records every request, and can be told to answer the next requests with a
chosen status (``fail_next``). Where a provider documents no wording (Pushover's length limits,
Slack's used-up response_url), the fake's own is used and marked so: tests should check the
status and the field at fault there, not those words."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from receivers import _Loopback, _Server

# -- the common part ---------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def _json(status: int, doc, headers: dict | None = None) -> Answer:
    return Answer(status, json.dumps(doc).encode(), "application/json", headers or {})


def _text(status: int, text: str, headers: dict | None = None, content_type: str = "text/plain; charset=utf-8"):
    return Answer(status, text.encode(), content_type, headers or {})


def _form(text: str) -> dict:
    return {name: values[0] for name, values in parse_qs(text, keep_blank_values=True).items()}


def _record(handler: BaseHTTPRequestHandler, raw: bytes) -> dict:
    """One request as the fakes keep it: header names lower-cased, ``body`` the raw bytes,
    ``json`` and ``form`` parsed when the content type says so (else None)."""
    parts = urlsplit(handler.path)
    headers = {name.lower(): value for name, value in handler.headers.items()}
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    doc = form = None
    if kind == "application/json" or kind.endswith("+json"):
        try:
            doc = json.loads(raw)
        except ValueError:
            pass
    elif kind == "application/x-www-form-urlencoded":
        form = _form(raw.decode("utf-8", "replace"))
    return {"method": handler.command, "path": parts.path, "query": _form(parts.query), "headers": headers,
            "body": raw, "json": doc, "form": form, "at": time.time()}


def _post(url: str, body: bytes, headers: dict, client=None) -> tuple[int, str]:
    """POST as a provider calls back: to a real URL, or through a Flask test client."""
    if client is not None:
        parts = urlsplit(url)
        response = client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8", "replace")


class _Fake(_Loopback):
    """A provider on a loopback port. Every request lands in ``requests`` with the status it got;
    requests are handled one at a time, so a fake's state never races."""

    def __init__(self):
        self.requests: list[dict] = []
        self.lock = threading.Condition()
        self._failures: list[tuple[int, int | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = fake._handle(_record(self, raw))
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def _handle(self, record: dict) -> Answer:
        with self.lock:
            forced = self._failures.pop(0) if self._failures else None
            try:
                answer = self._failure(*forced) if forced else self._answer(record)
            except Exception as exc:  # a fault in the fake itself: loud, never a silent hang-up
                record["fake_error"] = repr(exc)
                answer = _text(500, f"fake error: {exc!r}")
            record["status"] = answer.status
            self.requests.append(record)
            self.lock.notify_all()
        return answer

    def fail_next(self, count: int, status: int = 500, retry_after: int | None = None) -> None:
        """Answer the next ``count`` requests with ``status``, in the provider's error format
        (with ``Retry-After`` when given)."""
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def wait(self, count: int, timeout: float = 10) -> list[dict]:
        """The requests once there are ``count`` of them (fails after ``timeout`` seconds)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return list(self.requests)

    def _failure(self, status: int, retry_after: int | None) -> Answer:
        answer = self._error_answer(status)
        if retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        return answer

    def _error_answer(self, status: int) -> Answer:
        return _json(status, {"error": f"HTTP {status}"})

    def _answer(self, record: dict) -> Answer:
        raise NotImplementedError


# -- Pushover ---------------------------------------------------------------------------------

PUSHOVER_TOKEN = "aCallgooseTestApplicationTok01"
PUSHOVER_USER = "uCallgooseTestUserKey000000001"
_KEY = re.compile(r"[A-Za-z0-9]{30}")
_LIMITS = {"message": 1024, "title": 250, "url": 512, "url_title": 100}


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class FakePushover(_Fake):
    """Pushover for one application (https://pushover.net/api): messages.json, receipts and
    their cancel, users/validate.json; form-encoded or JSON (multipart attachments are not
    parsed). A refusal is HTTP 400 (404 for an unknown receipt) with ``status`` 0, ``errors``,
    one key per parameter at fault and a ``request`` id, all faults at once after the token.
    Emergency retries are not repeated; ``retry`` and ``expire`` are kept. ``clock`` can be
    replaced to move receipts in time."""

    def __init__(self, token: str = PUSHOVER_TOKEN, limit: int = 10000):
        super().__init__()
        self.token, self.limit = token, limit
        self.users: dict[str, list[str]] = {}
        self.groups: set[str] = set()
        self.messages: list[dict] = []
        self.receipts: dict[str, dict] = {}
        self.clock = time.time
        self.api = self.base + "/1"

    def add_user(self, user_key: str, devices=("phone",), group: bool = False) -> str:
        """A user key (or, with ``group``, a delivery group's key) this application may send to."""
        if not _KEY.fullmatch(user_key):
            raise ValueError("Pushover user and group keys are 30 letters and digits")
        self.users[user_key] = list(devices)
        if group:
            self.groups.add(user_key)
        return user_key

    def acknowledge(self, receipt: str, device: str = "phone", user: str | None = None,
                    client=None) -> tuple[int, str] | None:
        """``user`` (the message's user; for a group, name the member) acknowledges on ``device``.
        With a callback URL, POST to it as Pushover does and return its (status, body); None when
        there is no callback or the receipt was acknowledged before (only the first one counts)."""
        with self.lock:
            state = self.receipts[receipt]
            message, user = state["message"], user or state["message"]["user"]
            if state["acknowledged"]:
                return None
            if state["cancelled"] or self._expired(state):
                raise ValueError(f"receipt {receipt} is no longer sounding: it cannot be acknowledged")
            if device not in self.users.get(user, ()):
                raise ValueError(f"{device!r} is not a device of {user}")
            now = int(self.clock())
            state.update(acknowledged=True, acknowledged_at=now, acknowledged_by=user, acknowledged_by_device=device)
        if not message.get("callback"):
            return None
        fields = {"receipt": receipt, "acknowledged": "1", "acknowledged_at": str(now),
                  "acknowledged_by": user, "acknowledged_by_device": device}
        answer = _post(message["callback"], urlencode(fields).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded"}, client)
        with self.lock:
            state["callbacks"].append(answer)
            if 200 <= answer[0] < 300 and not state["called_back_at"]:
                state["called_back_at"] = int(self.clock())
        return answer

    def expire(self, receipt: str) -> None:
        with self.lock:
            self.receipts[receipt]["expired"] = True

    def _expired(self, state: dict) -> bool:
        return state["expired"] or self.clock() >= state["expires_at"]

    def _error(self, status: int, fields: dict, errors: list[str]) -> Answer:
        return _json(status, {**fields, "errors": errors, "status": 0, "request": str(uuid.uuid4())})

    def _error_answer(self, status: int) -> Answer:  # the fake's wording
        return self._error(status, {}, ["over the application's message limit" if status == 429 else "server error"])

    def _answer(self, req: dict) -> Answer:
        params = {**req["query"], **(req["form"] or {})}
        if isinstance(req["json"], dict):
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in req["json"].items()})
        if params.get("token") != self.token:
            return self._error(400, {"token": "invalid"}, ["application token is invalid"])
        path, method = req["path"], req["method"]
        if (path, method) == ("/1/messages.json", "POST"):
            return self._message(params)
        if (path, method) == ("/1/users/validate.json", "POST"):
            return self._validate(params)
        match = re.fullmatch(r"/1/receipts/([^/]+?)(/cancel)?\.json", path)
        if match and method == ("POST" if match.group(2) else "GET"):
            state = self.receipts.get(match.group(1))
            if state is None:
                return self._error(404, {"receipt": "not found"}, ["receipt not found; may be invalid or expired"])
            if match.group(2):
                state["cancelled"] = True
                return _json(200, {"status": 1, "request": str(uuid.uuid4())})
            return _json(200, self._receipt(state))
        return self._error(404, {}, ["not found"])

    def _message(self, p: dict) -> Answer:
        fields, errors = {}, []

        def fault(name: str, what: str, error: str | None = None):
            fields[name] = what
            errors.append(error or f"{name} {what}")

        user, priority = p.get("user", ""), p.get("priority") or "0"
        if user not in self.users:
            fault("user", "invalid", "user identifier is not a valid user, group, or subscribed user key")
        if not p.get("message", "").strip():
            fault("message", "cannot be blank")
        for name, limit in _LIMITS.items():  # the fake's wording
            if len(p.get(name, "")) > limit:
                fault(name, f"cannot be longer than {limit} characters")
        if priority not in {"-2", "-1", "0", "1", "2"}:
            fault("priority", "is invalid, can only be -2, -1, 0, 1, or 2", "priority is invalid")
        if priority == "2":  # the documented limits, in the fake's wording
            retry, expire = _int(p.get("retry")), _int(p.get("expire"))
            for name, value in (("retry", retry), ("expire", expire)):
                if not p.get(name):
                    fault(name, "must be supplied with priority=2")
                elif value is None or value < 1:
                    fault(name, "is invalid")
            if retry is not None and 1 <= retry < 30:
                fault("retry", "must be at least 30 seconds")
            if expire is not None and expire > 10800:
                fault("expire", "cannot be more than 10800 seconds")
        if p.get("callback") and not re.match(r"https?://[^\s/?#]+", p["callback"]):
            fault("callback", "is not a valid URL")
        if p.get("device") and user in self.users and set(p["device"].split(",")) - set(self.users[user]):
            fault("device", "invalid for this user", "device name is not valid for this user")
        if p.get("html") == "1" and p.get("monospace") == "1":
            fields.update(html="cannot be set with monospace", monospace="cannot be set with html")
            errors.append("html and monospace are mutually exclusive")
        if p.get("timestamp") and _int(p["timestamp"]) is None:
            fault("timestamp", "is invalid")
        if p.get("ttl") and (_int(p["ttl"]) is None or _int(p["ttl"]) <= 0):
            fault("ttl", "is invalid")
        if errors:
            return self._error(400, fields, errors)
        if len(self.messages) >= self.limit:
            return self._error_answer(429)
        now = int(self.clock())
        doc = {"status": 1, "request": str(uuid.uuid4())}
        message = {**p, "request": doc["request"], "at": now}
        if priority == "2":
            receipt = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(30))
            doc["receipt"] = message["receipt"] = receipt
            self.receipts[receipt] = {"message": message, "sent_at": now, "expires_at": now + int(p["expire"]),
                                      "acknowledged": False, "acknowledged_at": 0, "acknowledged_by": "",
                                      "acknowledged_by_device": "", "expired": False, "cancelled": False,
                                      "called_back_at": 0, "callbacks": []}
        self.messages.append(message)
        reset = (now // 2_592_000 + 1) * 2_592_000  # about a month ahead: a quota's reset time
        return _json(200, doc, {"X-Limit-App-Limit": str(self.limit),
                                "X-Limit-App-Remaining": str(self.limit - len(self.messages)),
                                "X-Limit-App-Reset": str(reset)})

    def _receipt(self, state: dict) -> dict:
        return {"status": 1, "acknowledged": int(state["acknowledged"]), "acknowledged_at": state["acknowledged_at"],
                "acknowledged_by": state["acknowledged_by"], "acknowledged_by_device": state["acknowledged_by_device"],
                "last_delivered_at": state["sent_at"], "expired": int(self._expired(state)),
                "expires_at": state["expires_at"], "called_back": int(bool(state["called_back_at"])),
                "called_back_at": state["called_back_at"], "request": str(uuid.uuid4())}

    def _validate(self, p: dict) -> Answer:
        devices = self.users.get(p.get("user", ""))
        if devices is None:
            return self._error(400, {"user": "invalid"}, ["user key is invalid"])
        if p.get("device") and p["device"] not in devices:
            return self._error(400, {"device": "invalid for this user"}, ["device name is not valid for this user"])
        return _json(200, {"status": 1, "group": int(p["user"] in self.groups), "devices": devices,
                           "licenses": ["Android", "iOS"], "request": str(uuid.uuid4())})


# -- Matrix -----------------------------------------------------------------------------------

_SEND = re.compile(r"/_matrix/client/(?:v3|r0)/rooms/([^/]+)/send/([^/]+)/([^/]+)")
_WHOAMI = re.compile(r"/_matrix/client/(?:v3|r0)/account/whoami")
_VERSIONS = ["r0.5.0", "r0.6.0", "r0.6.1"] + [f"v1.{n}" for n in range(1, 13)]


def _matrix_error(status: int, errcode: str, error: str, **extra) -> Answer:
    return _json(status, {"errcode": errcode, "error": error, **extra})


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class FakeMatrix(_Fake):
    """A Matrix homeserver's client-server API (spec v1.x), as much as a bot that posts needs:
    send a room event, whoami, versions. Access token in ``Authorization: Bearer`` or in the
    older ``?access_token=``. Transaction ids are scoped to the device, as the spec says since
    v1.7: the same txnId from a token of the same device (a refreshed one too) gives the first
    event_id back and posts nothing; the cache is keyed on the room and event type too, as
    Synapse's is. Content that the spec forbids but homeservers store anyway (an m.room.message
    without body) is accepted and noted in ``problems``."""

    def __init__(self, user_id: str = "@bot:example.org", access_token: str = "syt_Ym90_callgoose_test",
                 device_id: str = "CALLGOOSE"):
        super().__init__()
        self.user_id, self.access_token, self.device_id = user_id, access_token, device_id
        self.tokens: dict[str, tuple[str, str]] = {access_token: (user_id, device_id)}
        self.members: dict[str, set[str]] = {}
        self.events: list[dict] = []
        self.problems: list[str] = []
        self._txns: dict[tuple, str] = {}

    def add_token(self, token: str, user_id: str, device_id: str) -> None:
        self.tokens[token] = (user_id, device_id)

    def join(self, room_id: str, user_id: str | None = None) -> None:
        self.members.setdefault(room_id, set()).add(user_id or self.user_id)

    def messages(self, room_id: str) -> list[dict]:
        return [e for e in self.events if e["room_id"] == room_id and e["type"] == "m.room.message"]

    def _error_answer(self, status: int) -> Answer:
        return _matrix_error(status, "M_UNKNOWN", "Internal server error")

    def _failure(self, status: int, retry_after: int | None) -> Answer:
        if status != 429:
            return super()._failure(status, retry_after)
        seconds = 2 if retry_after is None else retry_after  # in the body and, since v1.10, Retry-After
        answer = _matrix_error(429, "M_LIMIT_EXCEEDED", "Too Many Requests", retry_after_ms=seconds * 1000)
        answer.headers["Retry-After"] = str(seconds)
        return answer

    def _answer(self, req: dict) -> Answer:
        path, method = req["path"], req["method"]
        if path == "/_matrix/client/versions":
            if method != "GET":
                return _matrix_error(405, "M_UNRECOGNIZED", "Unrecognized request")
            return _json(200, {"versions": _VERSIONS, "unstable_features": {}})
        send, whoami = _SEND.fullmatch(path), _WHOAMI.fullmatch(path)
        if not (send or whoami):
            return _matrix_error(404, "M_UNRECOGNIZED", "Unrecognized request")
        if method != ("PUT" if send else "GET"):
            return _matrix_error(405, "M_UNRECOGNIZED", "Unrecognized request")
        header = req["headers"].get("authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else req["query"].get("access_token")
        if not token:
            return _matrix_error(401, "M_MISSING_TOKEN", "Missing access token")
        if token not in self.tokens:
            return _matrix_error(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", soft_logout=False)
        user, device = self.tokens[token]
        if whoami:
            return _json(200, {"user_id": user, "device_id": device, "is_guest": False})
        room, event_type, txn = (unquote(part) for part in send.groups())
        key = (user, device, room, event_type, txn)
        if key in self._txns:
            return _json(200, {"event_id": self._txns[key]})
        try:
            content = json.loads(req["body"], parse_constant=_reject_constant)
        except ValueError:
            return _matrix_error(400, "M_NOT_JSON", "Content not JSON.")
        if not isinstance(content, dict):
            return _matrix_error(400, "M_BAD_JSON", "Content must be a JSON object.")
        if user not in self.members.get(room, set()):
            return _matrix_error(403, "M_FORBIDDEN", f"User {user} not in room {room}")
        if event_type == "m.room.message":
            self._check_message(content)
        event_id = "$" + secrets.token_urlsafe(32)
        self.events.append({"room_id": room, "event_id": event_id, "type": event_type, "sender": user,
                            "content": content, "txn_id": txn, "origin_server_ts": int(time.time() * 1000)})
        self._txns[key] = event_id
        return _json(200, {"event_id": event_id})

    def _check_message(self, content: dict) -> None:
        if not isinstance(content.get("msgtype"), str):
            self.problems.append(f"m.room.message without a msgtype: {content}")
        if not isinstance(content.get("body"), str):
            self.problems.append(f"m.room.message without a body: {content}")
        fmt, formatted = content.get("format"), content.get("formatted_body")
        if (fmt is None) != (formatted is None):
            self.problems.append(f"format and formatted_body come together: {content}")
        elif fmt is not None and fmt != "org.matrix.custom.html":
            self.problems.append(f"unknown format {fmt!r}")


# -- a generic SMS gateway --------------------------------------------------------------------

class FakeSmsGateway(_Fake):
    """Any HTTP SMS gateway (an SMS app on a phone, a provider's REST API): records every request
    and answers ``status`` with ``body`` (a dict or list as JSON, a str as text). With
    ``require_header=(name, value)``, a request without that header value gets 401."""

    def __init__(self, status: int = 200, body="ok", require_header: tuple[str, str] | None = None):
        super().__init__()
        self.status, self.body, self.require_header = status, body, require_header
        self.url = self.base + "/"

    def _answer(self, req: dict) -> Answer:
        if self.require_header is not None:
            name, value = self.require_header
            if not hmac.compare_digest(req["headers"].get(name.lower(), "").encode(), value.encode()):
                return _json(401, {"error": "unauthorized"})
        if isinstance(self.body, (dict, list)):
            return _json(self.status, self.body)
        return _text(self.status, self.body)


# -- Slack ------------------------------------------------------------------------------------

_BLOCK_FIELDS = {"section": {"type", "block_id", "text", "fields", "accessory", "expand"},
                 "actions": {"type", "block_id", "elements"}, "context": {"type", "block_id", "elements"},
                 "divider": {"type", "block_id"}, "header": {"type", "block_id", "text"}}
_BUTTON_FIELDS = {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"}
_OTHER_ELEMENTS = {"static_select", "external_select", "users_select", "conversations_select", "channels_select",
                   "multi_static_select", "overflow", "datepicker", "timepicker", "checkboxes", "radio_buttons"}


def _text_fault(obj, where: str, limit: int = 3000, plain_only: bool = False) -> str | None:
    kinds = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return f"{where} must be a {' or '.join(sorted(kinds))} text object"
    allowed = {"type", "text", "emoji"} if obj["type"] == "plain_text" else {"type", "text", "verbatim"}
    if set(obj) - allowed:
        return f"{where} has unknown fields {sorted(set(obj) - allowed)}"
    if not isinstance(obj.get("text"), str) or not 1 <= len(obj["text"]) <= limit:
        return f"{where}.text must be 1 to {limit} characters"
    return None


def _element_fault(element, where: str) -> str | None:
    if not isinstance(element, dict) or element.get("type") not in _OTHER_ELEMENTS | {"button"}:
        return f"{where} is not a known interactive element"
    limits = {"action_id": 255, "value": 2000, "url": 3000, "accessibility_label": 75}
    if element["type"] != "button":  # only their action_id is checked
        limits = {"action_id": 255}
    elif set(element) - _BUTTON_FIELDS:
        return f"{where} has unknown fields {sorted(set(element) - _BUTTON_FIELDS)}"
    elif fault := _text_fault(element.get("text"), f"{where}.text", 75, plain_only=True):
        return fault
    elif element.get("style", "primary") not in ("primary", "danger"):
        return f"{where}.style must be primary or danger"
    for name, limit in limits.items():
        if name in element and (not isinstance(element[name], str) or not 1 <= len(element[name]) <= limit):
            return f"{where}.{name} must be 1 to {limit} characters"
    return None


def _block_fault(block: dict, where: str) -> str | None:
    kind = block["type"]
    if kind == "header":
        return _text_fault(block.get("text"), f"{where}.text", 150, plain_only=True)
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return f"{where} needs text or fields"
        faults = []
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                return f"{where}.fields must hold 1 to 10 text objects"
            faults += [_text_fault(f, f"{where}.fields[{i}]", 2000) for i, f in enumerate(fields)]
        if "text" in block:
            faults.append(_text_fault(block["text"], f"{where}.text"))
        if "accessory" in block:
            faults.append(_element_fault(block["accessory"], f"{where}.accessory"))
        return next((f for f in faults if f), None)
    if kind in ("context", "actions"):
        elements, most = block.get("elements"), 10 if kind == "context" else 25
        if not isinstance(elements, list) or not 1 <= len(elements) <= most:
            return f"{where}.elements must hold 1 to {most} elements"
        action_ids = [e.get("action_id") for e in elements if isinstance(e, dict) and "action_id" in e]
        if len(action_ids) != len(set(action_ids)):
            return f"{where} uses an action_id twice"
        for i, element in enumerate(elements):
            fault = (_element_fault(element, f"{where}.elements[{i}]") if kind == "actions"
                     else _context_fault(element, f"{where}.elements[{i}]"))
            if fault:
                return fault
    return None


def _context_fault(element, where: str) -> str | None:
    if isinstance(element, dict) and element.get("type") == "image":
        ok = (set(element) <= {"type", "image_url", "alt_text"} and isinstance(element.get("image_url"), str)
              and 1 <= len(element["image_url"]) <= 3000 and isinstance(element.get("alt_text"), str)
              and 1 <= len(element["alt_text"]) <= 2000)
        return None if ok else f"{where} is not a valid image element"
    return _text_fault(element, where)


def blocks_fault(blocks: list) -> str | None:
    """Why Slack would answer ``invalid_blocks`` to these blocks (None: it would take them).
    Checked in outline: section, actions, context, divider and header blocks; buttons fully."""
    if len(blocks) > 50:
        return "more than 50 blocks"
    block_ids = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_FIELDS:
            return f"{where} is not a known block type"
        if set(block) - _BLOCK_FIELDS[block["type"]]:
            return f"{where} has unknown fields {sorted(set(block) - _BLOCK_FIELDS[block['type']])}"
        if "block_id" in block:
            if not isinstance(block["block_id"], str) or not 1 <= len(block["block_id"]) <= 255:
                return f"{where}.block_id must be 1 to 255 characters"
            if block["block_id"] in block_ids:
                return f"{where}.block_id is used twice"
            block_ids.add(block["block_id"])
        if fault := _block_fault(block, where):
            return fault
    return None


def _slack_message(req: dict, may_be_empty: bool = False) -> tuple[dict | None, tuple[str, str] | None]:
    """A message posted to a webhook or response_url: (the message, None) or (None, (Slack's
    answer, why)). Slack takes the JSON as the body or as a form's ``payload``."""
    raw = req["form"]["payload"].encode() if req["form"] and "payload" in req["form"] else req["body"]
    try:
        doc = json.loads(raw)
    except ValueError:
        return None, ("invalid_payload", "the body is not JSON")
    if not isinstance(doc, dict):
        return None, ("invalid_payload", "the body is not a JSON object")
    blocks = doc.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        return None, ("invalid_blocks_format", "blocks is not a list")
    has_text = isinstance(doc.get("text"), str) and doc["text"].strip()
    if not (blocks or has_text or doc.get("attachments") or may_be_empty):
        return None, ("no_text", "neither text nor blocks")
    if fault := blocks_fault(blocks or []):
        return None, ("invalid_blocks", fault)
    return doc, None


class FakeSlackWebhook(_Fake):
    """A Slack incoming webhook: POST JSON to its ``url``. Answers 200 ``ok``; 400 with
    ``invalid_payload``, ``no_text``, ``invalid_blocks_format`` or ``invalid_blocks`` (the
    reason goes to ``problems``); 404 ``no_service`` on any other path."""

    def __init__(self, path: str = "/services/T0CALLGOOSE/B0CALLGOOSE/cgTestWebhookSecret00001"):
        super().__init__()
        self.url = self.base + path
        self.path = path
        self.messages: list[dict] = []
        self.problems: list[str] = []

    def _error_answer(self, status: int) -> Answer:  # the fake's wording
        return _text(status, "rate_limited" if status == 429 else "internal_error", content_type="text/html")

    def _answer(self, req: dict) -> Answer:
        if req["method"] != "POST" or req["path"] != self.path:
            return _text(404, "no_service", content_type="text/html")
        doc, refusal = _slack_message(req)
        if refusal:
            self.problems.append(f"{refusal[0]}: {refusal[1]}")
            return _text(400, refusal[0], content_type="text/html")
        self.messages.append(doc)
        return _text(200, "ok", content_type="text/html")


class SlackResponseRecorder(_Fake):
    """Response URLs as Slack hands them out in interaction payloads (``url_for(name)``): each
    takes JSON messages (``text``, ``blocks``, ``replace_original``, ``delete_original``,
    ``response_type``), checked like a webhook's, and answers ``ok``. Slack allows five uses
    of one response_url; a sixth is refused with 404 ``used_url`` (the fake's wording). The 30
    minutes a response_url lives are not modelled. Accepted messages land in ``accepted`` as
    (name, message)."""

    def __init__(self, uses: int = 5):
        super().__init__()
        self.uses = uses
        self.accepted: list[tuple[str, dict]] = []

    def url_for(self, name: str = "1") -> str:
        return f"{self.base}/actions/{name}"

    def _answer(self, req: dict) -> Answer:
        match = re.fullmatch(r"/actions/([^/]+)", req["path"])
        if req["method"] != "POST" or match is None:
            return _text(404, "no_service", content_type="text/html")
        req["name"] = name = match.group(1)
        if sum(1 for used, _ in self.accepted if used == name) >= self.uses:
            return _text(404, "used_url", content_type="text/html")
        deleting = isinstance(req["json"], dict) and req["json"].get("delete_original") is True
        doc, refusal = _slack_message(req, may_be_empty=deleting)
        if refusal:
            return _text(400, refusal[0], content_type="text/html")
        self.accepted.append((name, doc))
        return _text(200, "ok", content_type="text/html")


def slack_signature(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """``X-Slack-Signature`` as Slack computes it: v0= and the hex HMAC-SHA256 of
    ``v0:<timestamp>:<raw body>`` keyed with the app's signing secret."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def slack_press(url: str, signing_secret: str, payload: dict, timestamp: int | None = None,
                client=None) -> tuple[int, str]:
    """What Slack does when someone presses a button in a message: POST ``payload=<json>``,
    form-encoded and signed, to the app's request URL (or through a Flask test client).
    Returns the app's (status, body)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(timestamp),
               "X-Slack-Signature": slack_signature(signing_secret, timestamp, body),
               "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    return _post(url, body, headers, client)


def block_actions_payload(message: dict, action_id: str, *, response_url: str, user_id: str = "U0CALLGOOSE",
                          username: str = "responder", team_id: str = "T0CALLGOOSE",
                          team_domain: str = "callgoose-test", channel_id: str = "C0CALLGOOSE",
                          channel_name: str = "oncall", message_ts: str | None = None) -> dict:
    """The ``block_actions`` payload Slack sends when the button ``action_id`` of ``message``
    (as posted: text and blocks) is pressed. A block without a block_id gets one made up, as
    Slack does."""
    for block in message.get("blocks") or []:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
        for element in elements:
            if isinstance(element, dict) and (element.get("type"), element.get("action_id")) == ("button", action_id):
                break
        else:
            continue
        break
    else:
        raise LookupError(f"no button with action_id {action_id!r} in the message")
    now = time.time()
    message_ts = message_ts or f"{now - 5:.6f}"
    block_id = block.get("block_id") or secrets.token_urlsafe(4)[:5]
    action = {"type": "button", "action_id": action_id, "block_id": block_id, "text": element["text"],
              "action_ts": f"{now:.6f}"}
    action.update({k: element[k] for k in ("value", "style") if k in element})
    return {"type": "block_actions",
            "user": {"id": user_id, "username": username, "name": username, "team_id": team_id},
            "api_app_id": "A0CALLGOOSE", "token": "cgUnusedVerificationToken",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
            "trigger_id": f"{int(now)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
            "team": {"id": team_id, "domain": team_domain}, "enterprise": None, "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": channel_name},
            "message": {"type": "message", "subtype": "bot_message", "text": message.get("text", ""), "ts": message_ts,
                        "bot_id": "B0CALLGOOSE", "blocks": message.get("blocks") or []},
            "state": {"values": {}}, "response_url": response_url, "actions": [action]}
