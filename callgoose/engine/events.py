"""An event from a tool's own alert API (PagerDuty's Events API v2, Opsgenie's Alert API), as
Callgoose applies it: one normalised type for every such API (issue 18).

``/v1/process`` runs a service's rules on a payload to learn what it asks for. These APIs say
it themselves (open, acknowledge or resolve the alert of this key), so each API's parser
(``engine.pagerduty``, ``engine.opsgenie``) turns a request into an :class:`Event`, and
``services.events`` applies it with the same incident changes, maintenance, paging, webhooks and
API log as a rule that held. Pure, like the rest of the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from .decide import TITLE_MAX, make_title, one_line, shorten
from .payload import as_text, clean

KEY_MAX = 255  # characters of a dedup key or alias (PagerDuty's dedup_key: 255)
DESCRIPTION_MAX = 65536  # characters of a description kept on the incident
NOTE_MAX = 25000  # characters of a note kept in the timeline (Opsgenie's note: 25,000)


class Act(str, Enum):
    """What an event asks of the incident its key (or id) names."""

    OPEN = "open"  # open an incident, or count a repeat on the active one of its key (S26)
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    NOTE = "note"  # a timeline comment, nothing else
    RETITLE = "retitle"  # a new title (Opsgenie's "message")
    REDESCRIBE = "redescribe"  # a new description


@dataclass(frozen=True)
class Event:
    """One request of a tool's alert API, normalised.

    ``key`` is the incident's mapping value (PagerDuty's ``dedup_key``, Opsgenie's ``alias``):
    an OPEN with the key of an active incident is a duplicate of it (S26), and the other acts
    find the incident by it. ``incident_id`` names an incident directly instead (Opsgenie's
    ``identifierType=id|tiny``). ``facts`` are what the incident and its pages show beside the
    title (engine.page: ``labels``, ``runbook``; and ``links``, ``images``), as JSON-able data.
    """

    api: str  # pagerduty | opsgenie: the API it came through (the API log names it)
    said: str  # the API's own word for it: trigger, acknowledge, resolve, create, close, ...
    act: Act
    key: str | None = None
    incident_id: int | None = None
    title: str | None = None
    description: str | None = None
    urgency: str = "high"
    priority: str | None = None  # P1-P5 (issue 20): Opsgenie's priority, PagerDuty's severity
    note: str | None = None  # NOTE's text; with another act, a comment added to the same incident
    facts: dict | None = None
    actor: str | None = None  # who the request names as acting (Opsgenie's ``user``)

    @property
    def label(self) -> str:
        """How the API log names it: ``pagerduty trigger``."""
        return f"{self.api} {self.said}"


def _text(value) -> str:
    """A value as text: S13 for what the engine's JSON parser read (numbers as written), and
    JSON for plain Python values (a caller's own ``json.loads``)."""
    if isinstance(value, str):
        return value
    try:
        return as_text(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def key_text(value) -> str | None:
    """A dedup key or alias as stored: text (S13 for numbers), storable (S9), trimmed; None
    when absent or empty."""
    if value is None:
        return None
    text = clean(_text(value)).strip()
    return text or None


def title_text(value) -> str:
    """A title as every incident's is (S21): one line, at most 255 characters."""
    text = clean(_text(value)) if value is not None else ""
    return make_title(text, None) if text.strip() else make_title(None, None)


def body_text(value, limit: int = DESCRIPTION_MAX) -> str | None:
    """A description or note as kept: text (objects as compact JSON), storable, cut to ``limit``."""
    if value is None:
        return None
    text = clean(_text(value))
    if not text.strip():
        return None
    return text if len(text) <= limit else text[:limit - 1] + "…"


def short_line(value, limit: int) -> str:
    """A value for one line of a page (an actor, a link's text): folded and cut."""
    return shorten(one_line(clean(_text(value))), limit)


__all__ = ["Act", "DESCRIPTION_MAX", "Event", "KEY_MAX", "NOTE_MAX", "TITLE_MAX", "body_text", "key_text",
           "short_line", "title_text"]
