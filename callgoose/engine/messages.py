"""What a notification says, per channel, without I/O: one item, or a bundle of several.

An :class:`Item` is one notification as the message shows it (its incident's title, service
and urgency, the facts a page tells (engine.page), and the links). :func:`compose` turns one
or more into a :class:`Message`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from .page import fact_lines, labels_text, opened_said, repeats_said, sms_page
from .words import Plural, Say

Words = Callable[[object], str]  # words a text in the recipient's language (str: English)

SMS_LIMIT = 320  # two SMS segments
TEXT_KINDS = ("test", "verify", "notice", "access")  # messages that carry their own text
MAX_LISTED = 10  # incidents spelled out in a bundle


@dataclass(frozen=True)
class Item:
    kind: str  # engine.paging.Kind
    incident_id: int | None = None
    title: str = ""
    service: str = ""
    urgency: str = "high"
    status: str = ""
    actor: str | None = None  # who acknowledged
    url: str | None = None  # the incident page
    ack_url: str | None = None
    resolve_url: str | None = None
    text: str | None = None  # test and verify messages (a Say: worded in the recipient's language)
    # what a page tells at 3 a.m. (engine.page): read once when the message is made
    description: str = ""  # its first lines (engine.page.first_lines)
    labels: tuple[tuple[str, str], ...] = ()  # the alert's key labels, in order
    runbook: str | None = None  # an http(s) URL
    repeats: int = 0  # the incident's repeats so far (S26)
    opened: float | None = None  # when the incident opened (epoch seconds) ...
    zone: str = "UTC"  # ... shown in the recipient's time zone
    priority: str | None = None  # P1-P5 (issue 20), before the urgency where the incident has one

    @property
    def paged(self) -> bool:
        """Whether this item is a page about an incident (it tells the incident's facts)."""
        return self.kind == "page" and self.incident_id is not None


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    short: str  # SMS (a call's words are web.outside.call_prompt's)
    incident_ids: tuple[int, ...]


def _line(item: Item) -> Say:
    if item.kind == "acknowledged":
        return Say("Acknowledged by %(actor)s: %(service)s: %(title)s", actor=item.actor or Say("someone"),
                   service=item.service, title=item.title)
    if item.kind == "resolved":
        return Say("Resolved: %(service)s: %(title)s", service=item.service, title=item.title)
    return paged_line(item)


def paged_line(item: Item) -> Say:
    """A page's line: ``P2 HIGH checkout-api: <title>`` (no priority: an incident opened before them)."""
    if item.priority:
        return Say("%(priority)s %(urgency)s %(service)s: %(title)s", priority=item.priority,
                   urgency=_urgency(item.urgency), service=item.service, title=item.title)
    return Say("%(urgency)s %(service)s: %(title)s", urgency=_urgency(item.urgency), service=item.service,
               title=item.title)


def _urgency(urgency: str):
    return {"high": Say("HIGH"), "low": Say("LOW")}.get(urgency, urgency.upper())


def subject_of(items: list[Item], total: int | None = None, words: Words = str) -> str:
    """A subject that reads on a lock screen: ``[Callgoose] HIGH checkout-api: <title>`` for one
    page; a count and the first title for a bundle."""
    first = items[0]
    if first.kind in TEXT_KINDS:
        return f"[Callgoose] {words(first.text).splitlines()[0]}"
    if len(items) == 1:
        return f"[Callgoose] {words(_line(first))}"
    total = total or len(items)
    pages = [i for i in items if i.kind == "page"]
    urgency = "high" if any(i.urgency == "high" for i in pages) else ("low" if pages else "")
    head = f"{words(_urgency(urgency))} " if urgency else ""
    return "[Callgoose] " + head + words(Plural("%(total)s updates: %(line)s and %(more)s more", "%(total)s updates: %(line)s and %(more)s more",
                                               total - 1, total=total, line=_line(first), more=total - 1))


def compose(items: list[Item], total: int | None = None, words: Words = str) -> Message:
    """The message for ``items`` (the first of a bundle, at least :data:`MAX_LISTED` of them
    when there are more; ``total`` says how many the bundle holds), worded by ``words`` (the
    recipient's language: services.languages.words_for; ``str``: English)."""
    if not items:
        raise ValueError("nothing to say")
    total = max(total or len(items), len(items))
    subject = subject_of(items, total, words)
    text_parts, html_parts = [], []
    if items[0].kind in TEXT_KINDS:
        body = words(items[0].text)
        return Message(subject, body + "\n", f"<p>{html.escape(body)}</p>", body[:SMS_LIMIT], ())
    shown = items[:MAX_LISTED]
    for item in shown:
        line = words(_line(item))
        text_parts.append(line)
        html_line = f"<strong>{html.escape(line)}</strong>"
        facts_text, facts_html = [], []
        if item.paged:
            facts_text = [f"  {fact.text}" for fact in fact_lines(item, words)]
            facts_html = facts_as_html(item, words)
        links_text, links_html = [], []
        for label, url in ((Say("Open"), item.url), (Say("Acknowledge"), item.ack_url),
                           (Say("Resolve"), item.resolve_url)):
            if url:
                links_text.append(f"  {words(label)}: {url}")
                links_html.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(words(label))}</a>')
        text_parts.extend(facts_text + links_text)
        text_parts.append("")
        html_parts.append(f"<p>{'<br>'.join([html_line] + facts_html)}<br>{' · '.join(links_html)}</p>")
    if total > len(shown):
        more = words(Plural("... and %(num)s more.", "... and %(num)s more.", total - len(shown), num=total - len(shown)))
        text_parts.append(more)
        html_parts.append(f"<p>{html.escape(more)}</p>")
    pages = [i for i in items if i.kind == "page"]
    note = words(Say("The links to acknowledge and resolve work once, for 24 hours; they ask before they act."))
    if pages:
        text_parts.append(note)
        html_parts.append(f"<p><small>{html.escape(note)}</small></p>")
    text = "\n".join(text_parts).rstrip() + "\n"
    html_body = "".join(html_parts)
    replies = [words(Say("Reply 1 to acknowledge, 2 to resolve, 3 to escalate.")),
               words(Say("Reply 1 ack, 2 resolve, 3 escalate."))] if pages else []
    short = sms_text(items, total, words, replies)
    ids = tuple(dict.fromkeys(i.incident_id for i in items if i.incident_id is not None))
    return Message(subject, text, html_body, short, ids)


