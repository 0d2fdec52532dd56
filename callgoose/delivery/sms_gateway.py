"""SMS through a gateway of the team's choice (``CALLGOOSE_SMS_GATEWAY_*``), used when Twilio
is not configured: any provider with an HTTP API, or a phone on the LAN running an SMS
gateway app.

``SMS_GATEWAY_BODY`` is a template with ``{to}`` and ``{text}``. When it parses as JSON, the
values are put into its strings (so they arrive JSON-escaped) and it is sent as
``application/json``; otherwise it is sent form-encoded, the values URL-encoded. ``{to}`` and
``{text}`` in ``SMS_GATEWAY_URL`` are URL-encoded too; a GET sends no body. The URL is an
admin's, so a LAN address is not refused (no SSRF guard), but the send's deadline holds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from . import webhook

METHODS = ("GET", "POST", "PUT", "PATCH")
DEFAULT_BODY = '{"to": "{to}", "text": "{text}"}'
PLACEHOLDER = re.compile(r"\{(to|text)\}")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
NOT_ONE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
OURS = ("Host", "Content-Length", "Transfer-Encoding", "Connection")  # set by the request itself
CANONICAL = {"content-type": "Content-Type", "user-agent": "User-Agent"}  # replace the request's own


@dataclass(frozen=True)
class Gateway:
    url: str
    method: str = "POST"
    headers: dict = field(default_factory=dict)
    body: str = DEFAULT_BODY
    template: object = None  # the body parsed, when it is JSON; None: a form


def _fault(name: str, what: str) -> ValueError:
    return ValueError(f"setting SMS_GATEWAY_{name} {what}")


def _headers(raw) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, dict):
        raise _fault("HEADERS", 'must be a JSON object of header names and values, e.g. {"Authorization": "Bearer …"}')
    found = {}
    for name, value in raw.items():
        if not HEADER_NAME.fullmatch(name):
            raise _fault("HEADERS", f"has {name!r}, which is not a header name")
        if name.lower() in (n.lower() for n in OURS):
            raise _fault("HEADERS", f"may not set {name} (the request sets it)")
        if not isinstance(value, str):
            raise _fault("HEADERS", f"must give {name} a text value, not {type(value).__name__}")
        if NOT_ONE_LINE.search(value):
            raise _fault("HEADERS", f"must give {name} a value of one line (no line breaks or control characters)")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise _fault("HEADERS", f"must give {name} a value in Latin-1 (HTTP headers cannot carry others)") from None
        found[CANONICAL.get(name.lower(), name)] = value
    return found


def _body(raw) -> tuple[str, object]:
    """The template's text and, when it is JSON, its parsed form."""
    if isinstance(raw, (dict, list)):  # instance/config.py may give the JSON itself
        return json.dumps(raw, ensure_ascii=False), raw
    text = DEFAULT_BODY if raw in (None, "") else str(raw)
    try:
        return text, json.loads(text)
    except ValueError:
        if text.lstrip()[:1] in ("{", "["):
            raise _fault("BODY", 'looks like JSON but does not parse: put {to} and {text} inside strings, '
                                 'e.g. {"to": "{to}", "text": "{text}"}') from None
        return text, None


def gateway(config) -> Gateway | None:
    """The gateway the settings describe (None: no ``SMS_GATEWAY_URL``).
    :raises ValueError: a setting that cannot work (the app does not start with it)."""
    url = str(config.get("SMS_GATEWAY_URL") or "").strip()
    if not url:
        return None
    try:
        webhook.check_url(PLACEHOLDER.sub("x", url))
    except webhook.Refused as exc:
        raise _fault("URL", str(exc)) from None
    method = str(config.get("SMS_GATEWAY_METHOD") or "POST").strip().upper()
    if method not in METHODS:
        raise _fault("METHOD", f"must be one of {', '.join(METHODS)}")
    headers = _headers(config.get("SMS_GATEWAY_HEADERS"))
    body, template = _body(config.get("SMS_GATEWAY_BODY"))
    carried = url + ("" if method == "GET" else body)
    for name in ("to", "text"):
        if "{" + name + "}" not in carried:
            where = "SMS_GATEWAY_URL (a GET sends no body)" if method == "GET" else "SMS_GATEWAY_BODY or _URL"
            raise _fault("BODY" if method != "GET" else "URL", f"must carry {{{name}}}: put it in {where}")
    return Gateway(url, method, headers, body, template)


def _fill(template, values: dict[str, str]):
    """The JSON template with the values put into its strings (keys too), in one pass: a
    value that itself reads ``{to}`` stays as it is."""
    if isinstance(template, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    if isinstance(template, dict):
        return {_fill(key, values): _fill(item, values) for key, item in template.items()}
    return template


def request_for(found: Gateway, to: str, text: str) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of one SMS."""
    values = {"to": to, "text": text}
    url = PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), found.url)
    headers = dict(found.headers)
    if found.method == "GET":
        return url, b"", headers
    if found.template is not None:
        body = json.dumps(_fill(found.template, values), ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        body = PLACEHOLDER.sub(lambda m: quote_plus(values[m.group(1)], safe=""), found.body).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return url, body, headers


def send(settings, found: Gateway, to: str, text: str) -> str:
    """Send one SMS; the status line, or :class:`~callgoose.delivery.Temporary` /
    :class:`~callgoose.delivery.Permanent` as the outbox classifies the answer."""
    url, body, headers = request_for(found, to, text)
    answer = webhook.request(settings, found.method, url, body, headers, guard=False)
    said = " ".join(answer.body.decode("utf-8", "replace").split())[:200]
    return webhook.outcome(answer, "the SMS gateway", said)
