"""What a page tells a person woken at 3 a.m., and how it is cut to fit a channel.

Pure, like the rest of the engine. :func:`facts_of` reads an alert's key labels and runbook
link out of the payload the rules saw (an element of a split payload: its own), once, when
the incident opens; :func:`fact_lines` words them, with the description's first lines, the
repeats so far and the opening time in the reader's zone, as lines ranked by importance;
:func:`fit` keeps what fits a channel's budget (characters, UTF-8 bytes or SMS segments),
dropping the least important lines first and never cutting an action or a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from .payload import Number, as_text
from . import sms
from .schedules import known_zone
from .words import Moment, Say

KEY_LABELS = ("alertname", "severity", "instance", "job", "namespace", "pod", "service", "cluster")
MAX_LABELS = 5  # the key ones first, in KEY_LABELS' order, then the payload's own order
LABEL_KEY_CHARS, LABEL_VALUE_CHARS = 64, 100
RUNBOOK_KEYS = ("runbook_url", "runbook", "annotations.runbook_url", "annotations.runbook",
                "commonAnnotations.runbook_url", "commonAnnotations.runbook")
MAX_URL = 2000
DESCRIPTION_LINES, DESCRIPTION_CHARS = 3, 300
DESCRIPTION_READ = 4096  # characters of a description (or of the payload standing for it) read to find its first lines
MIN_KEPT = 12  # a line cut shorter than this says nothing: it is dropped instead
_SPACE = re.compile(r"\s+")
Fits = Callable[[str], bool]


# -- the facts, read once from the payload ------------------------------------------------------

def _one_line(value, limit: int) -> str:
    text = _SPACE.sub(" ", as_text(value)).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def labels_from(found) -> list[list[str]]:
    """An object's scalar fields as a page's key labels: the key ones first, at most
    :data:`MAX_LABELS`, each cut to one line (an alert's labels; what an alert API's event names)."""
    if not isinstance(found, dict):
        return []
    scalars = {str(k): v for k, v in found.items() if isinstance(k, str) and not k.startswith("__")
               and (isinstance(v, (str, int, float)) or isinstance(v, Number)) and not isinstance(v, bool)}
    ordered = [k for k in KEY_LABELS if k in scalars] + [k for k in scalars if k not in KEY_LABELS]
    labels = []
    for key in ordered[:MAX_LABELS]:
        value = _one_line(scalars[key], LABEL_VALUE_CHARS)
        if value:
            labels.append([_one_line(key, LABEL_KEY_CHARS), value])
    return labels


def web_url(value) -> str | None:
    """``value`` when it is an absolute http(s) URL a person may follow, else None (a
    ``javascript:`` link, a relative path, text with spaces)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL or _SPACE.search(value) \
            or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def facts_of(payload) -> dict | None:
    """An alert's key labels and runbook link as a page shows them, from the payload the rules
    saw (engine.payload.Payload; for a split payload, the element): an alert's ``labels``, or
    an Alertmanager group's ``commonLabels`` (its single alert's labels when it has none);
    ``runbook_url``, ``runbook`` or one in the annotations, when it is an http(s) URL. A
    generic payload has no labels: its top-level fields are not guessed at. None: neither."""
    if payload is None or not isinstance(payload.data, dict):
        return None
    labels = labels_from(payload.raw("labels")) or labels_from(payload.raw("commonLabels"))
    alerts = payload.data.get("alerts")
    single = alerts[0] if isinstance(alerts, list) and len(alerts) == 1 and isinstance(alerts[0], dict) else {}
    if not labels:
        labels = labels_from(single.get("labels"))
    runbook = next((url for url in (web_url(payload.value(k)) for k in RUNBOOK_KEYS) if url), None)
    if runbook is None and isinstance(single.get("annotations"), dict):
        annotations = single["annotations"]
        runbook = web_url(annotations.get("runbook_url")) or web_url(annotations.get("runbook"))
    found: dict = {}
    if labels:
        found["labels"] = labels
    if runbook:
        found["runbook"] = runbook
    return found or None


def first_lines(text: str | None) -> str:
    """A description's first non-empty lines, each on one line, at most
    :data:`DESCRIPTION_CHARS` in all (cut with "…")."""
    lines = [_SPACE.sub(" ", line).strip() for line in (text or "")[:DESCRIPTION_READ].splitlines()]
    kept = "\n".join([line for line in lines if line][:DESCRIPTION_LINES])
    return kept if len(kept) <= DESCRIPTION_CHARS else kept[:DESCRIPTION_CHARS - 1].rstrip() + "…"


def opened_at(epoch: float | None, zone: str | None) -> Moment | None:
    """When an incident opened, as its reader reads it: in their zone (UTC when it is unknown)."""
    if epoch is None:
        return None
    return Moment(epoch, zone if known_zone(zone) else "UTC")


