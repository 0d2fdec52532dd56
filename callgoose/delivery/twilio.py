"""SMS and voice calls through a Twilio-compatible REST API (``CALLGOOSE_TWILIO_*``).

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` (To, From, Body) and
``.../Calls.json`` (To, From, Url, Method), form-encoded, with HTTP basic auth of the
account SID and auth token, as Twilio documents them. The call's ``Url`` is our TwiML
endpoint; Twilio fetches it when the call is answered. With a ``status_callback`` URL
Twilio also reports how the message or call went (``StatusCallback``; for a call the
``answered`` and ``completed`` events, each a ``StatusCallbackEvent`` parameter of its own):
web/outside.py's ``/twilio/status/<id>`` records it (services/evidence.py).
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlencode

from . import Permanent, Settings, Temporary, deadline


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _Http(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(deadline.HTTPConnection, req)


class _Https(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(deadline.HTTPSConnection, req, context=ssl.create_default_context())


_OPENER = urllib.request.build_opener(_NoRedirect, _Http, _Https)  # sockets under the send's deadline


def _post(settings: Settings, resource: str, fields: dict[str, str | list[str]]) -> str | None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from):
        raise Temporary("Twilio is not configured (set CALLGOOSE_TWILIO_ACCOUNT_SID, "
                        "CALLGOOSE_TWILIO_AUTH_TOKEN and CALLGOOSE_TWILIO_FROM)")
    url = f"{settings.twilio_api_base}/2010-04-01/Accounts/{settings.twilio_account_sid}/{resource}.json"
    auth = base64.b64encode(f"{settings.twilio_account_sid}:{settings.twilio_auth_token}".encode()).decode()
    request = urllib.request.Request(url, data=urlencode(fields, doseq=True).encode(), method="POST", headers={
        "Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json", "User-Agent": "Callgoose"})
    try:
        with _OPENER.open(request, timeout=settings.timeout) as response:
            answer = json.loads(response.read(64 * 1024) or b"{}")
            return answer.get("sid")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read(64 * 1024)).get("message") or ""
        except ValueError:
            detail = ""
        reason = f"Twilio answered HTTP {exc.code}" + (f": {detail}" if detail else "")
        if exc.code == 429 or exc.code >= 500:
            raise Temporary(reason) from None
        raise Permanent(reason) from None
    except (OSError, ValueError) as exc:
        raise Temporary(f"Twilio could not be reached: {type(exc).__name__}: {exc}") from None


CALL_EVENTS = ["answered", "completed"]  # what a call's status callback reports (Twilio: initiated, ringing too)


def send_sms(settings: Settings, to: str, body: str, status_callback: str | None = None) -> str | None:
    fields: dict[str, str | list[str]] = {"To": to, "From": settings.twilio_from, "Body": body}
    if status_callback:
        fields["StatusCallback"] = status_callback
    return _post(settings, "Messages", fields)


def place_call(settings: Settings, to: str, twiml_url: str, status_callback: str | None = None) -> str | None:
    fields: dict[str, str | list[str]] = {"To": to, "From": settings.twilio_from, "Url": twiml_url,
                                          "Method": "POST"}
    if status_callback:
        fields.update(StatusCallback=status_callback, StatusCallbackMethod="POST", StatusCallbackEvent=CALL_EVENTS)
    return _post(settings, "Calls", fields)
