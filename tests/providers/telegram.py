"""A Telegram Bot API on loopback for the coming ``telegram`` contact method.

It answers ``/bot<token>/<method>`` as https://core.telegram.org/bots/api documents: parameters
in the query string, an ``application/x-www-form-urlencoded``, ``application/json`` or
``multipart/form-data`` body, GET or POST, method names in any case; ``{"ok": true, "result": ...}``
or ``{"ok": false, "error_code": ..., "description": ...}`` with Telegram's own descriptions.
Only the methods a pager needs exist here (getMe, sendMessage, editMessageText,
answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo, getUpdates); any other name is
answered 404 like an unknown method, so a client that starts using one finds out.

What it checks is what Telegram refuses: an unknown chat, text empty or over 4096 characters after
the HTML is parsed, HTML outside Telegram's short list of tags or left unclosed, inline buttons
without exactly one action or with ``callback_data`` outside 1-64 bytes, an edit that changes
nothing, an answer to a callback query that is not pending, a webhook that is not HTTPS or has a
bad secret, getUpdates while a webhook is set or while another getUpdates waits. The test side
plays the users: ``message_to_bot`` and ``press`` make updates, delivered as Telegram does (POSTed
to the webhook with its secret header and retried on a non-2xx answer, else queued for a
long-polling getUpdates). Knobs answer the next calls 429 with ``retry_after`` or 5xx.

Not modelled: Markdown parse modes (refused with a 400 saying so), entities given as a list,
automatic url/mention entities in plain text, group chats and channels, files, and methods
answered in the webhook's response body.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from receivers import _Loopback, _Server

MAX_TEXT = 4096  # sendMessage / editMessageText: "1-4096 characters after entities parsing"
MAX_CALLBACK_DATA = 64  # InlineKeyboardButton.callback_data: "1-64 bytes"
MAX_ANSWER_TEXT = 200  # answerCallbackQuery.text: "0-200 characters"
FIRST_UPDATE_ID = 817_000_001  # far from message ids, so a client mixing them up is caught
DEFAULT_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post", "callback_query")

# Telegram's HTML style: these tags and no others ("Only the tags mentioned above are currently supported").
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
         "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "span": "spoiler",
         "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
         "tg-emoji": "custom_emoji", "tg-time": "date_time"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}  # "only the following named HTML entities"
_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                   "callback_game", "pay")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PORTS = (80, 88, 443, 8443)
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_BAD_GATEWAY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


class ApiError(Exception):
    """An answer with ``ok: false``; raised inside a method and turned into the HTTP answer."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def document(self) -> dict:
        doc = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            doc["parameters"] = self.parameters
        return doc


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, as the Bot API's MessageEntity says."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# -- HTML parse mode ----------------------------------------------------------------------------

def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _entity_at(source: str, i: int) -> tuple[str, int] | None:
    """The character an HTML entity at ``source[i]`` (an ``&``) stands for and where it ends; None
    when it is not one Telegram knows (the ``&`` then stays as text)."""
    end = source.find(";", i + 1, i + 12)
    if end < 0:
        return None
    name = source[i + 1:end]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1
    try:
        if re.fullmatch(r"#\d+", name):
            return chr(int(name[1:])), end + 1
        if re.fullmatch(r"#[xX][0-9a-fA-F]+", name):
            return chr(int(name[2:], 16)), end + 1
    except (ValueError, OverflowError):
        return None
    return None


