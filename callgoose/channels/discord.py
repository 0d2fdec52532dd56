"""A Discord channel's webhook: one embed with the incident's facts and, for a page, signed
Acknowledge / Resolve links (a webhook cannot carry buttons without a bot; the links ask
before they act). The URL is the user's, so it goes through the SSRF guard."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from .. import clock
from ..delivery import Settings, webhook
from ..engine.messages import MAX_LISTED, TEXT_KINDS, Item, chat_link, subject_of, teams_escaped
from ..engine.page import opened_at
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from .base import Channel, Field, Outgoing, check_url, cut

HOOK_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(\d+)/[A-Za-z0-9_-]+/?")
PREFIX = "[Callgoose] "
# Discord's limits (its "Embed Limits"): characters, not bytes
CONTENT, TITLE, DESCRIPTION, FIELD_VALUE, TOTAL = 2000, 256, 4096, 1024, 6000
FOOTER = "Callgoose"
COLOURS = {"high": 0xD93025, "low": 0xF9AB00, "acknowledged": 0x1A73E8, "resolved": 0x188038}
GREY = 0x5F6368  # tests and codes

escaped = teams_escaped  # Discord's Markdown: a title cannot make a [link](url), a heading or a spoiler


def check_hook(value, path: str) -> str:
    """A Discord webhook URL (``…/api/webhooks/<id>/<token>``), on any host (a proxy, a compatible server)."""
    url = check_url(value, path)
    try:
        matched = HOOK_PATH.fullmatch(urlsplit(url).path)
    except ValueError:
        matched = None
    if matched is None:
        raise SpecError(path, Say("must be a Discord webhook URL (https://discord.com/api/webhooks/…)"))
    return url


class Discord(Channel):
    name = "discord"
    label = Say("Discord")
    help = Say("In Discord: the channel's settings, Integrations, Webhooks, New Webhook, then Copy Webhook URL. "
               "Pages carry Acknowledge and Resolve links that ask before they act.")
    fields = (Field("url", Say("Webhook URL"), check_hook, kept="address",
                    hint="https://discord.com/api/webhooks/123/abc"),)
    limit = DESCRIPTION
    url_field = "url"

    def shown(self, address: str, options: dict | None) -> str:
        """The URL without its token (whoever holds the token can post to the channel)."""
        parts = urlsplit(address)
        matched = HOOK_PATH.fullmatch(parts.path)
        if matched is None:
            return address
        return f"{parts.scheme}://{parts.netloc}/api/webhooks/{matched.group(1)}/…"

    def destination(self, target: str, options: dict) -> str:
        try:
            return "discord:" + webhook.check_url(target)[1]
        except webhook.Refused:
            return "discord:?"

    def prepare(self, out: Outgoing):
        body = json.dumps(message(out), ensure_ascii=False).encode()
        return lambda: send(out.settings, out.target, body)


def send(settings: Settings, url: str, body: bytes) -> str:
    """POST to the webhook: 204 (or 200 with ``?wait=true``) is sent; Discord's own words for a refusal."""
    answer = webhook.request(settings, "POST", url, body)
    detail = ""
    if not 200 <= answer.status < 300:
        doc = answer.json()
        if isinstance(doc, dict):
            detail = str(doc.get("message") or "")
            if doc.get("errors"):
                detail += " " + json.dumps(doc["errors"], separators=(",", ":"))
        detail = detail.strip()[:300]
    return webhook.outcome(answer, "Discord", detail)


def _linkable(url: str | None) -> bool:
    """Whether Discord takes ``url`` as an embed's URL: http(s) and a host with a dot (a
    ``BASE_URL`` of ``http://localhost:8000`` would make it refuse the whole message)."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and "." in (parts.hostname or "")


def _line(item: Item, words) -> str:
    """One item as the mail's subject words it ("HIGH checkout-api: CPU high")."""
    return subject_of([item], 1, words).removeprefix(PREFIX)


