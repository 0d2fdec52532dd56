"""SMS through a Twilio-compatible API when it is configured (the page asks for a reply: 1, 2
or 3), else through the team's own SMS gateway (delivery/sms_gateway.py), whose replies never
reach Callgoose: its page carries the signed acknowledge link instead."""

from __future__ import annotations

from ..delivery import Temporary, sms_gateway, twilio
from ..engine.words import Say
from .base import Channel, Field, Outgoing, check_phone, cut


class Sms(Channel):
    name = "sms"
    label = Say("SMS")
    noun = Say("SMS")
    needs = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")  # or SMS_GATEWAY_URL (ready())
    fields = (Field("address", Say("Phone number"), check_phone, kept="address", hint="+14155550100"),)
    limit = 320
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
        the signed link that acknowledges everything it carries, which survives any cut."""
        if not out.pages:
            return out.message.short
        head = "Callgoose: " + out.message.subject.removeprefix("[Callgoose] ")
        tail = f" {out.words(Say('Acknowledge'))}: {out.action_url('acknowledge')}"
        return cut(head, self.limit - len(tail)) + tail


CHANNEL = Sms()
