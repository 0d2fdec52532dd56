"""Opsgenie's Alert API and heartbeat pings, as Callgoose reads them (issue 18).

Pure. :func:`parse` turns one request (create, close, acknowledge, notes, message,
description) into an :class:`~callgoose.engine.events.Event`, or a :class:`Refused` with
Opsgenie's status and the fields at fault; ``services.events`` applies the event like every
alert API's. :func:`request_status` words what a stored call did as Opsgenie's "Get Request
Status" does, and :func:`heartbeat` checks a pinged heartbeat's name.

Where Opsgenie refuses an over-long value (a ``message`` past 130 characters, more than 20
tags), Callgoose keeps the alert and cuts the value: a sender drops a refused alert for good
(RELIABILITY.md 1.5). It refuses what it cannot use: a body that is not a JSON object, a
missing ``message``, a value of the wrong type, a priority other than P1-P5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .config import HEARTBEAT_NAME
from .events import NOTE_MAX, Act, Event, body_text, key_text, short_line, title_text
from .heartbeat import Heartbeat
from .outcome import ServiceOutcome
from .page import labels_from
from .rules import Condition

API = "opsgenie"
MESSAGE_MAX = 130  # characters of an alert's message (its title here)
DESCRIPTION_MAX = 15000
TAGS_MAX, TAG_MAX = 20, 50
ENTITY_MAX = 512
SOURCE_MAX = USER_MAX = 100
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
DEFAULT_PRIORITY = "P3"
# P3 is what every sender sends when it names no priority, and Opsgenie paged for it: it stays
# a high-urgency page here. P4 (low) and P5 (informational) are low urgency.
HIGH_PRIORITIES = ("P1", "P2", "P3")
IDENTIFIER_TYPES = ("id", "tiny", "alias")  # Opsgenie's default is id
HEARTBEAT_EVERY_MINUTES = 10  # the interval a heartbeat created by its first ping expects
HEARTBEAT_KEY = "opsgenie_heartbeat"  # a /v1/process call counts for it only with this key naming it
NO_INCIDENT = 0  # the id of an identifier that names no incident (ids start at 1)
MAX_ID = 2**63 - 1

# Each endpoint: Opsgenie's action name (its request status says it) and what it asks.
ACTIONS = {"create": ("Create", Act.OPEN), "close": ("Close", Act.RESOLVE),
           "acknowledge": ("Acknowledge", Act.ACKNOWLEDGE), "notes": ("AddNote", Act.NOTE),
           "message": ("UpdateMessage", Act.RETITLE), "description": ("UpdateDescription", Act.REDESCRIBE)}
NOT_PROCESSABLE = "Request body is not processable. Please check the errors."
# Empty, for a required text: nothing but the white space of JSON Schema's (ECMAScript's) \s, so
# the OpenAPI document's pattern "\S" says exactly which texts are taken.
_BLANK = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*")


@dataclass(frozen=True)
class Refused:
    """A request Opsgenie refuses: 400 (not a JSON object) or 422 (``errors``: field -> fault)."""

    status: int
    message: str
    errors: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """One line for the API log."""
        faults = "; ".join(f"{name}: {fault}" for name, fault in self.errors.items())
        return f"{self.message} {faults}".strip()


def _fields(data, text: str) -> dict | Refused:
    if data is None and not text.strip():
        return {}  # no body: every field absent
    if not isinstance(data, dict):
        return Refused(400, "Invalid JSON body: send one JSON object.")
    return data


class _Reader:
    """Reads a body's fields, collecting the faults by field name."""

    def __init__(self, data: dict):
        self.data = data
        self.errors: dict[str, str] = {}

    def scalar(self, name: str, *, required: bool = False):
        value = self.data.get(name)
        if isinstance(value, (dict, list)):
            self.errors[name] = "should be a string"
            return None
        if value is None or (isinstance(value, str) and _BLANK.fullmatch(value)):
            if required:
                self.errors[name] = "can not be empty"
            return None
        return value

    def line(self, name: str, limit: int, *, required: bool = False) -> str | None:
        value = self.scalar(name, required=required)
        return None if value is None else short_line(value, limit)

    def text(self, name: str, limit: int, *, required: bool = False) -> str | None:
        value = self.scalar(name, required=required)
        return None if value is None else body_text(value, limit)

    def tags(self) -> list[str]:
        value = self.data.get("tags")
        if value is None:
            return []
        if not isinstance(value, list) or any(isinstance(tag, (dict, list)) for tag in value):
            self.errors["tags"] = "should be a list of strings"
            return []
        tags = [short_line(tag, TAG_MAX) for tag in value if tag is not None]
        return [tag for tag in tags if tag][:TAGS_MAX]

    def details(self) -> dict:
        value = self.data.get("details")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.errors["details"] = "should be an object of key-value pairs"
            return {}
        return value

    def priority(self) -> str:
        value = self.data.get("priority")
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_PRIORITY
        word = value.strip().upper() if isinstance(value, str) else None
        if word not in PRIORITIES:
            self.errors["priority"] = "should be one of [ P1, P2, P3, P4, P5 ]"
            return DEFAULT_PRIORITY
        return word


def _message(value) -> str:
    text = short_line(value, MESSAGE_MAX)
    return title_text(text)


