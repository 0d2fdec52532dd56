"""A person's webhook: JSON, or a Slack- or Teams-compatible message, behind the SSRF guard.

With ``SLACK_SIGNING_SECRET`` set, a Slack-format page carries Acknowledge / Resolve buttons
(Block Kit) whose values are signed actions; Slack's calls for their presses
(``POST /slack/actions``) are verified here, and the presser acts as themself
(services.actions). The setting is the webhook channel's because the buttons ride on its
Slack format: there is no Slack channel apart from it.
"""

from __future__ import annotations

import json
import logging
import re

from .. import clock
from ..delivery import Permanent, Settings, Temporary, webhook
from ..delivery.deadline import Budget
from ..engine.messages import slack_escaped, webhook_body
from ..engine.paging import WEBHOOK_FORMATS
from ..engine.signing import slack_valid
from ..engine.words import Say
from .base import Callback, Channel, Field, Inbound, Outgoing, Presser, Refused, check_url, choice, cut

log = logging.getLogger(__name__)
SLACK_SECRET = "SLACK_SIGNING_SECRET"
ACTIONS_BLOCK = "callgoose-actions"  # the buttons' block, found again when a press updates the message
STATE_BLOCK = "callgoose-state"  # "Acknowledged by …", added by a press
BUTTONS = (("acknowledge", Say("Acknowledge"), "primary"), ("resolve", Say("Resolve"), "danger"))
ACTIONS = tuple(action for action, _label, _style in BUTTONS)
RESPONSE_SECONDS = 2.0  # Slack waits 3 s for a press's answer; updating the message must fit in it
SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
PROBLEMS = {  # services.actions' reasons, as a presser reads them in Slack
    "this link is not valid": Say("This button is not valid."),
    "this link has expired": Say("This button has expired: buttons work for 24 hours."),
    "this link has been used already": Say("This button has been used already; nothing changed."),
    "this incident no longer exists": Say("This incident no longer exists."),
    "your Callgoose account is no longer active": Say("Your Callgoose account is no longer active."),
    "a viewer cannot act on incidents": Say("Your Callgoose role is viewer: you cannot act on incidents."),
    "the incident was acknowledged already": Say("Nothing changed: the incident was acknowledged already."),
    "the incident was resolved already": Say("Nothing changed: the incident was resolved already."),
    "the incident is resolved; it cannot be acknowledged": Say(
        "Nothing changed: the incident is resolved; it cannot be acknowledged."),
}


class Webhook(Channel):
    name = "webhook"
    label = Say("Webhook")
    noun = Say("webhook")
    fields = (Field("url", Say("URL"), check_url, kept="address", hint="https://example.com/hook"),
              Field("format", Say("Format"), choice(*WEBHOOK_FORMATS), choices=WEBHOOK_FORMATS, default="json",
                    kept="format"))
    url_field = "url"
    config = {SLACK_SECRET: None}  # Slack's signing secret: pages in the slack format get buttons

    def destination(self, target: str, options: dict) -> str:
        return host_of(target)

    def prepare(self, out: Outgoing):
        doc = webhook_body(out.format or "json", out.message, out.items, out.delivery_id,
                           clock.iso(clock.to_db(out.now)), out.words)
        if out.format == "slack" and out.pages and out.settings.get(SLACK_SECRET):
            doc = with_buttons(doc, out)
        body = json.dumps(doc, ensure_ascii=False).encode()
        return lambda: webhook.post(out.settings, out.target, body, {"Callgoose-Delivery": out.delivery_id})

    def callback(self, inbound: Inbound, settings: Settings) -> Callback:
        """A button pressed in Slack: Slack's signature over this body, made within five
        minutes, or :class:`Refused`; then its ``block_actions`` payload."""
        headers = inbound.headers
        if not slack_valid(settings.get(SLACK_SECRET), headers.get("x-slack-request-timestamp"), inbound.body,
                           headers.get("x-slack-signature"), clock.now()):
            raise Refused("The request's Slack signature is missing, wrong or too old.")
        return pressed(_payload(inbound), settings)


def host_of(url: str) -> str:
    """A webhook's destination for the per-destination cap: its host."""
    try:
        return "webhook:" + webhook.check_url(url)[1]
    except webhook.Refused:
        return "webhook:?"