def _fit(head: list[str], listed: list[str], budget: int, more: int, words) -> str:
    """``head`` (the links: always kept), then as many of the ``listed`` items as fit within
    ``budget`` characters, then "... and N more." for the items left out (``more``: those
    never listed at all)."""
    def more_line(num: int) -> str:
        return escaped(words(Plural("... and %(num)s more.", "... and %(num)s more.", num, num=num)))

    kept = list(head)
    for index, line in enumerate(listed):
        left = len(listed) - index - 1 + more  # items after this one
        reserve = len(more_line(left)) + 1 if left else 0
        if len("\n".join(kept + [line])) + reserve > budget:
            more += len(listed) - index
            break
        kept.append(line)
    if more:
        kept.append(more_line(more))
    return cut("\n".join(kept), budget)


def facts_fields(item: Item, words) -> list[dict]:
    """A page's facts as embed fields: its key labels, its runbook link, its repeats so far
    and when it opened (in the recipient's zone), the texts escaped."""
    fields = []
    if item.labels:
        fields.append({"name": words(Say("Labels")), "inline": False, "value": cut(
            "\n".join(f"{escaped(key)}: {escaped(value)}" for key, value in item.labels), FIELD_VALUE)})
    if item.runbook and len(item.runbook) <= FIELD_VALUE - 10:
        fields.append({"name": words(Say("Runbook")), "inline": False,
                       "value": chat_link(item.runbook, words(Say("Open the runbook")), "markdown")})
    if item.repeats:
        fields.append({"name": words(Say("Repeats")), "value": str(item.repeats), "inline": True})
    opened = opened_at(item.opened, item.zone)
    if opened is not None:
        fields.append({"name": words(Say("Opened")), "value": words(opened), "inline": True})
    return fields


def message(out: Outgoing) -> dict:
    """The webhook's JSON: a line of content (what a phone's notification shows) and one embed."""
    words, items, first = out.words, out.items, out.items[0]
    single = out.size == 1 and len(items) == 1
    embed: dict = {"title": cut(out.message.subject.removeprefix(PREFIX), TITLE), "footer": {"text": FOOTER},
                   "timestamp": clock.iso(clock.to_db(out.now))}
    head: list[str] = []
    listed: list[str] = []
    more = 0
    if out.pages:
        links = [f"[{escaped(words(label))}]({out.action_url(action)})"
                 for label, action in ((Say("Acknowledge"), "acknowledge"), (Say("Resolve"), "resolve"))]
        head.append("**" + "** · **".join(links) + "**")
        head.append(escaped(words(Say(
            "The links to acknowledge and resolve work once, for 24 hours; they ask before they act."))))
        if not single:
            head.append(escaped(words(Say("These links act on every incident in this message."))))
    if first.kind in TEXT_KINDS:
        embed["color"] = GREY
        head.append(escaped(out.message.text.rstrip()))
    elif single:
        if first.kind == "page" and first.title:
            embed["title"] = cut(first.title, TITLE)
        embed["color"] = COLOURS.get(first.kind, COLOURS.get(first.urgency, GREY))
        embed["fields"] = [{"name": words(Say("Service")), "value": cut(escaped(first.service) or "-", FIELD_VALUE),
                            "inline": True}]
        if first.kind == "page":
            urgency = {"high": Say("HIGH"), "low": Say("LOW")}.get(first.urgency, first.urgency.upper())
            embed["fields"].append({"name": words(Say("Urgency")), "value": words(urgency) or "-", "inline": True})
        if first.paged:
            embed["fields"] += facts_fields(first, words)
            if first.description:
                head[:0] = [escaped(line) for line in first.description.splitlines()] + [""]
        if _linkable(first.url):
            embed["url"] = first.url
    else:
        pages = [i for i in items if i.kind == "page"]
        urgent = any(i.urgency == "high" for i in pages)
        embed["color"] = COLOURS["high" if urgent else "low"] if pages else COLOURS.get(first.kind, GREY)
        if head:
            head.append("")
        for item in items[:MAX_LISTED]:
            line = "• " + escaped(_line(item, words))
            if item.url:
                line += f" ([{escaped(words(Say('open')))}]({item.url}))"
            listed.append(line)
        more = max(out.size, len(items)) - len(listed)
    used = len(embed["title"]) + len(FOOTER) + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", ()))
    description = _fit(head, listed, min(DESCRIPTION, TOTAL - used), more, words)
    if description.strip():
        embed["description"] = description
    return {"content": cut(escaped(out.message.subject.removeprefix(PREFIX)), CONTENT), "embeds": [embed],
            "allowed_mentions": {"parse": []}}


CHANNEL = Discord()
