"""A mail received by the email intake, as the payload the rules see (issue 10, item 3):
``{"from", "to", "subject", "text", "html", "headers": {...}}``. Pure: the bytes of the
message in, a JSON text out; a malformed message still gives a payload (never an error).
"""

from __future__ import annotations

import json
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from .payload import clean

MAX_PART_CHARS = 256 * 1024  # of the text and the html, each
MAX_HEADERS = 100
_COMMENT = re.compile(r"\([^()]*\)")


def _text(value) -> str:
    return clean(str(value)) if value is not None else ""


def _part(message: EmailMessage, subtype: str) -> str:
    try:
        body = message.get_body(preferencelist=(subtype,))
    except (KeyError, TypeError, ValueError, LookupError):
        body = None
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (KeyError, LookupError, ValueError, AssertionError, TypeError):  # an unknown charset, a broken part
        raw = body.get_payload(decode=True) or b""
        content = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    if not isinstance(content, str):
        content = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else ""
    # CRLF or LF, and the blank lines a relay adds at the end: the same mail gives the same text (S27)
    return clean(content.replace("\r\n", "\n").rstrip())[:MAX_PART_CHARS]


def _headers(message: EmailMessage) -> dict:
    found: dict[str, str] = {}
    for name, value in list(message.raw_items())[:MAX_HEADERS]:
        try:
            text = str(message.policy.header_factory(name, value))
        except Exception:  # noqa: BLE001 - a header the parser cannot read is kept as sent
            text = str(value)
        key = _text(name)
        found[key] = f"{found[key]}\n{_text(text)}" if key in found else _text(text)
    return found


def mail_payload(raw: bytes, envelope_from: str, recipient: str) -> str:
    """The JSON payload of one mail for one intake address."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        headers = _headers(message)
        document = {"from": _text(message.get("From")) or _text(envelope_from),
                    "to": _text(message.get("To")) or _text(recipient),
                    "subject": _text(message.get("Subject")),
                    "text": _part(message, "plain"), "html": _part(message, "html"), "headers": headers}
    except Exception:  # noqa: BLE001 - whatever the bytes are, the mail is kept and processed
        document = {"from": _text(envelope_from), "to": _text(recipient), "subject": "",
                    "text": clean(raw.decode("utf-8", errors="replace"))[:MAX_PART_CHARS], "html": "", "headers": {}}
    return json.dumps(document, ensure_ascii=False)


def auto_submitted(raw: bytes) -> str | None:
    """The ``Auto-Submitted`` keyword of a mail when it is anything but ``no`` (RFC 3834: a
    machine sent it, e.g. our own page forwarded back), else None. Only the header block is read."""
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    headers = BytesParser(policy=policy.compat32).parsebytes(raw[:end + 2], headersonly=True)
    for value in headers.get_all("Auto-Submitted") or ():
        keyword = _COMMENT.sub("", str(value)).split(";", 1)[0].strip().lower()
        if keyword and keyword != "no":
            return clean(keyword)[:64]
    return None