def with_buttons(doc: dict, out: Outgoing) -> dict:
    """A Slack page with Acknowledge / Resolve buttons, each carrying the signed action for
    every incident the message carries; ``text`` stays, as the notification's fallback."""
    buttons = [{"type": "button", "action_id": action, "text": {"type": "plain_text", "text": cut(out.words(label), 75)},
                "style": style, "value": out.action_url(action).rsplit("/", 1)[-1]} for action, label, style in BUTTONS]
    return {**doc, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": cut(doc["text"], 3000)}},
                              {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons}]}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _payload(inbound: Inbound) -> dict:
    try:
        return _dict(json.loads(inbound.form.get("payload") or "null"))
    except ValueError:
        return {}


def pressed(payload: dict, settings: Settings) -> Callback:
    """What a signed ``block_actions`` payload asks: one of our buttons, pressed by a Slack
    user of a team; anything else is only acknowledged (Slack wants a 200)."""
    user, team = _dict(payload.get("user")), _dict(payload.get("team"))
    actions = payload.get("actions") if isinstance(payload.get("actions"), list) else []
    action = next((a for a in actions if isinstance(a, dict) and a.get("action_id") in ACTIONS), None)
    team_id = user.get("team_id") or team.get("id")
    if payload.get("type") != "block_actions" or action is None or not isinstance(action.get("value"), str) \
            or not isinstance(user.get("id"), str) or not isinstance(team_id, str):
        return Callback(answer=lambda _problem, _action: (200, ""))
    name = f"@{user.get('username') or user.get('name') or user['id']}" + (
        f" ({team['domain']})" if isinstance(team.get("domain"), str) else "")
    message, url = _dict(payload.get("message")), payload.get("response_url")
    return Callback(token=action["value"], presser=Presser(
        team=team_id, user=user["id"], name=name[:200],
        answer=lambda problem, done, words: respond(settings, url, after(message, user["id"], problem, done, words)),
        introduce=lambda link, words: respond(settings, url, ephemeral(words(Say(
            "Callgoose does not know this Slack account yet. Open this link while signed in to Callgoose "
            "(it works for 15 minutes) to link the account to you, then press the button again: %(url)s",
            url=f"<{link}>"))))))


def ephemeral(text: str) -> dict:
    """A reply only the presser sees; the message stays as it is."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def after(message: dict, presser: str, problem: str | None, action: str | None, words) -> dict:
    """The answer to a press: the message again, saying who acted, without the buttons that no
    longer apply (Resolve stays after an acknowledgement); or, when nothing was done, why."""
    if problem:
        return ephemeral(words(PROBLEMS.get(problem) or Say("Nothing changed: %(problem)s.", problem=problem)))
    who = f"<@{presser}>" if SLACK_ID.fullmatch(presser) else slack_escaped(presser)
    line = words(Say("Acknowledged by %(who)s.", who=who) if action == "acknowledge"
                 else Say("Resolved by %(who)s.", who=who))
    blocks = []
    for block in message.get("blocks") or []:
        if not isinstance(block, dict) or block.get("block_id") == STATE_BLOCK:
            continue
        if block.get("block_id") == ACTIONS_BLOCK:
            left = [e for e in block.get("elements") or [] if action == "acknowledge"
                    and isinstance(e, dict) and e.get("action_id") == "resolve"]
            if not left:
                continue
            block = {**block, "elements": left}
        blocks.append(block)
    blocks.append({"type": "context", "block_id": STATE_BLOCK, "elements": [{"type": "mrkdwn", "text": line}]})
    return {"replace_original": True, "text": message.get("text") or line, "blocks": blocks}


def respond(settings: Settings, url, doc: dict) -> tuple[int, object]:
    """Post the answer to the press's ``response_url`` (where Slack takes a press's reply),
    within Slack's 3 seconds, behind the SSRF guard; the HTTP answer only acknowledges. When
    that cannot be done, the answer goes in the HTTP answer's body instead."""
    if not isinstance(url, str) or not url:
        return 200, doc
    try:
        with Budget(RESPONSE_SECONDS):
            webhook.outcome(webhook.request(settings, "POST", url, json.dumps(doc, ensure_ascii=False).encode()),
                            "Slack's response_url")
    except (Temporary, Permanent) as exc:
        log.warning("slack: the answer to a press could not be posted: %s", exc)
        return 200, doc
    return 200, ""


CHANNEL = Webhook()
