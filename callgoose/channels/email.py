"""Email through the configured SMTP server: every message, with signed action links."""

from __future__ import annotations

from ..delivery import mail
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_email


class Email(Channel):
    name = "email"
    wakes = False  # mail waits for the morning: not an interruption
    label = Say("Email")
    noun = Say("email")
    needs = ("SMTP_HOST",)
    fields = (Field("address", Say("Email address"), check_email, kept="address",
                    hint="name@example.com"),)
    limit = 100_000
    links = True  # every item of a page carries its own acknowledge and resolve links

    def destination(self, target: str, options: dict) -> str:
        return "smtp"

    def prepare(self, out: Outgoing):
        built = mail.build(out.settings, out.target, out.message, out.delivery_id)
        return lambda: mail.send(out.settings, out.target, out.message, out.delivery_id, built)


CHANNEL = Email()
