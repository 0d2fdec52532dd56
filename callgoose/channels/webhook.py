"""A person's webhook: JSON, or a Slack- or Teams-compatible message, behind the SSRF guard."""

from __future__ import annotations

import json

from .. import clock
from ..delivery import webhook
from ..engine.messages import webhook_body
from ..engine.paging import WEBHOOK_FORMATS
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_url, choice


class Webhook(Channel):
    name = "webhook"
    label = Say("Webhook")
    noun = Say("webhook")
    fields = (Field("url", Say("URL"), check_url, kept="address", hint="https://example.com/hook"),
              Field("format", Say("Format"), choice(*WEBHOOK_FORMATS), choices=WEBHOOK_FORMATS, default="json",
                    kept="format"))
    url_field = "url"

    def destination(self, target: str, options: dict) -> str:
        return host_of(target)

    def prepare(self, out: Outgoing):
        body = json.dumps(webhook_body(out.format or "json", out.message, out.items, out.delivery_id,
                                       clock.iso(clock.to_db(out.now)), out.words), ensure_ascii=False).encode()
        return lambda: webhook.post(out.settings, out.target, body, {"Callgoose-Delivery": out.delivery_id})


def host_of(url: str) -> str:
    """A webhook's destination for the per-destination cap: its host."""
    try:
        return "webhook:" + webhook.check_url(url)[1]
    except webhook.Refused:
        return "webhook:?"


CHANNEL = Webhook()
