"""Sentences that say what a call did on a service and why, from its stored result.

Worded in the reader's language (Flask-Babel; English outside a request): the API log and the
test payload form show the same words.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask import current_app, request
from flask_babel import ngettext
from markdown_it import MarkdownIt
from markupsafe import Markup

from .. import clock
from ..engine import Payload, clean
from ..engine.outcome import Miss, ServiceOutcome
from ..engine.payload import (
    as_text,
    is_text_type,
    pretty_json,
    split_content_type,
    text_encoding,
)
from ..services.templates import filled as fill_marks
from .i18n import say, wall

OUTCOMES = {201: _l("created an incident"), 200: _l("resolved"), 208: _l("duplicate"), 202: _l("nothing to do"),
            413: _l("body too large")}


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 call``, ``2 calls`` (``words`` for an irregular plural)."""
    if count == 1:
        return f"{count} {word}"
    if words:
        return f"{count} {words}"
    return f"{count} {word}es" if word.endswith(("ch", "sh", "s", "x")) else f"{count} {word}s"


def _rule(kind: str, index: int) -> str:
    """"Trigger rule 2", "resolve rule 1" (``kind`` capitalised or not, as the sentence starts)."""
    num = index + 1
    if kind == "Trigger":
        return _("Trigger rule %(num)s", num=num)
    if kind == "Resolve":
        return _("Resolve rule %(num)s", num=num)
    return _("trigger rule %(num)s", num=num) if kind == "trigger" else _("resolve rule %(num)s", num=num)


def _miss(miss: Miss) -> str:
    rule = _rule(miss.kind.capitalize(), miss.rule)
    if miss.condition < 0:  # the resolve rule held, but its mapping key gave nothing
        return _("%(rule)s: its conditions hold, but its mapping key `%(key)s` is absent or empty in this payload, "
                 "so it does not hold.", rule=rule, key=miss.json_key)
    return _("%(rule)s, condition %(num)s on `%(key)s`: %(reason)s.", rule=rule, num=miss.condition + 1,
             key=miss.json_key or _("(whole payload)"), reason=say(miss.reason or ""))


def explain(result: ServiceOutcome) -> list[str]:
    """What happened on one service, first the outcome, then the reasons."""
    note = result.note or ""
    if note == "disabled":
        return [_("The service is disabled: it ignores every call (a service token of a disabled service gets 202).")]
    if result.is_error:
        return [_("The rules could not be evaluated (%(error)s). The call was kept and answered 202.",
                  error=note[len("error: "):])]
    trigger, resolves = result.trigger, result.resolves
    if note == "maintenance":
        held = [_rule("trigger", trigger.rule)] if trigger else []
        held += [_rule("resolve", r.rule) for r in resolves]
        said = _("The service is in maintenance for this call: nothing was done and nothing remembered.")
        return [said + (" " + _("Without maintenance, %(rules)s would have held.", rules=", ".join(held))
                        if held else "")]
    if result.event is not None:
        return _event_lines(result)
    lines = []
    if result.replay:
        lines.append(_("Replay: the same payload for the same subject arrived within the duplicate window, "
                       "so nothing changed (answered as a duplicate)."))
    for hit in resolves:
        rule = _rule("Resolve", hit.rule)
        if result.replay:
            lines.append(_("%(rule)s held for mapping value “%(value)s”.", rule=rule, value=hit.value))
        elif result.resolved_incidents:
            lines.append(ngettext("%(rule)s held for mapping value “%(value)s” and resolved %(num)d incident "
                                  "(linked below).",
                                  "%(rule)s held for mapping value “%(value)s” and resolved %(num)d incidents "
                                  "(linked below).", len(result.resolved_incidents), rule=rule, value=hit.value))
        else:
            lines.append(_("%(rule)s held for mapping value “%(value)s”, but no active incident has that mapping "
                           "value.", rule=rule, value=hit.value))
    if trigger:
        rule, value = _rule("Trigger", trigger.rule), trigger.mapping_value
        if result.replay:
            lines.append(_("%(rule)s held with mapping value “%(value)s”.", rule=rule, value=value) if value else
                         _("%(rule)s held (no mapping value: every call opens its own incident).", rule=rule))
        elif result.created:
            lines.append(_("%(rule)s held with mapping value “%(value)s” and opened incident #%(id)s.", rule=rule,
                           value=value, id=result.incident) if value else
                         _("%(rule)s held (no mapping value: every call opens its own incident) and opened "
                           "incident #%(id)s.", rule=rule, id=result.incident))
        elif result.incident:
            lines.append(_("%(rule)s held with mapping value “%(value)s”; incident #%(id)s with that mapping value "
                           "is still open, so this counts as a duplicate of it.", rule=rule, value=value,
                           id=result.incident) if value else
                         _("%(rule)s held (no mapping value: every call opens its own incident); incident #%(id)s "
                           "with that mapping value is still open, so this counts as a duplicate of it.", rule=rule,
                           id=result.incident))
    if not trigger and not resolves:
        lines.append(_("No rule held, so nothing was done."))
    lines.extend(_miss(m) for m in result.misses)  # every rule tried that did not hold
    return lines


