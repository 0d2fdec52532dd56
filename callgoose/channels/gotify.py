"""Gotify (https://gotify.net): a push to the team's own Gotify server, so no third party sees
the page. Each person gives their server's URL and an application token (an app they made in
Gotify's web UI); ``POST <server>/message`` carries the title, a Markdown message and a
priority (8 for a high-urgency page: Gotify's Android app rings and shows it at once).

Gotify has no buttons: a page carries signed Acknowledge / Resolve links (a GET asks, only the
confirmation's POST acts), and the notification opens the incident when tapped.
"""

from __future__ import annotations

import json

from ..delivery import webhook
from ..engine.messages import MAX_LISTED, TEXT_KINDS, chat_link, teams_escaped
from ..engine.page import Line, chars, fact_lines, fit
from ..engine.words import Plural, Say
from .base import Channel, Field, Outgoing, check_token, check_url, one_page
from .webhook import host_of

LIMIT = 4096  # characters of a message (Gotify sets none; its app shows this much well)
PRIORITY = {"high": 8, "low": 5}  # a page's, by urgency; everything else is quiet
QUIET = 2


def priority_of(out: Outgoing) -> int:
    """8 for a page carrying a high-urgency incident, 5 for a low one; 2 for the rest
    ("acknowledged by", "resolved", codes, tests: worth seeing, not worth waking for)."""
    pages = [item.urgency for item in out.items if item.kind == "page"]
    if not pages:
        return QUIET
    return PRIORITY["high"] if "high" in pages else PRIORITY["low"]


def _facts(page, words) -> list[Line]:
    """A lone page's facts (engine.page), escaped for Markdown; the runbook as a link."""
    found = []
    for line in fact_lines(page, words):
        if page.runbook and line.text.endswith(page.runbook):
            found.append(Line(f"{words(Say('Runbook'))}: {chat_link(page.runbook, page.runbook, 'markdown')}",
                              line.rank, whole=True))
        else:
            found.append(Line(teams_escaped(line.text), line.rank, line.whole))
    return found


def message_of(out: Outgoing) -> dict:
    """The message as Gotify takes it: Markdown (untrusted text escaped), the incident to open
    on a tap, a lone page's facts, a bundle's list and the signed links, within :data:`LIMIT`."""
    words, first, page = out.words, out.items[0], one_page(out)
    title = out.message.subject.removeprefix("[Callgoose] ")
    total = max(out.size, len(out.items))
    if first.kind in TEXT_KINDS:
        lines = [Line(teams_escaped(words(first.text)))]
    elif page is not None:
        lines = [Line(teams_escaped(f"{page.service}: {page.title}"))] + _facts(page, words)
    else:
        lines = [Line(teams_escaped(f"{item.service}: {item.title}")) for item in out.items[:MAX_LISTED]]
        if total > len(lines):
            lines.append(Line(words(Plural("... and %(num)s more.", "... and %(num)s more.", total - len(lines), num=total - len(lines)))))
    if out.pages:
        links = " · ".join(chat_link(out.action_url(action), words(label), "markdown")
                           for action, label in (("acknowledge", Say("Acknowledge")), ("resolve", Say("Resolve"))))
        note = Say("The links to acknowledge and resolve work once, for 24 hours; they ask before they act.")
        lines += [Line(links, whole=True), Line(words(note), 9)]
    extras = {"client::display": {"contentType": "text/markdown"}}
    if first.url:
        opened = first.url if page is not None else f"{out.settings.base_url}/incidents"
        extras["client::notification"] = {"click": {"url": opened}}
    return {"title": title[:250], "message": fit(lines, chars(LIMIT), sep="  \n"), "priority": priority_of(out),
            "extras": extras}


class Gotify(Channel):
    name = "gotify"
    label = Say("Gotify")
    help = Say("In your Gotify server's web UI: Apps, Create application, then copy its token. A high-urgency page "
               "arrives at priority 8, which the Gotify app rings for.")
    fields = (Field("url", Say("Server URL"), check_url, kept="address", hint="https://gotify.example.com"),
              Field("token", Say("Application token"), check_token, secret=True, hint="AbCdEfGhIjKlMnO"))
    limit = LIMIT
    url_field = "url"

    def destination(self, target: str, options: dict) -> str:
        return host_of(target)

    def prepare(self, out: Outgoing):
        url = out.target.rstrip("/") + "/message"
        body = json.dumps(message_of(out), ensure_ascii=False).encode()
        headers = {"X-Gotify-Key": out.options.get("token", "")}

        def transmit() -> str | None:
            answer = webhook.request(out.settings, "POST", url, body, headers)
            doc = answer.json()
            webhook.outcome(answer, "Gotify", str(doc.get("errorDescription", ""))[:200] if isinstance(doc, dict)
                            else "")
            return str(doc.get("id")) if isinstance(doc, dict) and doc.get("id") is not None else None
        return transmit


CHANNEL = Gotify()
