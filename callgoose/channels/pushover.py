"""Pushover (https://pushover.net/api): a push to the person's Pushover app. A high-urgency page
is an emergency message, which sounds every minute until it is acknowledged in the app; Pushover
then POSTs the acknowledgement to our callback, and it acknowledges the incident as that person.

The application token is the server's (``PUSHOVER_APP_TOKEN``); each person gives their user
key. Pushover signs nothing it calls back, so the callback URL carries the proof: a signed
action (the query parameter ``token``, which the access log redacts), acted on once, and only
when ``acknowledged_by`` is the user key the page went to.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from ..delivery import Permanent, Temporary, webhook
from ..engine.messages import MAX_LISTED, TEXT_KINDS, subject_of
from ..engine.page import Line, chars, fact_lines, fit
from ..engine.rules import SpecError
from ..engine.words import Plural, Say
from .base import Callback, Channel, Field, Inbound, Outgoing, Refused, cut

API_BASE = "https://api.pushover.net"
PREFIX = "[Callgoose] "
MESSAGE_LIMIT, TITLE_LIMIT, URL_LIMIT, URL_TITLE_LIMIT = 1024, 250, 512, 100  # Pushover's limits (characters)
EMERGENCY = {"retry": "60", "expire": "3600"}  # sound every minute, for an hour at most
USER_KEY = re.compile(r"[A-Za-z0-9]{30}")
DEVICES = re.compile(r"[A-Za-z0-9_-]{1,25}(,[A-Za-z0-9_-]{1,25})*")


def check_user_key(value, path: str) -> str:
    """A user key as Pushover issues them: 30 letters and digits."""
    key = value.strip() if isinstance(value, str) else ""
    if not USER_KEY.fullmatch(key):
        raise SpecError(path, Say("must be a Pushover user key: 30 letters and digits"))
    return key


def check_devices(value, path: str) -> str:
    """One device name or several separated by commas (Pushover: up to 25 of A-Z a-z 0-9 _ -)."""
    names = re.sub(r"\s*,\s*", ",", value.strip()) if isinstance(value, str) else ""
    if not DEVICES.fullmatch(names):
        raise SpecError(path, Say("must be a device name (up to 25 letters, digits, _ or -), or several "
                                  "separated by commas"))
    return names


def priority_of(out: Outgoing) -> int:
    """2 (emergency) for a page that carries a high-urgency incident; 0 for a low-urgency page,
    a code, a test or a notice; -1 (quiet) for "acknowledged by" and "resolved". A bundle led by
    a follow-up that carries a high page cannot be acknowledged from the app: 1 (high)."""
    high = any(i.kind == "page" and i.urgency == "high" for i in out.items)
    if high:
        return 2 if out.pages else 1
    if any(i.kind == "page" for i in out.items) or out.items[0].kind in TEXT_KINDS:
        return 0
    return -1


def fields_of(out: Outgoing) -> dict[str, str]:
    """The message's parameters (without the application token), within Pushover's limits:
    one page tells its facts (engine.page), the least important dropped to fit 1,024."""
    first, words = out.items[0], out.words
    fields = {"user": out.target, "title": cut(out.message.subject.removeprefix(PREFIX), TITLE_LIMIT)}
    if out.options.get("device"):
        fields["device"] = out.options["device"]
    priority = priority_of(out)
    if first.kind in TEXT_KINDS:
        text = out.message.text.strip()
    elif out.size == 1 and len(out.items) == 1 and first.paged:  # one page: its facts, as many as fit
        tail = [Line(words(Say("Acknowledge it in Pushover to acknowledge it in Callgoose.")), whole=True)] \
            if priority == 2 else []
        text = fit([Line(subject_of([first], 1, words).removeprefix(PREFIX))] + fact_lines(first, words) + tail,
                   chars(MESSAGE_LIMIT))
    else:
        shown = out.items[:MAX_LISTED]
        lines = [subject_of([item], 1, words).removeprefix(PREFIX) for item in shown]
        total = max(out.size, len(out.items))
        if total > len(shown):
            lines.append(words(Plural("... and %(num)s more.", "... and %(num)s more.", total - len(shown), num=total - len(shown))))
        if priority == 2:
            lines.append(words(Say("Acknowledge it in Pushover to acknowledge it in Callgoose.")))
        text = "\n".join(lines)
    fields["message"] = cut(text, MESSAGE_LIMIT)
    ids = out.message.incident_ids
    url = first.url if len(ids) == 1 else f"{out.settings.base_url}/incidents" if ids else None
    if url and len(url) <= URL_LIMIT:
        fields["url"] = url
        fields["url_title"] = cut(words(Say("Open in Callgoose")), URL_TITLE_LIMIT)
    fields["priority"] = str(priority)
    if priority == 2:
        token = out.action_url("acknowledge").rpartition("/l/")[2]
        callback = f"{out.settings.base_url}/channels/pushover/callback?{urlencode({'token': token})}"
        fields.update(EMERGENCY, callback=callback)
    return fields


def _errors(answer: webhook.Answer) -> str:
    """What Pushover said was wrong (its ``errors``), for the ledger."""
    doc = answer.json()
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return "; ".join(str(e) for e in errors)[:300] if isinstance(errors, list) else ""


class Pushover(Channel):
    name = "pushover"
    label = Say("Pushover")
    help = Say("Your user key is on your Pushover dashboard (pushover.net, after signing in); use your own key, "
               "not a group's. Without a device, every device of yours gets the pages. A high-urgency page "
               "sounds every minute until you acknowledge it in the app, which acknowledges the incident.")
    needs = ("PUSHOVER_APP_TOKEN",)
    fields = (Field("user_key", Say("User key"), check_user_key, kept="address",
                    hint="u1a2b3c4d5e6f7g8h9i0j1k2l3m4n5"),
              Field("device", Say("Device"), check_devices, required=False, hint="phone"))
    limit = MESSAGE_LIMIT
    # No Acknowledge / Resolve buttons: the emergency's own acknowledgement acts (high urgency).
    buttons = False
    config = {"PUSHOVER_APP_TOKEN": None, "PUSHOVER_API_BASE": API_BASE}

    def destination(self, target: str, options: dict) -> str:
        return "pushover"

    def prepare(self, out: Outgoing):
        token = out.settings.get("PUSHOVER_APP_TOKEN")
        if not token:
            raise Temporary("Pushover is not configured (set CALLGOOSE_PUSHOVER_APP_TOKEN)")
        url = (out.settings.get("PUSHOVER_API_BASE") or API_BASE).rstrip("/") + "/1/messages.json"
        body = urlencode({"token": token, **fields_of(out)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}

        def transmit() -> str | None:
            answer = webhook.request(out.settings, "POST", url, body, headers, guard=False)
            webhook.outcome(answer, "Pushover", _errors(answer))
            doc = answer.json()
            if not isinstance(doc, dict) or doc.get("status") != 1:
                raise Permanent(f"Pushover did not accept the message: {_errors(answer) or answer.body[:200]!r}")
            return doc.get("receipt") or doc.get("request")  # an emergency's receipt, else the request id
        return transmit

    def callback(self, inbound: Inbound, settings) -> Callback:
        """Pushover's POST when an emergency message is acknowledged (``receipt``,
        ``acknowledged=1``, ``acknowledged_by`` the user key, ``acknowledged_by_device``)."""
        token, who = inbound.args.get("token"), inbound.form.get("acknowledged_by")
        if not token or not who or inbound.form.get("acknowledged") != "1":
            raise Refused("not a Pushover acknowledgement")
        return Callback(token=token, who=who)


CHANNEL = Pushover()
