"""PagerDuty's Events API v2 (issue 18), read as Callgoose applies it.

Pure: :func:`parse_alert` turns the body of ``POST /v2/enqueue`` into an
:class:`~callgoose.engine.events.Event` (or the faults PagerDuty would name, each with its
field), and :func:`parse_change` the body of ``POST /v2/change/enqueue`` into a :class:`Change`.
The routing key is read here and checked by the caller; it is never part of what is kept
(:func:`redacted`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from .events import KEY_MAX, TITLE_MAX, Act, Event, body_text, key_text, short_line, title_text
from .page import labels_from, web_url
from .payload import as_text, clean, compact_json, is_text_type, parse_json, pretty_json, split_content_type

API = "pagerduty"
ACTIONS = {"trigger": Act.OPEN, "acknowledge": Act.ACKNOWLEDGE, "resolve": Act.RESOLVE}
URGENCY = {"critical": "high", "error": "high", "warning": "low", "info": "low"}
# A severity as a priority (issue 20); info is P5, what Opsgenie calls informational.
PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
SUMMARY_MAX = 1024  # PagerDuty's documented limit: longer summaries are cut, never refused
LABEL_FIELDS = ("severity", "source", "component", "group", "class")  # the five a page shows (engine.page)
MAX_LINKS, MAX_IMAGES = 20, 20  # kept per event; more are dropped
LINK_TEXT_MAX = 200
DETAILS_MAX = 16384  # characters of a change event's custom_details kept
REDACTED = "[REDACTED]"
INVALID = "Event object is invalid"


@dataclass(frozen=True)
class Parsed:
    """A request body read: its routing key (None when absent or not text), and either the
    event or the faults, each naming its field."""

    routing_key: str | None
    event: Event | None = None
    change: "Change | None" = None
    errors: tuple[str, ...] = ()
    client: str | None = None  # who sent it (``client``; a change event's ``source``): the API log's "from"

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Change:
    """A change event (a deploy, a merged pull request): context for incidents, pages nobody."""

    summary: str
    at: float  # when it happened (its timestamp, never after it arrived), epoch seconds
    source: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    details: str | None = None
    timestamp: float | None = field(default=None, compare=False)  # as the sender said, if it said


def _object(raw: bytes, text: str | None = None):
    """The body as a JSON object, or None (not UTF-8 JSON, not an object, too deep: S8's parser)."""
    if text is None:
        text = clean(raw.decode("utf-8", errors="replace"))
    data = parse_json(text)
    return data if isinstance(data, dict) else None


def _opened(raw: bytes):
    """What both kinds of event start with: the body's object, its routing key, the faults so
    far; or the refusal of a body that is no JSON object."""
    data = _object(raw)
    if data is None:
        return Parsed(None, errors=("The body must be a JSON object (JSON parse error)",))
    routing_key = _routing_key(data)
    return data, routing_key, [] if routing_key is not None else ["'routing_key' is missing or blank"]


def _routing_key(data: dict) -> str | None:
    key = data.get("routing_key")
    return str.__str__(key).strip() or None if isinstance(key, str) else None


def _text(value) -> str | None:
    """A string field's text (numbers as written, S13); None when absent, null or empty."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = clean(as_text(value)).strip()
    return text or None


def _required_text(payload: dict, name: str, errors: list[str]) -> str | None:
    value = payload.get(name)
    if value is not None and isinstance(value, (dict, list, bool)):
        errors.append(f"'payload.{name}' must be a string")
        return None
    text = _text(value)
    if text is None:
        errors.append(f"'payload.{name}' is missing or blank")
    return text


def links_of(value, errors: list[str] | None = None, name: str = "links") -> tuple[tuple[str, str], ...]:
    """``links`` as ``(href, text)`` pairs: only http(s) URLs (a ``javascript:`` one is dropped),
    at most :data:`MAX_LINKS`; the text cut to one short line (the URL when it has none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        if errors is not None:
            errors.append(f"'{name}' must be an array of objects")
        return ()
    found = []
    for item in value:
        if not isinstance(item, dict):
            continue
        href = web_url(item.get("href"))
        if href is None:
            continue
        text = _text(item.get("text"))
        found.append((href, short_line(text, LINK_TEXT_MAX) if text else short_line(href, LINK_TEXT_MAX)))
        if len(found) == MAX_LINKS:
            break
    return tuple(found)


def images_of(value, errors: list[str]) -> tuple[tuple[str, str | None, str], ...]:
    """``images`` as ``(src, href, alt)``: only http(s) sources and links; they are shown as
    links, never embedded (the dashboard loads nothing from elsewhere)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append("'images' must be an array of objects")
        return ()
    found = []
    for item in value:
        if not isinstance(item, dict) or web_url(item.get("src")) is None:
            continue
        alt = _text(item.get("alt"))
        src = str.__str__(item["src"])
        found.append((src, web_url(item.get("href")), short_line(alt, LINK_TEXT_MAX) if alt else ""))
        if len(found) == MAX_IMAGES:
            break
    return tuple(found)


def details_text(value, limit: int) -> str | None:
    """``custom_details`` as a person reads it: an object or array as indented JSON, a string
    as it is; cut to ``limit`` characters."""
    if value is None:
        return None
    text = pretty_json(value) if isinstance(value, (dict, list)) else as_text(value)
    return body_text(text, limit)


def _facts(payload: dict, links, images) -> dict | None:
    labels = labels_from({name: payload[name] for name in LABEL_FIELDS
                          if isinstance(payload.get(name), str) and payload[name].strip()})
    facts: dict = {}
    if labels:
        facts["labels"] = labels
    if links:
        facts["links"] = [list(link) for link in links]
    if images:
        facts["images"] = [list(image) for image in images]
    return facts or None


def _description(summary: str, details) -> str:
    """What the incident's description says: the details, after the whole summary when the
    title could not hold it; empty when the event says nothing more than its title."""
    parts = []
    if len(" ".join(summary.split())) > TITLE_MAX:
        parts.append(summary)
    text = details_text(details, 65536)
    if text:
        parts.append(text)
    return "\n\n".join(parts)


def parse_alert(raw: bytes, new_key: Callable[[], str] = lambda: uuid.uuid4().hex) -> Parsed:
    """Read an alert event (``trigger``, ``acknowledge`` or ``resolve``).

    A trigger without ``dedup_key`` gets ``new_key()`` (PagerDuty generates one and returns
    it); acknowledge and resolve need one. A summary over 1024 characters is cut, and a missing
    ``payload.source`` accepted: a sender's page is never refused over a detail.
    """
    opened = _opened(raw)
    if isinstance(opened, Parsed):
        return opened
    data, routing_key, errors = opened
    client = _text(data.get("client"))
    client = short_line(client, 100) if client else None
    said = data.get("event_action")
    act = ACTIONS.get(said) if isinstance(said, str) else None
    if act is None:
        errors.append("'event_action' must be one of trigger, acknowledge or resolve")
    key = data.get("dedup_key")
    if key is not None and not isinstance(key, str):
        errors.append("'dedup_key' must be a string")
        key = None
    key = key_text(key)
    if key is not None and len(key) > KEY_MAX:
        errors.append(f"'dedup_key' is longer than {KEY_MAX} characters")
    if act is not None and act is not Act.OPEN and key is None:
        errors.append(f"'dedup_key' is required for {said} events")
    if act is not Act.OPEN:
        if errors:
            return Parsed(routing_key, errors=tuple(errors), client=client)
        return Parsed(routing_key, Event(API, said, act, key=key), client=client)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        return Parsed(routing_key, errors=tuple(errors), client=client)
    summary = _required_text(payload, "summary", errors)
    if isinstance(payload.get("source"), (dict, list, bool)):
        errors.append("'payload.source' must be a string")
    # PagerDuty requires a source; one missing costs no page here (Uptime Kuma's push monitors send none).
    severity = payload.get("severity")
    if not isinstance(severity, str) or severity not in URGENCY:
        errors.append("'payload.severity' must be one of critical, error, warning or info")
    links = links_of(data.get("links"), errors)
    client_url = web_url(data.get("client_url"))
    if client_url is not None and len(links) < MAX_LINKS:
        links = ((client_url, client or client_url),) + links
    images = images_of(data.get("images"), errors)
    if errors:
        return Parsed(routing_key, errors=tuple(errors), client=client)
    summary = summary[:SUMMARY_MAX]
    return Parsed(routing_key, Event(
        API, said, act, key=key or new_key(), title=title_text(summary),
        description=_description(summary, payload.get("custom_details")), urgency=URGENCY[severity],
        priority=PRIORITY[severity],
        facts=_facts(payload, links, images)), client=client)


def _when(value) -> float | None:
    """An ISO 8601 timestamp as epoch seconds (no zone: UTC); None when it is not one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def parse_change(raw: bytes, received: float) -> Parsed:
    """Read a change event. Its time is its ``timestamp`` (never later than ``received``), or
    ``received`` when it has none that reads as a time."""
    opened = _opened(raw)
    if isinstance(opened, Parsed):
        return opened
    data, routing_key, errors = opened
    payload = data.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object")
        return Parsed(routing_key, errors=tuple(errors))
    summary = _required_text(payload, "summary", errors)
    links = links_of(data.get("links"), errors)
    if errors:
        return Parsed(routing_key, errors=tuple(errors))
    source = _text(payload.get("source"))
    source = short_line(source, 255) if source else None
    stamp = _when(payload.get("timestamp"))
    return Parsed(routing_key, client=source and source[:100], change=Change(
        short_line(summary, SUMMARY_MAX), min(stamp, received) if stamp is not None else received,
        source, links,
        details_text(payload.get("custom_details"), DETAILS_MAX), stamp))


def kept_type(content_type: str | None) -> str:
    """The content type the kept body is read with: it is UTF-8 JSON whatever was declared
    (PagerDuty reads every body as JSON), so a binary type or another charset is not applied."""
    mime, charset = split_content_type(content_type)
    if content_type and is_text_type(mime) and (charset is None or charset.lower().replace("_", "-") in ("utf-8", "utf8")):
        return content_type
    return "application/json"


def redacted(raw: bytes, routing_key: str) -> bytes:
    """The body as it is kept (API log, incident): the routing key replaced by ``[REDACTED]``.

    The key is a credential; it is cut out of the text as sent, or, when the sender escaped it
    so that the text does not show it, the body is kept as compact JSON with it replaced."""
    text = clean(raw.decode("utf-8", errors="replace"))
    cut = text.replace(routing_key, REDACTED)
    if "\\" not in text:  # no escape anywhere: every copy of the key was written as it reads
        return cut.encode("utf-8")
    data = _object(b"", cut)
    if data is not None and data.get("routing_key") != routing_key:
        return cut.encode("utf-8")
    data = _object(b"", text)
    if data is None:  # not reached: the key was read from this body's JSON object
        return json.dumps({"routing_key": REDACTED}).encode("utf-8")
    data["routing_key"] = REDACTED
    return compact_json(data).encode("utf-8")

__all__ = ["API", "Change", "INVALID", "Parsed", "URGENCY", "details_text", "kept_type", "links_of", "parse_alert",
           "parse_change", "redacted"]
