"""A Matrix room, through the homeserver's client-server API as this server's own account
(``MATRIX_HOMESERVER``, ``MATRIX_ACCESS_TOKEN``): an ``m.text`` message with an HTML body
and, for a page, signed Acknowledge / Resolve links. The delivery id is the transaction id,
so a retry after a lost answer is the same event to the homeserver: posted once."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote

from ..delivery import Settings, Temporary, webhook
from ..engine.messages import MAX_LISTED, TEXT_KINDS, Item, facts_as_html, subject_of
from ..engine.page import fact_lines
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from .base import Channel, Field, Outgoing

# !opaque:server (server: a DNS name, IPv4 or [IPv6], an optional port); room version 12
# (MSC4291) dropped the server: ! and the create event's hash, 43 characters of URL-safe base64.
ROOM_ID = re.compile(r"![^:\s]+:(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
ROOM_ID_V12 = re.compile(r"![A-Za-z0-9_-]{43}")
SEND = "{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"
PREFIX = "[Callgoose] "


def check_room(value, path: str) -> str:
    """A room ID as the homeserver names the room (an alias, ``#room:server``, is not one)."""
    room = value.strip() if isinstance(value, str) else ""
    if len(room.encode()) > 255 or not (ROOM_ID.fullmatch(room) or ROOM_ID_V12.fullmatch(room)):
        raise SpecError(path, Say("must be a Matrix room ID such as !AbCdEfGh:example.org (an alias, #room, will "
                                  "not do)"))
    return room


class Matrix(Channel):
    name = "matrix"
    label = Say("Matrix")
    help = Say("Invite this server's Matrix account to the room; the room ID is under the room's settings, "
               "Advanced. Set the room's notifications to all messages, so that a page rings.")
    needs = ("MATRIX_HOMESERVER", "MATRIX_ACCESS_TOKEN")
    config = {"MATRIX_HOMESERVER": None, "MATRIX_ACCESS_TOKEN": None}
    fields = (Field("room_id", Say("Room ID"), check_room, kept="address", hint="!AbCdEfGh:example.org"),)
    limit = 65_536  # bytes of the whole event, as the spec bounds it; a message here stays far below

    def destination(self, target: str, options: dict) -> str:
        return "matrix"

    def prepare(self, out: Outgoing):
        body = json.dumps(content(out), ensure_ascii=False).encode()
        return lambda: send(out.settings, out.target, out.delivery_id, body)


def send(settings: Settings, room: str, txn: str, body: bytes) -> str:
    """PUT the event; the homeserver's ``event_id``, or Temporary / Permanent as the outbox
    reads the answer (401 and 403 are the token's or the room's fault: Permanent)."""
    base, token = settings.get("MATRIX_HOMESERVER"), settings.get("MATRIX_ACCESS_TOKEN")
    if not base or not token:
        raise Temporary("Matrix is not configured (set CALLGOOSE_MATRIX_HOMESERVER and "
                        "CALLGOOSE_MATRIX_ACCESS_TOKEN)")
    url = SEND.format(base=base.rstrip("/"), room=quote(room, safe=""), txn=quote(txn, safe=""))
    answer = webhook.request(settings, "PUT", url, body, {"Authorization": f"Bearer {token}"}, guard=False)
    doc = answer.json()
    if 200 <= answer.status < 300 and isinstance(doc, dict) and isinstance(doc.get("event_id"), str):
        return doc["event_id"]
    detail = ""
    if isinstance(doc, dict):
        detail = ": ".join(str(doc[k]) for k in ("errcode", "error") if doc.get(k))[:300]
    return webhook.outcome(answer, "the Matrix homeserver", detail)


def _line(item: Item, words) -> str:
    """One item as the mail's subject words it ("HIGH checkout-api: CPU high")."""
    return subject_of([item], 1, words).removeprefix(PREFIX)


def _a(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def content(out: Outgoing) -> dict:
    """The event's content: ``body`` (plain text, what a phone's notification shows) and the
    same as escaped HTML; ``m.mentions`` empty, so an "@room" in a title notifies nobody. One
    page tells its facts (engine.page): far below the event's 64 KiB."""
    words, items, first = out.words, out.items, out.items[0]
    text = [out.message.subject]
    rich = [f"<p><strong>{html.escape(out.message.subject)}</strong></p>"]
    single = out.size == 1 and len(items) == 1
    if first.kind in TEXT_KINDS:
        said = out.message.text.rstrip()
        text.append(said)
        rich.append("<p>" + html.escape(said).replace("\n", "<br>") + "</p>")
    elif single and first.paged:  # one page: what it tells, escaped in the HTML
        text += [fact.text for fact in fact_lines(first, words)]
        facts = facts_as_html(first, words)
        if facts:
            rich.append("<p>" + "<br>".join(facts) + "</p>")
    elif not single:
        listed = []
        for item in items[:MAX_LISTED]:
            line = _line(item, words)
            text.append(f"• {line}" + (f" ({words(Say('open'))}: {item.url})" if item.url else ""))
            listed.append("<li>" + html.escape(line) + (f" ({_a(item.url, words(Say('open')))})" if item.url else "")
                          + "</li>")
        rich.append("<ul>" + "".join(listed) + "</ul>")
        more = max(out.size, len(items)) - len(listed)
        if more:
            said = words(Plural("... and %(num)s more.", "... and %(num)s more.", more, num=more))
            text.append(said)
            rich.append(f"<p>{html.escape(said)}</p>")
    links = [] if first.kind in TEXT_KINDS or not single or not first.url else [(Say("Open"), first.url)]
    if out.pages:
        links += [(Say("Acknowledge"), out.action_url("acknowledge")), (Say("Resolve"), out.action_url("resolve"))]
    if links:
        text += [f"{words(label)}: {url}" for label, url in links]
        rich.append("<p>" + " · ".join(_a(url, words(label)) for label, url in links) + "</p>")
    if out.pages:
        notes = [words(Say("The links to acknowledge and resolve work once, for 24 hours; they ask before they act."))]
        if not single:
            notes.append(words(Say("These links act on every incident in this message.")))
        text += notes
        rich.append("<p><small>" + " ".join(html.escape(n) for n in notes) + "</small></p>")
    return {"msgtype": "m.text", "body": "\n".join(text), "format": "org.matrix.custom.html",
            "formatted_body": "".join(rich), "m.mentions": {}}


CHANNEL = Matrix()
