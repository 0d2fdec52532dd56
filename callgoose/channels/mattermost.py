"""Mattermost through a person's incoming webhook: a message attachment with the incident's
facts and, on a page, Acknowledge and Resolve buttons. Mattermost posts a press to
``POST /channels/mattermost/callback`` with the button's context, which carries the signed
action: the token is the proof (anyone in the channel may press), so no presser is checked."""

from __future__ import annotations

import json
import re

from ..delivery import webhook
from ..engine.messages import TEXT_KINDS, chat_link, chat_text, teams_escaped
from ..engine.page import opened_at
from ..engine.signing import is_action
from ..engine.words import Say
from .base import Callback, Channel, Field, Inbound, Outgoing, Refused, check_url, cut

CALLBACK_PATH = "/channels/mattermost/callback"
COLORS = {"high": "#d32f2f", "low": "#f9a825", "acknowledged": "#1e88e5", "resolved": "#43a047"}
BUTTONS = (("acknowledge", Say("Acknowledge"), "primary"), ("resolve", Say("Resolve"), "good"))
DONE = {"acknowledge": Say("Acknowledged by %(user)s."), "resolve": Say("Resolved by %(user)s.")}
USER = "{user}"  # where the presser's name goes in a worded DONE (known only when pressed)
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a Mattermost user name


def escaped(text: str) -> str:
    """Text from a payload for Mattermost's Markdown: the characters that make links and
    emphasis escaped, and every ``@`` followed by a zero-width space, so a title can neither
    carry a link nor mention ``@channel``."""
    return teams_escaped(text).replace("@", "@\u200b")


class Mattermost(Channel):
    name = "mattermost"
    label = Say("Mattermost")
    help = Say("An incoming webhook of a Mattermost channel (Integrations > Incoming Webhooks). Pages carry "
               "Acknowledge and Resolve buttons that anyone in that channel can press; Mattermost must reach this "
               "server's BASE_URL for them to work.")
    fields = (Field("url", Say("Webhook URL"), check_url, kept="address",
                    hint="https://chat.example.com/hooks/xxxxxxxxxxxxxxxxxxxxxxxxxx"),)
    url_field = "url"
    buttons = True
    limit = 16383  # characters of a post's message; longer ones Mattermost splits into several posts

    def destination(self, target: str, options: dict) -> str:
        try:
            return "mattermost:" + webhook.check_url(target)[1]
        except webhook.Refused:
            return "mattermost:?"

    def prepare(self, out: Outgoing):
        body = json.dumps(self.post(out), ensure_ascii=False).encode()
        return lambda: _sent(webhook.request(out.settings, "POST", out.target, body))

    def post(self, out: Outgoing) -> dict:
        """The incoming webhook's JSON: the subject as the message (what a phone's notification
        shows), and an attachment with the facts and, on a page, the buttons."""
        first, words = out.items[0], out.words
        if first.kind in TEXT_KINDS:  # a code, a test, a notice: our own words
            return {"text": cut(out.message.text.strip().replace("@", "@\u200b"), self.limit)}
        subject = out.message.subject.removeprefix("[Callgoose] ")
        attachment: dict = {"fallback": cut(subject.replace("@", "@\u200b"), 1000),
                            "color": COLORS.get(first.kind, COLORS.get(first.urgency, COLORS["high"]))}
        if len(out.items) == 1:
            attachment["title"] = cut(escaped(first.title) or "-", 1000)
            if first.url:
                attachment["title_link"] = first.url
            attachment["fields"] = [
                {"title": words(Say("Service")), "value": escaped(first.service), "short": True},
                {"title": words(Say("Urgency")), "value": words(Say("HIGH") if first.urgency == "high" else
                                                                Say("LOW")), "short": True}]
            if first.paged:
                self.facts(attachment, first, words)
        else:
            attachment["text"] = cut(chat_text(out.message, out.items, words, "teams").replace("@", "@\u200b"),
                                     self.limit)
        if out.pages:
            attachment["actions"] = [self.button(out, *button) for button in BUTTONS]
        return {"text": cut(escaped(subject), self.limit), "attachments": [attachment]}

    def facts(self, attachment: dict, item, words) -> None:
        """A page's facts in its attachment: the description's first lines as its text, the
        key labels, the runbook link, the repeats so far and when it opened (in the recipient's
        zone) as fields; every text escaped, every ``@`` defused."""
        if item.description:
            attachment["text"] = escaped(item.description)
        if item.labels:
            attachment["fields"].append({"title": words(Say("Labels")), "short": False, "value": "\n".join(
                f"{escaped(key)}: {escaped(value)}" for key, value in item.labels)})
        if item.runbook:
            attachment["fields"].append({"title": words(Say("Runbook")), "short": False, "value": chat_link(
                item.runbook, words(Say("Open the runbook")), "markdown").replace("@", "%40")})
        if item.repeats:
            attachment["fields"].append({"title": words(Say("Repeats")), "value": str(item.repeats), "short": True})
        opened = opened_at(item.opened, item.zone)
        if opened is not None:
            attachment["fields"].append({"title": words(Say("Opened")), "value": words(opened), "short": True})

    def button(self, out: Outgoing, action: str, label: Say, style: str) -> dict:
        """A button (its id alphanumeric: Mattermost routes no other) whose context carries the
        signed action, and what to say once it acted, worded in the recipient's language."""
        token = out.action_url(action).rsplit("/l/", 1)[1]
        return {"id": action, "type": "button", "name": out.words(label), "style": style,
                "integration": {"url": out.settings.base_url + CALLBACK_PATH,
                                "context": {"action": token, "done": out.words(Say(DONE[action].msgid,
                                                                                     user=USER))}}}

    def callback(self, inbound: Inbound, settings) -> Callback:
        """A button pressed: act on the signed action in its context, then update the post
        ("Acknowledged by @ana.") or tell the presser alone why nothing happened. Mattermost
        shows a failed press for any answer but 200, so problems are answered with 200 too."""
        doc = inbound.json()
        context = doc.get("context") if isinstance(doc, dict) else None
        token = context.get("action") if isinstance(context, dict) else None
        if not isinstance(token, str) or not is_action(token):
            raise Refused("not a Mattermost button of Callgoose's: no signed action in its context")
        name = doc.get("user_name")
        user = "@" + name if isinstance(name, str) and NAME.fullmatch(name) else "someone"
        done = context.get("done")

        def answer(problem: str | None, action: str | None) -> tuple[int, object]:
            if problem:
                return 200, {"ephemeral_text": problem[:1].upper() + problem[1:] + "."}
            if not (isinstance(done, str) and USER in done):  # a context without our words: English
                said = DONE.get(action or "", DONE["acknowledge"]).msgid % {"user": user}
            else:
                said = done.replace(USER, user)
            return 200, {"update": {"message": said}}
        return Callback(token=token, who=None, answer=answer)


def _sent(answer: webhook.Answer) -> str:
    """Mattermost's answer as the outbox reads it, with its error message for the ledger."""
    doc = answer.json()
    detail = str(doc.get("message") or "")[:200] if isinstance(doc, dict) else ""
    return webhook.outcome(answer, "Mattermost", detail)


CHANNEL = Mattermost()