def facts_as_html(item: Item, words: Words = str) -> list[str]:
    """A page's facts as lines of HTML, every text from the payload escaped; the runbook a
    link (engine.page.facts_of kept only http(s) URLs)."""
    found = [html.escape(line) for line in item.description.splitlines()]
    if item.labels:
        found.append(f"{html.escape(words(Say('Labels')))}: <code>{html.escape(labels_text(item.labels))}</code>")
    if item.runbook:
        found.append(f'{html.escape(words(Say("Runbook")))}: <a href="{html.escape(item.runbook, quote=True)}" '
                     f'rel="noopener noreferrer">{html.escape(item.runbook)}</a>')
    found += [html.escape(said) for said in (repeats_said(item, words), opened_said(item, words)) if said]
    return found


def sms_text(items: list[Item], total: int, words: Words, actions: list[str]) -> str:
    """The SMS of a page or a bundle (engine.page.sms_page): one SMS where possible. One page
    tells its facts that fit; a bundle says how many it carries and its first line."""
    first = items[0]
    if total == 1:
        line = words(_line(first))
        heads = [f"Callgoose: {line}", line]
        facts = fact_lines(first, words) if first.paged else []
    else:
        heads = [words(Plural("Callgoose: %(total)s updates. %(line)s and %(more)s more.",
                              "Callgoose: %(total)s updates. %(line)s and %(more)s more.", total - 1, total=total,
                              line=_line(first), more=total - 1))]
        facts = []
    return sms_page(heads, facts, actions)


