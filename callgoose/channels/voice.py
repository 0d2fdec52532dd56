"""Phone calls through a Twilio-compatible API: Twilio fetches our TwiML when answered
(web/outside.py says the page and takes the keypress)."""

from __future__ import annotations

from ..delivery import twilio
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_phone


class Voice(Channel):
    name = "voice"
    label = Say("Phone call")
    noun = Say("phone call")
    needs = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    fields = (Field("address", Say("Phone number"), check_phone, kept="address", hint="+14155550100"),)
    limit = 320
    follow_ups = False
    calls = True

    def destination(self, target: str, options: dict) -> str:
        return "twilio"

    def prepare(self, out: Outgoing):
        url = f"{out.settings.base_url}/twilio/voice/{out.notification_id}"
        status = f"{out.settings.base_url}/twilio/status/{out.notification_id}"
        return lambda: twilio.place_call(out.settings, out.target, url, status)


CHANNEL = Voice()
