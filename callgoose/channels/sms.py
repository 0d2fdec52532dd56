"""SMS through a Twilio-compatible API when it is configured (the page asks for a reply: 1, 2
or 3), else through the team's own SMS gateway (delivery/sms_gateway.py), whose replies never
reach Callgoose: its page carries the signed acknowledge link instead. Either way a page is one
SMS where possible (160 GSM-7 or 70 UCS-2 characters), its facts cut to fit (engine.page)."""

from __future__ import annotations

from ..delivery import Temporary, sms_gateway, twilio
from ..engine.messages import sms_text
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_phone


class Sms(Channel):
    name = "sms"
    label = Say("SMS")
    noun = Say("SMS")
    needs = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    instead = ("SMS_GATEWAY_URL",)  # either sends SMS (ready())
    fields = (Field("address", Say("Phone number"), check_phone, kept="address", hint="+14155550100"),)
    limit = 160  # one GSM-7 SMS (70 in UCS-2): a page takes more only to keep its headline whole (engine.sms)
    follow_ups = False
    config = {"SMS_GATEWAY_URL": None, "SMS_GATEWAY_METHOD": "POST", "SMS_GATEWAY_HEADERS": None,
              "SMS_GATEWAY_BODY": sms_gateway.DEFAULT_BODY}

    def ready(self, settings) -> bool:
        return super().ready(settings) or bool(settings.get("SMS_GATEWAY_URL"))

    def destination(self, target: str, options: dict) -> str:
        return "twilio"

    def prepare(self, out: Outgoing):
        if super().ready(out.settings):  # Twilio, when configured, wins
            status = f"{out.settings.base_url}/twilio/status/{out.notification_id}"
            return lambda: twilio.send_sms(out.settings, out.target, out.message.short, status)
        found = sms_gateway.gateway(out.settings.extra)
        if found is None:
            raise Temporary("SMS is not set up: set CALLGOOSE_TWILIO_ACCOUNT_SID, CALLGOOSE_TWILIO_AUTH_TOKEN and "
                            "CALLGOOSE_TWILIO_FROM, or CALLGOOSE_SMS_GATEWAY_URL")
        text = self.gateway_text(out)
        return lambda: sms_gateway.send(out.settings, found, out.target, text)

    def gateway_text(self, out: Outgoing) -> str:
        """A page without "Reply 1 to acknowledge" (a gateway's replies reach nobody), ending in
        the signed link that acknowledges everything it carries, which is never cut; one SMS
        where the link leaves room for the headline (engine.page.sms_page)."""
        if not out.pages:
            return out.message.short
        action = f"{out.words(Say('Acknowledge'))}: {out.action_url('acknowledge')}"
        return sms_text(out.items, max(out.size, len(out.items)), out.words, [action])


CHANNEL = Sms()
