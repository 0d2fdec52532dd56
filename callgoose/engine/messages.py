"""What a notification says, per channel, without I/O: one item, or a bundle of several.

An :class:`Item` is one notification as the message shows it (its incident's title, service
and urgency, and the links). :func:`compose` turns one or more into a :class:`Message`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

SMS_LIMIT = 320  # two SMS segments
TEXT_KINDS = ("test", "verify", "notice")  # messages that carry their own text
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
    text: str | None = None  # test and verify messages


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    short: str  # SMS
    spoken: str  # what a call reads aloud
    incident_ids: tuple[int, ...]


def _line(item: Item) -> str:
    if item.kind == "acknowledged":
        return f"Acknowledged by {item.actor or 'someone'}: {item.service}: {item.title}"
    if item.kind == "resolved":
        return f"Resolved: {item.service}: {item.title}"
    return f"{item.urgency.upper()} {item.service}: {item.title}"


def subject_of(items: list[Item], total: int | None = None) -> str:
    """A subject that reads on a lock screen: ``[Callgoose] HIGH checkout-api: <title>`` for one
    page; a count and the first title for a bundle."""
    first = items[0]
    if first.kind in TEXT_KINDS:
        return f"[Callgoose] {first.text.splitlines()[0]}"
    if len(items) == 1:
        return f"[Callgoose] {_line(first)}"
    total = total or len(items)
    pages = [i for i in items if i.kind == "page"]
    urgency = "HIGH" if any(i.urgency == "high" for i in pages) else ("LOW" if pages else "")
    head = f"{urgency} " if urgency else ""
    return f"[Callgoose] {head}{total} updates: {_line(first)} and {total - 1} more"


def compose(items: list[Item], total: int | None = None) -> Message:
    """The message for ``items`` (the first of a bundle, at least :data:`MAX_LISTED` of them
    when there are more; ``total`` says how many the bundle holds)."""
    if not items:
        raise ValueError("nothing to say")
    total = max(total or len(items), len(items))
    subject = subject_of(items, total)
    text_parts, html_parts = [], []
    if items[0].kind in TEXT_KINDS:
        body = items[0].text
        return Message(subject, body + "\n", f"<p>{html.escape(body)}</p>", body[:SMS_LIMIT],
                       body, ())
    shown = items[:MAX_LISTED]
    for item in shown:
        text_parts.append(_line(item))
        html_line = f"<strong>{html.escape(_line(item))}</strong>"
        links_text, links_html = [], []
        for label, url in (("Open", item.url), ("Acknowledge", item.ack_url), ("Resolve", item.resolve_url)):
            if url:
                links_text.append(f"  {label}: {url}")
                links_html.append(f'<a href="{html.escape(url, quote=True)}">{label}</a>')
        text_parts.extend(links_text)
        text_parts.append("")
        html_parts.append(f"<p>{html_line}<br>{' · '.join(links_html)}</p>")
    if total > len(shown):
        more = f"... and {total - len(shown)} more."
        text_parts.append(more)
        html_parts.append(f"<p>{more}</p>")
    pages = [i for i in items if i.kind == "page"]
    note = "The links to acknowledge and resolve work once, for 24 hours; they ask before they act."
    if pages:
        text_parts.append(note)
        html_parts.append(f"<p><small>{note}</small></p>")
    text = "\n".join(text_parts).rstrip() + "\n"
    html_body = "".join(html_parts)
    if total == 1:
        short = f"Callgoose: {_line(items[0])}"
    else:
        short = f"Callgoose: {total} updates. {_line(items[0])} and {total - 1} more."
    if pages:
        short += " Reply 1 to acknowledge, 2 to resolve, 3 to escalate."
    if len(short) > SMS_LIMIT:
        short = short[:SMS_LIMIT - 1] + "…"
    if len(pages) == 1 and total == 1:
        spoken = f"Callgoose alert. {pages[0].urgency} urgency. {pages[0].service}: {pages[0].title}."
    elif pages:
        spoken = f"Callgoose alert. {total} updates. The first: {pages[0].service}: {pages[0].title}."
    else:
        spoken = "Callgoose. " + _line(items[0]) + "."
    ids = tuple(dict.fromkeys(i.incident_id for i in items if i.incident_id is not None))
    return Message(subject, text, html_body, short, spoken, ids)


def chat_text(message: Message, items: list[Item]) -> str:
    """Slack-style text with links (``<url|label>``)."""
    lines = []
    for item in items[:MAX_LISTED]:
        line = _line(item) if item.kind not in TEXT_KINDS else item.text
        if item.url:
            line += f" <{item.url}|open>"
        lines.append(line)
    if len(items) > MAX_LISTED:
        lines.append(f"... and {len(items) - MAX_LISTED} more.")
    return "\n".join(lines)


def webhook_body(fmt: str, message: Message, items: list[Item], delivery_id: str, sent_at: str) -> dict:
    """A personal webhook's JSON: generic, Slack-compatible or Teams-compatible."""
    text = chat_text(message, items)
    if fmt == "slack":
        return {"text": message.subject.removeprefix("[Callgoose] ") + "\n" + text}
    if fmt == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": message.subject, "title": message.subject, "text": text.replace("\n", "\n\n")}
    return {"type": items[0].kind, "delivery_id": delivery_id, "sent_at": sent_at, "subject": message.subject,
            "text": message.text,
            "items": [{"kind": i.kind, "incident_id": i.incident_id, "title": i.title, "service": i.service,
                       "urgency": i.urgency, "url": i.url} for i in items]}