def _event_lines(result: ServiceOutcome) -> list[str]:
    """What an alert API's event (issue 18) did: it names its incident itself, no rule is tried."""
    event, key = result.event, result.key
    if result.created:
        return [_("Event %(event)s with key “%(key)s” opened incident #%(id)s.", event=event, key=key,
                  id=result.incident) if key else
                _("Event %(event)s opened incident #%(id)s.", event=event, id=result.incident)]
    if result.resolved_incidents:
        return [_("Event %(event)s resolved incident #%(id)s.", event=event, id=result.resolved_incidents[0])]
    if result.incident is not None:
        if result.status == 208:
            return [_("Event %(event)s: incident #%(id)s with key “%(key)s” is still open, so this counts as a "
                      "duplicate of it.", event=event, id=result.incident, key=key)]
        return [_("Event %(event)s applied to incident #%(id)s (or it was so already).", event=event,
                  id=result.incident)]
    if key:
        return [_("Event %(event)s: no incident of this service has the key “%(key)s”, so nothing was done.",
                  event=event, key=key)]
    return [_("Event %(event)s: no such incident on this service, so nothing was done.", event=event)]


def why_nothing(results: list[ServiceOutcome]) -> str:
    """One sentence for a 202 a person triggered: why nothing happened, and what to do."""
    if not results:
        return _("No service exists yet, or none is enabled for this token: create a service with a "
                 "trigger rule on Services.")
    notes = {r.note or "" for r in results}
    if notes == {"disabled"}:
        return _("The service is disabled: enable it on Services.")
    if notes == {"maintenance"}:
        return _("The service is in maintenance, so the call was only recorded: end the maintenance on Services.")
    if any(r.is_error for r in results):
        return _("A rule could not be evaluated (see below); the call was kept.")
    if any(r.resolves for r in results):
        return _("A resolve rule held, but no active incident has that mapping value.")
    return _("No service has a rule that holds for this payload: add or change a trigger rule on Services "
             "(the reasons per rule are below).")


def intent_words(intent) -> str:
    """What a service's rules ask for, for one call, in words (the dry run's columns)."""
    said = []
    if intent.opens:
        said.append(_("opens %(values)s", values=", ".join(f'"{m}"' if m else _("(no mapping value)")
                                                             for m in intent.opens)))
    if intent.resolves:
        said.append(_("resolves %(values)s", values=", ".join(f'"{v}"' for v in intent.resolves)))
    return "; ".join(said) or _("nothing (202)")


def outcome(status: int) -> str:
    return str(OUTCOMES.get(status, status))


def charset_note(content_type: str | None) -> str | None:
    """Say how a declared charset was read, when it was not used as declared (S7)."""
    mime, charset = split_content_type(content_type)
    if charset is None or not is_text_type(mime):
        return None
    used = text_encoding(charset)
    if used == "utf-8" and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return f"charset={charset} is not a text encoding Callgoose can read: read as UTF-8"
    return None


# The Alertmanager-style sample of the test payload form and the API Token tab.
SAMPLE = json.dumps({
    "version": "4", "status": "firing", "receiver": "callgoose", "groupKey": "{}:{alertname=\"HighCPU\"}",
    "commonLabels": {"alertname": "HighCPU", "instance": "db1:9100", "severity": "critical"},
    "commonAnnotations": {"summary": "CPU above 90% on db1", "description": "5m load average is 12.3"},
    "alerts": [{"status": "firing", "labels": {"alertname": "HighCPU", "instance": "db1:9100"},
                "startsAt": "2026-11-26T10:00:00Z", "generatorURL": "http://prometheus.local/graph"}],
}, indent=2)


