"""SMS through a Twilio-compatible API; the page asks for a reply (1, 2 or 3)."""

from __future__ import annotations

from ..delivery import twilio
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_phone


class Sms(Channel):
    name = "sms"
    label = Say("SMS")
    noun = Say("SMS")
    needs = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    fields = (Field("address", Say("Phone number"), check_phone, kept="address", hint="+14155550100"),)
    limit = 320
    follow_ups = False

    def destination(self, target: str, options: dict) -> str:
        return "twilio"

    def prepare(self, out: Outgoing):
        status = f"{out.settings.base_url}/twilio/status/{out.notification_id}"
        return lambda: twilio.send_sms(out.settings, out.target, out.message.short, status)


CHANNEL = Sms()