def slack_escaped(text: str) -> str:
    """Text for Slack's mrkdwn: ``&``, ``<`` and ``>`` as entities, so a title cannot mention
    ``<!channel>`` or carry a ``<url|link>`` of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN = re.compile(r"([\\`*_~#\[\]<>|])")


def teams_escaped(text: str) -> str:
    """Text for Teams' markdown: the characters that make links, emphasis or headings
    backslash-escaped, so a title cannot carry a ``[link](url)`` of its own."""
    return _MARKDOWN.sub(r"\\\1", text)


CHAT_LINE = 200  # a fact's line in a chat message (Slack, Teams): short


def chat_link(url: str, label: str, fmt: str) -> str:
    """A link in Slack's ``<url|label>`` (``&`` as Slack's entity) or Markdown's
    ``[label](url)``; a URL holding a character either would read as its end is shown as
    escaped text instead."""
    if any(c in url for c in "<>|()[]`\"'"):
        return (teams_escaped if fmt in ("teams", "markdown") else slack_escaped)(url)
    if fmt in ("teams", "markdown"):
        return f"[{teams_escaped(label)}]({url})"
    return f"<{slack_escaped(url)}|{slack_escaped(label)}>"


def chat_facts(item: Item, words: Words, fmt: str) -> list[str]:
    """A page's facts for a chat, short: the description's first line, the labels, the
    runbook link and the repeats so far, the texts escaped for ``fmt``."""
    escaped = teams_escaped if fmt in ("teams", "markdown") else slack_escaped
    found = []
    if item.description:
        found.append(escaped(cut_chars(item.description.splitlines()[0], CHAT_LINE)))
    if item.labels:
        found.append(escaped(cut_chars(f"{words(Say('Labels'))}: {labels_text(item.labels)}", CHAT_LINE)))
    if item.runbook:
        found.append(f"{escaped(words(Say('Runbook')))}: {chat_link(item.runbook, item.runbook, fmt)}")
    repeats = repeats_said(item, words)
    if repeats:
        found.append(escaped(repeats))
    return found


def cut_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def chat_text(message: Message, items: list[Item], words: Words = str, fmt: str = "slack") -> str:
    """Chat text with links: Slack's ``<url|label>`` (``fmt="slack"``) or Markdown's
    ``[label](url)`` (``"teams"``); the texts (titles) are escaped for that format. A single
    page tells its facts, short (:func:`chat_facts`)."""
    escaped = teams_escaped if fmt == "teams" else slack_escaped
    lines = []
    for item in items[:MAX_LISTED]:
        line = escaped(words(_line(item) if item.kind not in TEXT_KINDS else item.text))
        if item.url:
            label = words(Say("open"))
            line += f" [{label}]({item.url})" if fmt == "teams" else f" <{item.url}|{label}>"
        lines.append(line)
        if len(items) == 1 and item.paged:
            lines += chat_facts(item, words, fmt)
    if len(items) > MAX_LISTED:
        lines.append(escaped(words(Plural("... and %(num)s more.", "... and %(num)s more.", len(items) - MAX_LISTED, num=len(items) - MAX_LISTED))))
    return "\n".join(lines)


def iso_utc(epoch: float | None) -> str | None:
    """An instant as the JSON API writes times (S36): ISO 8601 UTC with a ``Z``."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def item_json(item: Item) -> dict:
    """One item of a generic webhook's JSON, with what its page tells."""
    return {"kind": item.kind, "incident_id": item.incident_id, "title": item.title, "service": item.service,
            "urgency": item.urgency, "priority": item.priority, "url": item.url, "description": item.description,
            "labels": dict(item.labels), "runbook_url": item.runbook, "repeats": item.repeats,
            "opened_at": iso_utc(item.opened)}


def webhook_body(fmt: str, message: Message, items: list[Item], delivery_id: str, sent_at: str,
                 words: Words = str) -> dict:
    """A personal webhook's JSON: generic, Slack-compatible or Teams-compatible."""
    if fmt == "slack":
        text = chat_text(message, items, words, "slack")
        return {"text": slack_escaped(message.subject.removeprefix("[Callgoose] ")) + "\n" + text}
    if fmt == "teams":
        text = chat_text(message, items, words, "teams")
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": message.subject, "title": message.subject, "text": text.replace("\n", "\n\n")}
    return {"type": items[0].kind, "delivery_id": delivery_id, "sent_at": sent_at, "subject": message.subject,
            "text": message.text, "items": [item_json(i) for i in items]}