def pretty_payload(text: str) -> tuple[str, list[str]]:
    """Indented JSON (or the text as sent), and the http(s) links found in the payload."""
    data = Payload.from_text(text).data  # the engine's own reading of "is JSON" (S8)
    if data is None:
        return text, []
    links, stack = [], [data]
    while stack and len(links) < 10:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and node.startswith(("http://", "https://")) and node not in links:
            links.append(clean(node))
    return pretty_json(data), links


def localtime(epoch: float | None, zone_name: str) -> str:
    """An instant as local wall time with its zone's abbreviation (CET, CEST: offsets show)."""
    if epoch is None:
        return _("never")
    local = datetime.fromtimestamp(epoch, timezone.utc).astimezone(ZoneInfo(zone_name))
    return wall(local, "%a %d %b %Y %H:%M %Z")


def dbtime(value, zone_name: str) -> str:
    """A stored (naive UTC) time as local wall time."""
    return localtime(clock.from_db(value), zone_name)


def shade(name) -> str:
    """One of eight colour classes, the same for a name everywhere."""
    return f"u{zlib.crc32(str(name).encode()) % 8}"


def localinput(epoch: float, zone_name: str) -> str:
    """An instant as a ``datetime-local`` input's value in a zone."""
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone(ZoneInfo(zone_name)).strftime("%Y-%m-%dT%H:%M")


def filled(text: str, endpoint: str, token: str | None) -> str:
    """A template's guide with this server's endpoint and the token (or YOUR_TOKEN) in it."""
    return fill_marks(text, endpoint, token)


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")  # no raw HTML, even from our files


def guide_html(text: str) -> Markup:
    """An integration guide (CommonMark from a reviewed file in the repo) as HTML."""
    return Markup(_MARKDOWN.render(text))


TREE_LEAVES = 400  # a bigger payload is shown as text only


@dataclass(frozen=True)
class TreeNode:
    label: str  # the key, or [i] for an array element
    path: str  # the json key that reaches it (S10: dots, numeric segments for arrays)
    value: str | None = None  # a leaf's text (S13); None for objects and arrays
    children: tuple = ()


def payload_tree(text: str) -> TreeNode | None:
    """The payload as a tree whose leaves know their json key (click to build a rule); None
    when it is not JSON (S8) or has more than :data:`TREE_LEAVES` leaves."""
    data = Payload.from_text(text).data
    if data is None:
        return None
    leaves = [0]

    def node(label: str, path: str, value) -> TreeNode:
        if isinstance(value, dict):
            return TreeNode(label, path, None, tuple(node(clean(str(k)), f"{path}.{k}" if path else str(k), v)
                                                     for k, v in value.items()))
        if isinstance(value, list):
            return TreeNode(label, path, None, tuple(node(f"[{i}]", f"{path}.{i}" if path else str(i), v)
                                                     for i, v in enumerate(value)))
        leaves[0] += 1
        if leaves[0] > TREE_LEAVES:
            raise OverflowError
        return TreeNode(label, clean(path), "null" if value is None else as_text(value))
    try:
        return node("payload", "", data)
    except (OverflowError, RecursionError):
        return None


def rule_key(path: str, split_on: str | None) -> str:
    """A payload path as a rule of this service writes it: inside a split array (S38), relative
    to the element; elsewhere in a split service, with the whole payload's ``$.``."""
    if not split_on:
        return path
    prefix = split_on + "."
    if path.startswith(prefix):
        rest = path[len(prefix):]
        index, _, inner = rest.partition(".")
        if index.isdigit() and inner:
            return inner
    return "$." + path


def endpoint_url(path: str = "/v1/process") -> str:
    """The full endpoint URL (or another path's: the PagerDuty-compatible ``/v2/enqueue``):
    from BASE_URL when set, else from the request's host."""
    base = current_app.config.get("BASE_URL") or request.host_url
    return base.rstrip("/") + path