def _create(read: _Reader) -> Event:
    message = read.scalar("message", required=True)
    priority = read.priority()
    facts: dict = {}
    labels = labels_from(read.details())
    if labels:
        facts["labels"] = labels
    tags = read.tags()
    if tags:
        facts["tags"] = tags
    for name, limit in (("entity", ENTITY_MAX), ("source", SOURCE_MAX)):
        value = read.line(name, limit)
        if value:
            facts[name] = value
    facts["priority"] = priority  # kept as said, for stored priorities (issue 20)
    return Event(API, "create", Act.OPEN, key=key_text(read.scalar("alias")),
                 title=_message(message) if message is not None else None,
                 description=read.text("description", DESCRIPTION_MAX),
                 urgency="high" if priority in HIGH_PRIORITIES else "low", priority=priority,
                 note=read.text("note", NOTE_MAX), facts=facts, actor=read.line("user", USER_MAX))


def _target(identifier: str, identifier_type: str | None) -> dict | Refused:
    """Which incident an identifier names: ``key`` (alias) or ``incident_id`` (id, tiny: the
    Callgoose incident id, short already); an id that is not one names no incident."""
    kind = "id" if identifier_type is None or not identifier_type.strip() else identifier_type.strip().lower()
    if kind not in IDENTIFIER_TYPES:
        return Refused(422, NOT_PROCESSABLE, {"identifierType": "should be one of [ id, tiny, alias ]"})
    if kind == "alias":
        key = key_text(identifier)
        return {"key": key} if key is not None else {"incident_id": NO_INCIDENT}
    text = identifier.strip()
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else NO_INCIDENT
    return {"incident_id": number if 0 < number <= MAX_ID else NO_INCIDENT}


def parse(action: str, data, text: str, identifier: str | None = None,
          identifier_type: str | None = None) -> Event | Refused:
    """One request of the Alert API as an event, or why it is refused.

    :param action: ``create`` or an endpoint of :data:`ACTIONS` (``close``, ``notes``, ...).
    :param data: the body as the engine's JSON parser read it (engine.payload.Payload.data).
    :param text: the body's text (an empty body means no fields).
    :param identifier: the alert the URL names (not for ``create``).
    :param identifier_type: the ``identifierType`` query parameter (absent: ``id``).
    """
    fields = _fields(data, text)
    if isinstance(fields, Refused):
        return fields
    read = _Reader(fields)
    if action == "create":
        event = _create(read)
    else:
        target = _target(identifier or "", identifier_type)
        if isinstance(target, Refused):
            return target
        act = ACTIONS[action][1]
        common = {"actor": read.line("user", USER_MAX), **target}
        if act is Act.NOTE:
            event = Event(API, action, act, note=read.text("note", NOTE_MAX, required=True), **common)
        elif act is Act.RETITLE:
            message = read.scalar("message", required=True)
            event = Event(API, action, act, title=_message(message) if message is not None else None, **common)
        elif act is Act.REDESCRIBE:  # an empty description clears it (Alertmanager sends {} for an empty one)
            event = Event(API, action, act, description=read.text("description", DESCRIPTION_MAX), **common)
        else:
            event = Event(API, action, act, note=read.text("note", NOTE_MAX), **common)
    if read.errors:
        return Refused(422, NOT_PROCESSABLE, read.errors)
    return event


def request_status(outcome: ServiceOutcome, incident_status: str | None, acted: bool) -> tuple[str, bool, str]:
    """Opsgenie's action name, whether the request succeeded, and its status line, from what the
    stored call did (``outcome``), the status its incident has now and whether the call's own
    act is in that incident's timeline (``acted``: an acknowledgement that changed something)."""
    said = (outcome.event or "").partition(" ")[2]
    action = ACTIONS.get(said, (said.title(), None))[0]
    note = outcome.note or ""
    if outcome.is_error:
        return action, False, "Failed: the request could not be applied; the API log keeps it"
    if note in ("disabled", "maintenance"):
        return action, True, f"Ignored: the service is {'disabled' if note == 'disabled' else 'in maintenance'}"
    if said == "create":
        return action, True, "Created alert" if outcome.created else "Alert is open already; its count was increased"
    if outcome.incident is None and not outcome.resolved_incidents:
        return action, False, "Alert does not exist"
    if said == "close":
        return (action, True, "Closed alert") if outcome.resolved_incidents else (
            action, False, "Alert is already closed")
    if said == "acknowledge":
        if acted:
            return action, True, "Acknowledged alert"
        return action, False, "Alert is already closed" if incident_status == "resolved" else \
            "Alert is already acknowledged"
    return action, True, {"notes": "Added note", "message": "Updated alert message",
                          "description": "Updated alert description"}.get(said, "Processed")


def heartbeat(name: str) -> Heartbeat | Refused:
    """The heartbeat a ping names, as its first ping creates it: every 10 minutes, no grace
    (Opsgenie's own default), counting only calls that name it under :data:`HEARTBEAT_KEY`
    (so no other call to its service keeps it alive); or why the name is refused."""
    if not HEARTBEAT_NAME.fullmatch(name or ""):
        return Refused(422, NOT_PROCESSABLE, {"name": "must be 1-64 letters, digits, spaces, '.', '_' or '-'"})
    return Heartbeat(name, (Condition(HEARTBEAT_KEY, (name,)),), HEARTBEAT_EVERY_MINUTES * 60, 0)
