"""ntfy (ntfy.sh or a self-hosted server): a push to a topic the person's phone subscribes to,
whose pages carry Acknowledge and Resolve buttons that POST signed actions back.

Published as JSON to the server's root URL rather than with headers: a title in any language
then needs no RFC 2047 words (http.client sends header values as Latin-1 only) and no header
can be broken by a line in a title.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

from ..delivery import Permanent, webhook
from ..engine.rules import SpecError
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_token, check_url, cut

TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")  # ntfy's topic names
MESSAGE_BYTES = 4096  # ntfy's message-size-limit: a longer body becomes an attachment, or is refused
JSON_BYTES = 2 * MESSAGE_BYTES  # ntfy reads a JSON publish up to twice the message limit
TITLE_CHARS = 250
NOTE = Say("The links to acknowledge and resolve work once, for 24 hours; they ask before they act.")
TAGS = {"acknowledged": "eyes", "resolved": "white_check_mark", "test": "test_tube", "verify": "key",
        "notice": "calendar"}


def split_topic(url: str) -> tuple[str, str]:
    """(the server's root URL, the topic) of a topic URL: ``https://ntfy.example.com/alerts``
    is published to ``https://ntfy.example.com/`` (a server under a path keeps its path).
    :raises ValueError:"""
    parts = urlsplit(url)
    base, _, topic = parts.path.rstrip("/").rpartition("/")
    if parts.query or parts.fragment or not TOPIC.fullmatch(topic):
        raise ValueError(url)
    return urlunsplit((parts.scheme, parts.netloc, base + "/", "", "")), topic


def check_topic_url(value, path: str) -> str:
    url = check_url(value, path)
    try:
        split_topic(url)
    except ValueError:
        raise SpecError(path, Say("must be an ntfy topic's URL: the server, then the topic (letters, digits, - "
                                  "and _, at most 64), e.g. https://ntfy.sh/callgoose-ana")) from None
    return url.rstrip("/")


class Ntfy(Channel):
    name = "ntfy"
    label = Say("ntfy")
    help = Say("Subscribe to a topic in the ntfy app (on ntfy.sh or your own server) and give its full URL. "
               "An access token is needed only when the topic is protected.")
    fields = (Field("url", Say("Topic URL"), check_topic_url, kept="address", hint="https://ntfy.sh/callgoose-ana"),
              Field("token", Say("Access token"), check_token, required=False, secret=True, hint="tk_..."))
    limit = MESSAGE_BYTES
    buttons = True
    url_field = "url"

    def destination(self, target: str, options: dict) -> str:
        try:
            return "ntfy:" + webhook.check_url(target)[1]
        except webhook.Refused:
            return "ntfy:?"

    def prepare(self, out: Outgoing):
        try:
            root, topic = split_topic(out.target)
        except ValueError:
            raise Permanent("the ntfy topic URL is not valid") from None
        body = publication(out, topic)
        headers = {"Content-Type": "application/json"}
        if out.options.get("token"):
            headers["Authorization"] = f"Bearer {out.options['token']}"

        def transmit() -> str | None:
            answer = webhook.request(out.settings, "POST", root, body, headers, guard=True)
            said = answer.json()
            said = said if isinstance(said, dict) else {}
            webhook.outcome(answer, "the ntfy server", str(said.get("error") or ""))  # ntfy's errors: {"error": ...}
            return str(said.get("id") or "") or None
        return transmit


def priority(out: Outgoing) -> int:
    """5 (ntfy's max: long vibration bursts, a pop-over) for a high-urgency page, 3 for a low
    one; what needs nobody at once is lower: 3 and 2 for follow-ups, 3 for the rest."""
    judged = [item for item in out.items if item.kind == out.kind] or out.items  # a bundle's own kind
    high = any(item.urgency == "high" for item in judged)
    if out.kind == "page":
        return 5 if high else 3
    if out.kind in ("acknowledged", "resolved"):
        return 3 if high else 2
    return 3


def tags(out: Outgoing) -> list[str]:
    """One emoji tag, shown before the title: what the message is at a glance."""
    if out.pages:
        return ["rotating_light" if priority(out) == 5 else "warning"]
    return [TAGS.get(out.kind, "bell")]


def utf8(text: str) -> str:
    """Text that encodes as UTF-8 (a lone surrogate from a payload becomes "?")."""
    return text.encode("utf-8", "replace").decode("utf-8")


def publication(out: Outgoing, topic: str) -> bytes:
    """The JSON ntfy publishes: title, text within ntfy's 4,096 bytes, priority, tags, the
    incident to open, and for a page the two buttons (each acts on every incident it carries)."""
    title = utf8(" ".join(out.message.subject.split())[:TITLE_CHARS])
    text = out.message.text
    if out.pages:  # buttons here, not the mail's links that ask first
        text = text.replace(out.words(NOTE), "")
    text = utf8(text.strip())
    doc: dict = {"topic": topic, "title": title, "priority": priority(out), "tags": tags(out)}
    urls = list(dict.fromkeys(item.url for item in out.items if item.url))
    if urls:
        doc["click"] = urls[0] if len(urls) == 1 else f"{out.settings.base_url}/incidents"
    if out.pages:
        doc["actions"] = [{"action": "http", "label": out.words(label), "url": out.action_url(action),
                           "method": "POST", "clear": True}
                          for label, action in ((Say("Acknowledge"), "acknowledge"), (Say("Resolve"), "resolve"))]
    limit = MESSAGE_BYTES
    while True:  # the message within ntfy's limit, and the whole JSON within what ntfy reads of it
        doc["message"] = cut(text, limit, unit="bytes")
        data = json.dumps(doc, ensure_ascii=False).encode()
        if len(data) <= JSON_BYTES or limit <= 64:
            return data
        limit = max(64, limit - (len(data) - JSON_BYTES))


CHANNEL = Ntfy()