# -- the lines, and cutting them to a budget -------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One line of a page. ``rank`` 0 is never dropped (the headline, the actions); a higher
    rank is dropped sooner. A ``whole`` line (an action, a link) is never cut, only dropped."""

    text: str
    rank: int = 0
    whole: bool = False


def labels_text(labels) -> str:
    """``alertname=HighCPU, severity=critical``."""
    return ", ".join(f"{key}={value}" for key, value in labels)


def repeats_said(item, words) -> str | None:
    """"Repeats so far: 3", or None before the first repeat."""
    return words(Say("Repeats so far: %(num)s", num=item.repeats)) if item.repeats else None


def opened_said(item, words) -> str | None:
    """"Opened Fri 06 Nov 17:00 CET", in the reader's zone and language."""
    when = opened_at(item.opened, item.zone)
    return None if when is None else words(Say("Opened %(when)s", when=when))


def fact_lines(item, words) -> list[Line]:
    """A page's facts below its headline, in the order they are shown, each ranked: the
    description's first lines (1), the key labels (2), the runbook link (3), the repeats so far
    (4), when it opened (5). ``item``: engine.messages.Item."""
    lines = [Line(text, 1) for text in item.description.splitlines()] if item.description else []
    if item.labels:
        lines.append(Line(f"{words(Say('Labels'))}: {labels_text(item.labels)}", 2))
    if item.runbook:
        lines.append(Line(f"{words(Say('Runbook'))}: {item.runbook}", 3, whole=True))
    repeats, opened = repeats_said(item, words), opened_said(item, words)
    if repeats:
        lines.append(Line(repeats, 4))
    if opened:
        lines.append(Line(opened, 5))
    return lines


def chars(limit: int) -> Fits:
    return lambda text: len(text) <= limit


def utf8(limit: int) -> Fits:
    return lambda text: len(text.encode()) <= limit


def _joined(lines: list[Line], sep: str) -> str:
    return sep.join(line.text for line in lines)


def _cut(lines: list[Line], index: int, fits: Fits, sep: str, ellipsis: str, least: int) -> Line | None:
    """Line ``index`` cut to the longest start that, with ``ellipsis``, lets the whole fit;
    None when that start would be shorter than ``least`` characters."""
    text = lines[index].text
    low, high = 0, len(text) - 1  # the longest prefix that fits is within [low, high]

    def with_prefix(size: int) -> list[Line]:
        return lines[:index] + [Line(text[:size].rstrip() + ellipsis, lines[index].rank)] + lines[index + 1:]

    if not fits(_joined(with_prefix(0), sep)):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if fits(_joined(with_prefix(middle), sep)):
            low = middle
        else:
            high = middle - 1
    if low < least:
        return None
    return with_prefix(low)[index]


def fit(lines: list[Line], fits: Fits, sep: str = "\n", ellipsis: str = "…") -> str:
    """The lines that fit, joined by ``sep``: the least important (highest rank, the last of
    a rank first) is cut, or dropped when a cut would leave too little of it, until the rest
    fits; then the first line that may be cut (the headline) is cut. Lines that are never cut
    and never dropped stay even when they alone do not fit (the caller's to check)."""
    kept = list(lines)
    while not fits(_joined(kept, sep)):
        droppable = [i for i, line in enumerate(kept) if line.rank > 0]
        if not droppable:
            break
        index = max(droppable, key=lambda i: (kept[i].rank, i))
        shorter = None if kept[index].whole else _cut(kept, index, fits, sep, ellipsis, MIN_KEPT)
        if shorter is not None:
            kept[index] = shorter
            return _joined(kept, sep)
        del kept[index]
    if fits(_joined(kept, sep)):
        return _joined(kept, sep)
    for index, line in enumerate(kept):
        if not line.whole:
            shorter = _cut(kept, index, fits, sep, ellipsis, 1)
            if shorter is not None:
                kept[index] = shorter
                break
    return _joined(kept, sep)


MOST_SEGMENTS = 3  # an SMS page never takes more


def sms_page(heads: list[str], facts: list[Line], actions: list[str]) -> str:
    """A page as SMS, one line each: the headline, the facts that fit, the actions. ``heads``
    and ``actions`` are ways of saying them, the fullest first (``actions`` empty: none). It
    takes as few segments as keep a headline whole (one where possible), trying the shorter
    ways before another segment; when no headline fits whole in :data:`MOST_SEGMENTS`, the
    fewest segments in which a cut one does, said the fullest way that fits them."""
    def build(head: str, action: str | None, count: int) -> str:
        tail = [Line(action, whole=True)] if action else []
        return fit([Line(head)] + facts + tail, sms.within(count), ellipsis=sms.ELLIPSIS)

    said = actions or [None]
    for count in range(1, MOST_SEGMENTS + 1):
        for action in said:
            for head in heads:
                text = build(head, action, count)
                if sms.segments(text) <= count and (text == head or text.startswith(head + "\n")):
                    return text
    for count in range(1, MOST_SEGMENTS + 1):
        for action in said:
            for head in heads:
                text = build(head, action, count)
                if sms.segments(text) <= count:
                    return text
    return text