def _decode_entities(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        found = _entity_at(value, i) if value[i] == "&" else None
        if found:
            out.append(found[0])
            i = found[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _start_tag(source: str, i: int) -> tuple[str, dict, int]:
    """Parse the start tag at ``source[i]`` (a ``<``): its name, attributes and the index after it."""
    offset = _byte_offset(source, i)
    j = i + 1
    while j < len(source) and (source[j].isascii() and (source[j].isalnum() or source[j] == "-")):
        j += 1
    name = source[i + 1:j].lower()
    if name not in _TAGS:
        raise bad(f"can't parse entities: Unsupported start tag \"{name}\" at byte offset {offset}")
    attrs: dict[str, str] = {}
    while True:
        while j < len(source) and source[j].isspace():
            j += 1
        if j >= len(source):
            raise bad(f"can't parse entities: Unclosed start tag at byte offset {offset}")
        if source[j] == ">":
            return name, attrs, j + 1
        k = j
        while k < len(source) and source[k].isascii() and (source[k].isalnum() or source[k] in "-_"):
            k += 1
        if k == j:
            raise bad(f"can't parse entities: Empty attribute name in the tag \"{name}\" at byte offset {offset}")
        attribute = source[j:k].lower()
        while k < len(source) and source[k].isspace():
            k += 1
        value = ""
        if k < len(source) and source[k] == "=":
            k += 1
            while k < len(source) and source[k].isspace():
                k += 1
            if k < len(source) and source[k] in "\"'":
                close = source.find(source[k], k + 1)
                if close < 0:
                    raise bad(f"can't parse entities: Unclosed start tag at byte offset {offset}")
                value, k = source[k + 1:close], close + 1
            else:
                end = k
                while end < len(source) and not source[end].isspace() and source[end] != ">":
                    end += 1
                value, k = source[k:end], end
        attrs[attribute] = _decode_entities(value)
        j = k


def _entity(name: str, attrs: dict, offset: int, length: int, language: str | None) -> dict | None:
    kind = _TAGS[name]
    entity = {"type": kind, "offset": offset, "length": length}
    if name == "a":
        href = attrs.get("href")
        if not href:
            return None
        user = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user:
            return {"type": "text_mention", "offset": offset, "length": length,
                    "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""}}
        entity["url"] = href
    elif name == "pre" and language:
        entity["language"] = language
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif name == "tg-time":
        entity["unix_time"] = int(attrs.get("unix") or 0)
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    return entity


def parse_html(source: str) -> tuple[str, list[dict]]:
    """Text and entities of a message sent with ``parse_mode=HTML``, or the 400 Telegram answers
    ("can't parse entities: ...", with its byte offsets) for a tag it does not support, an
    unclosed or unmatched tag. Whitespace at either end is trimmed, as Telegram does."""
    text: list[str] = []
    units = 0  # UTF-16 length of the text so far
    stack: list[dict] = []  # open tags: name, attrs, where their text starts, a pre's language
    entities: list[dict] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            found = _entity_at(source, i)
            piece, i = (found[0], found[1]) if found else ("&", i + 1)
        elif char == "<" and source.startswith("</", i):
            offset = _byte_offset(source, i)
            end = source.find(">", i)
            if end < 0:
                raise bad(f"can't parse entities: Unclosed end tag at byte offset {offset}")
            name = source[i + 2:end].strip().lower()
            if not stack:
                raise bad(f"can't parse entities: Unexpected end tag at byte offset {offset}")
            top = stack.pop()
            if name != top["name"]:
                raise bad(f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                          f"expected \"</{top['name']}>\", found \"</{name}>\"")
            i = end + 1
            if name == "code" and stack and stack[-1]["name"] == "pre":  # <pre><code>: one pre entity
                language = top["attrs"].get("class", "")
                if language.startswith("language-"):
                    stack[-1]["language"] = language.removeprefix("language-")
                continue
            entity = _entity(name, top["attrs"], top["start"], units - top["start"], top.get("language"))
            if entity and entity["length"] > 0:
                entities.append(entity)
            continue
        elif char == "<":
            offset = _byte_offset(source, i)
            name, attrs, i = _start_tag(source, i)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise bad(f"can't parse entities: Tag \"span\" must have class \"tg-spoiler\" at byte offset {offset}")
            stack.append({"name": name, "attrs": attrs, "start": units})
            continue
        else:
            piece, i = char, i + 1
        text.append(piece)
        units += utf16_len(piece)
    if stack:
        raise bad(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]['name']}\"")
    return trim("".join(text), entities)


def trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram trims whitespace at both ends of a message; entities move and shrink with it."""
    stripped = text.strip()
    if not stripped:
        return "", []
    lead = utf16_len(text[:len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, kept


# -- parameters ---------------------------------------------------------------------------------

def _int(params: dict, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise bad(f"field \"{name}\" must be of type Integer")
    try:
        return int(value)
    except ValueError:
        raise bad(f"field \"{name}\" must be of type Integer") from None


def _bool(params: dict, name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _json(params: dict, name: str, what: str):
    """A parameter that is an object or array: JSON-serialized in a query or form, either way in JSON."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"can't parse {what}") from None
    return value


def _chat_id(params: dict) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise bad("chat_id is empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise bad("chat not found")  # @username addresses channels and supergroups, never a private chat


def _keyboard(params: dict, *, inline_only: bool) -> dict | None:
    """``reply_markup``, refused as Telegram refuses it; an inline keyboard is checked button by button."""
    if params.get("reply_markup") in (None, ""):
        return None
    markup = _json(params, "reply_markup", "reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad("can't parse inline keyboard markup JSON object")
        return markup  # reply keyboards and force_reply are stored as given, not modelled
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            if not isinstance(button.get("text"), str):
                raise bad("can't parse inline keyboard button: Field \"text\" must be of type String")
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if not actions:
                raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            if len(actions) > 1:  # the docs: "You must use exactly one of the optional fields"
                raise bad("can't parse inline keyboard button: exactly one of the optional fields must be used, "
                          f"got {', '.join(actions)}")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad("BUTTON_DATA_INVALID")
            if "url" in button:
                if not isinstance(button["url"], str) or not re.match(r"(?i)(https?|tg)://\S", button["url"]):
                    raise bad("BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Telegram does not follow a webhook's redirect: a 3xx is a wrong response."""

    def redirect_request(self, *args, **kwargs):
        return None


# -- the fake -----------------------------------------------------------------------------------

class FakeTelegram(_Loopback):
    """The Bot API for one bot token on a loopback port; ``api`` is the base a client puts the
    method name after (``https://api.telegram.org/bot<token>`` in production).

    ``loopback_webhooks`` lets setWebhook take ``http://`` and any port on 127.0.0.1 (as a local
    Bot API server in ``--local`` mode does); without it a webhook must be HTTPS on port 80, 88,
    443 or 8443 as Telegram requires. Updates are only ever POSTed to 127.0.0.1; ``webhook_context``
    verifies an HTTPS one (a self-signed certificate's context)."""

    def __init__(self, token: str = "5550001234:AAFakeTelegramTokenForCallgooseTests", *,
                 username: str = "callgoose_test_bot", first_name: str = "Callgoose",
                 loopback_webhooks: bool = False, webhook_attempts: int = 3, webhook_retry_delay: float = 0.2,
                 webhook_timeout: float = 5.0, webhook_context: ssl.SSLContext | None = None):
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError("a bot token looks like 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11")
        self.token = token
        self.bot = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": first_name, "username": username}
        self.loopback_webhooks = loopback_webhooks
        self.webhook_attempts, self.webhook_retry_delay = webhook_attempts, webhook_retry_delay
        self.webhook_timeout, self.webhook_context = webhook_timeout, webhook_context

        self.lock = threading.Condition()
        self.requests: list[dict] = []  # every call: method, params, http method, content type, status, answer
        self.callback_answers: list[dict] = []  # every accepted answerCallbackQuery
        self.deliveries: list[dict] = []  # every POST to the webhook: update, attempt, status or error
        self.made: list[dict] = []  # every update made by message_to_bot and press, delivered or not
        self.chats: dict[int, dict] = {}  # chat id -> chat, user, messages by id, next message id
        self.blocked: set[int] = set()
        self.pending_queries: dict[str, dict] = {}  # callback query id -> the query, until answered
        self.updates: list[dict] = []  # not yet confirmed (getUpdates) or delivered (webhook)
        self.webhook: dict | None = None
        self.webhook_error: tuple[int, str] | None = None
        self.allowed_updates: list[str] = []
        self.faults: list[dict] = []
        self.next_update_id = FIRST_UPDATE_ID
        self.next_query = 0
        self.poll_generation = 0
        self.stopping = False
        self._stopped = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self)

            do_POST = do_GET

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api = f"{self.base}/bot{token}"

    def __enter__(self):
        super().__enter__()
        threading.Thread(target=self._deliver_loop, daemon=True).start()
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
        self._stopped.set()
        super().__exit__(*exc)

    # -- the test's side: users, their messages and presses, knobs ----------------------------

    def add_chat(self, chat_id: int, user_id: int, first_name: str = "Ana", username: str = "ana") -> dict:
        """Make a private chat with a user known (as after the user opened the bot); the Chat."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "username": username, "language_code": "en"}
        chat = {"id": chat_id, "first_name": first_name, "username": username, "type": "private"}
        with self.lock:
            self.chats[chat_id] = {"chat": chat, "user": user, "messages": {}, "next_id": 1}
        return dict(chat)

    def block(self, chat_id: int, blocked: bool = True):
        """The user blocks the bot (sends to the chat get 403), or unblocks it."""
        with self.lock:
            (self.blocked.add if blocked else self.blocked.discard)(chat_id)

    def sent(self, chat_id: int) -> list[dict]:
        """The bot's messages in a chat, oldest first, as they are now (after any edits)."""
        with self.lock:
            messages = self._chat(chat_id)["messages"].values()
            return [json.loads(json.dumps(m)) for m in messages if m["from"]["is_bot"]]

    def message_to_bot(self, chat_id: int, text: str) -> dict:
        """The chat's user writes ``text`` to the bot; the ``message`` update (a leading
        ``/command`` gets its bot_command entity, as Telegram's clients send it)."""
        with self.lock:
            chat = self._chat(chat_id)
            message = self._new_message(chat, chat["user"], text)
            command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
            if command:
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}]
            return self._make_update("message", message)

    def press(self, chat_id: int, message_id: int, callback_data: str, from_user_id: int | None = None) -> dict:
        """A user presses the inline button carrying ``callback_data`` under one of the bot's
        messages; the ``callback_query`` update. Only a button that is there can be pressed."""
        with self.lock:
            chat = self._chat(chat_id)
            message = chat["messages"].get(message_id)
            if message is None or not message["from"]["is_bot"]:
                raise ValueError(f"the bot sent no message {message_id} to chat {chat_id}")
            buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            if not any(b.get("callback_data") == callback_data for b in buttons):
                raise ValueError(f"message {message_id} has no button with callback_data {callback_data!r}: {buttons}")
            user = chat["user"]
            if from_user_id is not None and from_user_id != user["id"]:
                known = [c["user"] for c in self.chats.values() if c["user"]["id"] == from_user_id]
                user = known[0] if known else {"id": from_user_id, "is_bot": False, "first_name": "User"}
            self.next_query += 1
            query_id = str(self.bot["id"] * 10**9 + self.next_query)
            query = {"id": query_id, "from": dict(user), "message": json.loads(json.dumps(message)),
                     "chat_instance": str((chat_id * 7_919 + self.bot["id"]) % 10**19 - 5 * 10**18),
                     "data": callback_data}
            self.pending_queries[query_id] = query
            return self._make_update("callback_query", query)

    def throttle(self, count: int = 1, retry_after: int = 3, method: str | None = None):
        """The next ``count`` calls (of ``method`` only, if given) get Telegram's flood-control 429."""
        self._add_fault(count, 429, method, applied=False, retry_after=retry_after)

    def fail(self, count: int = 1, status: int = 500, method: str | None = None, applied: bool = False):
        """The next ``count`` calls (of ``method`` only, if given) get ``status``: JSON for a 500, the
        HTML page Telegram's nginx gives for a 502 or 504. ``applied``: the call takes effect first
        (a message is sent, then the answer is lost), as when a gateway times out."""
        self._add_fault(count, status, method, applied=applied)

    def wait(self, count: int, timeout: float = 10) -> list[dict]:
        """The calls once there are ``count`` of them (fails after ``timeout`` seconds)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return list(self.requests)

    def wait_until(self, predicate, timeout: float = 10):
        """Wait until ``predicate()`` (called under the lock) is true; fails after ``timeout``."""
        with self.lock:
            assert self.lock.wait_for(predicate, timeout), "timed out waiting on the fake Telegram"

    def calls(self, method: str) -> list[dict]:
        """The recorded calls of one method (any case)."""
        with self.lock:
            return [r for r in self.requests if r["method"].lower() == method.lower()]

    # -- internals ------------------------------------------------------------------------------

    def _add_fault(self, count: int, status: int, method: str | None, applied: bool, retry_after: int | None = None):
        with self.lock:
            self.faults.append({"left": count, "status": status, "method": method and method.lower(),
                                "applied": applied, "retry_after": retry_after})

    def _chat(self, chat_id: int) -> dict:
        if chat_id not in self.chats:
            raise KeyError(f"chat {chat_id} is not known: add_chat() it first")
        return self.chats[chat_id]

    def _new_message(self, chat: dict, sender: dict, text: str) -> dict:
        message = {"message_id": chat["next_id"], "from": dict(sender), "chat": dict(chat["chat"]),
                   "date": int(time.time()), "text": text}
        chat["next_id"] += 1
        chat["messages"][message["message_id"]] = message
        return message

    def _make_update(self, kind: str, payload: dict) -> dict:
        """Queue an update (caller holds the lock); one of a type not allowed is dropped, as
        Telegram drops it."""
        update = {"update_id": self.next_update_id, kind: json.loads(json.dumps(payload))}
        self.next_update_id += 1
        allowed = self.allowed_updates or DEFAULT_UPDATES
        self.made.append(update)
        if kind in allowed:
            self.updates.append(update)
            self.lock.notify_all()
        return json.loads(json.dumps(update))

    def _handle(self, request: BaseHTTPRequestHandler):
        split = urlsplit(request.path)
        record = {"path": split.path, "http_method": request.command,
                  "content_type": request.headers.get("Content-Type"), "method": "", "params": {}, "at": time.time()}
        try:
            body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
            match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", split.path)
            if match is None:
                raise ApiError(404, "Not Found")
            if match.group(1) != self.token:
                raise ApiError(401, "Unauthorized")
            record["method"] = match.group(2)
            method = getattr(self, f"_api_{match.group(2).lower()}", None)
            if method is None:
                raise ApiError(404, "Not Found")
            params = self._params(split.query, request.headers.get_content_type(), request.headers, body)
            record["params"] = params
            fault = self._fault(match.group(2).lower())
            if fault and fault["applied"]:
                try:
                    method(params)
                except ApiError:
                    pass
            if fault:
                return self._answer_fault(request, record, fault)
            doc = method(params)
            status = 200
        except ApiError as error:
            status, doc = error.code, error.document()
        self._answer(request, record, status, doc)

    def _params(self, query: str, content_type: str, headers, body: bytes) -> dict:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if not body:
            return params
        if content_type == "application/json":
            try:
                doc = json.loads(body)
            except ValueError:
                raise bad("can't parse JSON object") from None
            if not isinstance(doc, dict):
                raise bad("can't parse JSON object")
            params.update(doc)
        elif content_type == "application/x-www-form-urlencoded":
            params.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
        elif content_type == "multipart/form-data":
            head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
            form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            for part in form.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name and part.get_content_maintype() == "text":
                    params[name] = part.get_content()
                elif name:
                    params[name] = part.get_payload(decode=True)
        return params

    def _fault(self, method: str) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["left"] > 0 and fault["method"] in (None, method):
                    fault["left"] -= 1
                    return fault
        return None

    def _answer_fault(self, request, record: dict, fault: dict):
        status = fault["status"]
        if status in (502, 504):
            phrase = HTTPStatus(status).phrase
            return self._answer(request, record, status, None,
                                raw=_BAD_GATEWAY.replace(b"502 Bad Gateway", f"{status} {phrase}".encode()))
        if status == 429:
            seconds = fault["retry_after"]
            error = ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})
        else:
            error = ApiError(status, HTTPStatus(status).phrase)
        self._answer(request, record, status, error.document())

    def _answer(self, request, record: dict, status: int, doc: dict | None, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps(doc).encode()
        with self.lock:
            record.update(status=status, answer=doc)
            self.requests.append(record)
            self.lock.notify_all()
        request.send_response(status)
        request.send_header("Content-Type", "text/html" if raw is not None else "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    # -- text, shared by sendMessage and editMessageText ---------------------------------------

    def _text(self, params: dict) -> tuple[str, list[dict]]:
        text = params.get("text")
        if text is None or text == "":
            raise bad("message text is empty")
        if not isinstance(text, str):
            text = json.dumps(text)
        mode = (params.get("parse_mode") or "").strip()
        if mode.lower() == "html":
            text, entities = parse_html(text)
        elif mode.lower() in ("markdown", "markdownv2"):
            raise bad(f"the fake Telegram does not model parse_mode {mode}; use HTML")
        elif mode:
            raise bad("unsupported parse_mode")
        else:
            text, entities = trim(text, [])
        if not text:
            raise bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad("message is too long")
        return text, entities

    def _writable_chat(self, params: dict) -> dict:
        chat_id = _chat_id(params)
        if chat_id not in self.chats:
            raise bad("chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return self.chats[chat_id]

    # -- methods --------------------------------------------------------------------------------

    def _api_getme(self, params: dict) -> dict:
        return {"ok": True, "result": {**self.bot, "can_join_groups": True, "can_read_all_group_messages": False,
                                       "supports_inline_queries": False, "can_connect_to_business": False,
                                       "has_main_web_app": False}}

    def _api_sendmessage(self, params: dict) -> dict:
        with self.lock:
            chat = self._writable_chat(params)
            text, entities = self._text(params)
            markup = _keyboard(params, inline_only=False)
            message = self._new_message(chat, self.bot, text)
            if entities:
                message["entities"] = entities
            if markup is not None:
                message["reply_markup"] = markup
            return {"ok": True, "result": json.loads(json.dumps(message))}

    def _api_editmessagetext(self, params: dict) -> dict:
        with self.lock:
            if params.get("inline_message_id") and params.get("chat_id") in (None, ""):
                raise bad("message to edit not found")  # inline-mode messages are not modelled
            chat = self._writable_chat(params)
            message_id = _int(params, "message_id")
            if message_id is None:
                raise bad("message identifier is not specified")
            message = chat["messages"].get(message_id)
            if message is None:
                raise bad("message to edit not found")
            if not message["from"]["is_bot"]:
                raise bad("message can't be edited")
            text, entities = self._text(params)
            markup = _keyboard(params, inline_only=True)  # none given: the keyboard goes, as on Telegram
            if (text, entities, markup) == (message["text"], message.get("entities", []), message.get("reply_markup")):
                raise bad("message is not modified: specified new message content and reply markup are exactly "
                          "the same as a current content and reply markup of the message")
            message.update(text=text, edit_date=int(time.time()))
            for key, value in (("entities", entities), ("reply_markup", markup)):
                if value:
                    message[key] = value
                else:
                    message.pop(key, None)
            return {"ok": True, "result": json.loads(json.dumps(message))}

    def _api_answercallbackquery(self, params: dict) -> dict:
        query_id = str(params.get("callback_query_id") or "")
        text = params.get("text") or ""
        with self.lock:
            if query_id not in self.pending_queries:
                raise bad("query is too old and response timeout expired or query ID is invalid")
            if len(str(text)) > MAX_ANSWER_TEXT:
                raise bad("MESSAGE_TOO_LONG")
            query = self.pending_queries.pop(query_id)
            self.callback_answers.append({"callback_query_id": query_id, "text": text,
                                          "show_alert": _bool(params, "show_alert"), "url": params.get("url"),
                                          "cache_time": _int(params, "cache_time"), "data": query["data"],
                                          "at": time.time()})
            self.lock.notify_all()
        return {"ok": True, "result": True}

    def _allowed(self, params: dict) -> list[str] | None:
        if params.get("allowed_updates") in (None, ""):
            return None  # "If not specified, the previous setting will be used"
        allowed = _json(params, "allowed_updates", "allowed updates JSON array")
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise bad("can't parse allowed updates JSON array")
        return allowed

    def _api_setwebhook(self, params: dict) -> dict:
        url = params.get("url") or ""
        if not url:
            return self._api_deletewebhook(params)
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise bad("bad webhook: Failed to resolve host: Name or service not known") from None
        local = self.loopback_webhooks and parts.hostname in _LOOPBACK_HOSTS
        if parts.scheme != "https" and not (local and parts.scheme == "http"):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        if not parts.hostname:
            raise bad("bad webhook: Failed to resolve host: Name or service not known")
        if not local and port not in _WEBHOOK_PORTS:
            raise bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if not local and parts.hostname in _LOOPBACK_HOSTS:
            raise bad(f"bad webhook: IP address {parts.hostname} is reserved")
        secret = params.get("secret_token") or ""
        if secret and not _SECRET.fullmatch(str(secret)):
            raise bad("secret token contains unallowed characters")
        connections = _int(params, "max_connections") or 40
        allowed = self._allowed(params)
        with self.lock:
            hook = {"url": url, "secret_token": secret or None, "max_connections": min(max(connections, 1), 100),
                    "ip_address": "127.0.0.1"}
            same = self.webhook == hook
            if allowed is not None:
                self.allowed_updates = allowed
            if _bool(params, "drop_pending_updates"):
                self.updates.clear()
            self.webhook = hook
            if not same:
                self.webhook_error = None
            self.lock.notify_all()
        return {"ok": True, "result": True, "description": "Webhook is already set" if same else "Webhook was set"}

    def _api_deletewebhook(self, params: dict) -> dict:
        with self.lock:
            had = self.webhook is not None
            self.webhook, self.webhook_error = None, None
            if _bool(params, "drop_pending_updates"):
                self.updates.clear()
            self.lock.notify_all()
        description = "Webhook was deleted" if had else "Webhook is already deleted"
        return {"ok": True, "result": True, "description": description}

    def _api_getwebhookinfo(self, params: dict) -> dict:
        with self.lock:
            info = {"url": self.webhook["url"] if self.webhook else "", "has_custom_certificate": False,
                    "pending_update_count": len(self.updates)}
            if self.webhook:
                info.update(max_connections=self.webhook["max_connections"], ip_address=self.webhook["ip_address"])
                if self.allowed_updates:
                    info["allowed_updates"] = list(self.allowed_updates)
                if self.webhook_error:
                    info["last_error_date"], info["last_error_message"] = self.webhook_error
        return {"ok": True, "result": info}

    def _api_getupdates(self, params: dict) -> dict:
        offset, limit, timeout = _int(params, "offset"), _int(params, "limit") or 100, _int(params, "timeout") or 0
        allowed = self._allowed(params)
        conflict = ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        with self.lock:
            if self.webhook:
                raise conflict
            self.poll_generation += 1
            mine = self.poll_generation
            self.lock.notify_all()  # a getUpdates still waiting ends with 409
            if allowed is not None:
                self.allowed_updates = allowed
            if offset is not None and offset < 0:
                del self.updates[:max(len(self.updates) + offset, 0)]  # "All previous updates will be forgotten"
            elif offset is not None:
                self.updates[:] = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
            limit = min(max(limit, 1), 100)
            deadline = time.monotonic() + max(timeout, 0)
            while True:
                if self.poll_generation != mine:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                if self.webhook:
                    raise conflict
                left = deadline - time.monotonic()
                if self.updates or self.stopping or left <= 0:
                    return {"ok": True, "result": json.loads(json.dumps(self.updates[:limit]))}
                self.lock.wait(left)

    # -- webhook delivery -----------------------------------------------------------------------

    def _deliver_loop(self):
        """POST queued updates to the webhook one at a time, in order; a non-2xx answer or a failed
        connection is retried ``webhook_attempts`` times in all, then the update is given up."""
        opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=self.webhook_context))
        while True:
            with self.lock:
                self.lock.wait_for(lambda: self.stopping or (self.webhook and self.updates))
                if self.stopping:
                    return
                hook, update = dict(self.webhook), self.updates[0]
            delivered = False
            for attempt in range(1, self.webhook_attempts + 1):
                status, error = self._post(opener, hook, update)
                delivered = status is not None and 200 <= status < 300
                with self.lock:
                    self.deliveries.append({"update_id": update["update_id"], "update": update, "url": hook["url"],
                                            "secret_token": hook["secret_token"], "attempt": attempt,
                                            "status": status, "error": error, "at": time.time()})
                    if not delivered:
                        self.webhook_error = (int(time.time()), error)
                    self.lock.notify_all()
                    moved = self.webhook != hook
                if delivered or moved or self._stopped.wait(self.webhook_retry_delay):
                    break
            with self.lock:
                if self.updates and self.updates[0] is update and (delivered or self.webhook == hook):
                    self.updates.pop(0)
                    self.lock.notify_all()

    def _post(self, opener, hook: dict, update: dict) -> tuple[int | None, str | None]:
        """One delivery: the status the webhook answered, or what went wrong, worded as getWebhookInfo's
        last_error_message words it."""
        if urlsplit(hook["url"]).hostname not in _LOOPBACK_HOSTS:
            return None, "Failed to resolve host: the fake Telegram delivers only to 127.0.0.1"
        headers = {"Content-Type": "application/json"}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        request = urllib.request.Request(hook["url"], data=json.dumps(update).encode(), headers=headers, method="POST")
        try:
            with opener.open(request, timeout=self.webhook_timeout) as response:
                response.read()
                return response.status, None
        except urllib.error.HTTPError as answer:
            with answer:
                try:
                    phrase = HTTPStatus(answer.code).phrase
                except ValueError:
                    phrase = ""
                return answer.code, f"Wrong response from the webhook: {answer.code} {phrase}".rstrip()
        except (urllib.error.URLError, OSError) as failure:
            reason = getattr(failure, "reason", failure)
            return None, f"Connection failed: {reason}"
