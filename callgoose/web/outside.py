"""Where paged people act without signing in: a mail's signed link (a GET shows a
confirmation, only its button's POST acts), Twilio's callbacks (signed by Twilio; a
missing or wrong ``X-Twilio-Signature`` gets 403 and changes nothing), among them the status
callbacks that say whether a call was answered or an SMS delivered, providers' callbacks
and Slack's button presses (each verified by its channel's module)."""

from __future__ import annotations

from functools import wraps
from xml.sax.saxutils import escape, quoteattr

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from .. import clock
from ..channels.base import Inbound, Refused
from ..engine import languages
from ..engine.signing import twilio_valid
from ..services import actions, audit, evidence
from ..services.languages import words_for
from .i18n import locale as i18n_locale
from .i18n import word
from .wake import wake_worker

bp = Blueprint("outside", __name__)


def _public_url() -> str:
    """The URL Twilio called, as Twilio saw it (behind a proxy: from BASE_URL)."""
    base = current_app.config.get("BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def callback_url(endpoint: str, **values) -> str:
    """An absolute URL of ours for Twilio to call (from BASE_URL when it is set)."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def twilio_signed(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        params = {k: request.form.get(k, "") for k in request.form}
        if not twilio_valid(str(current_app.config.get("TWILIO_AUTH_TOKEN") or ""), _public_url(), params,
                            request.headers.get("X-Twilio-Signature")):
            abort(403, "The request's Twilio signature is missing or wrong.")
        return view(*args, **kwargs)
    return wrapped


def twiml(*verbs: str) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>",
                    mimetype="application/xml")


def say(text: str, language: str = "en") -> str:
    """A ``<Say>`` in the voice of the language the call speaks (engine.languages' table)."""
    tts, voice = languages.voice(language)
    return f'<Say language="{tts}" voice="{voice}">{escape(text)}</Say>'


def spoken(language: str | None):
    """The catalogue a call's words come from: the person's language where a voice speaks
    it, else English (engine.languages.spoken)."""
    return force_locale(languages.catalogue(languages.spoken(language)))


def reply_words(reply: actions.Reply) -> str:
    """What a keypress or an SMS reply did, in the person's language."""
    with spoken(reply.language):
        return {
            "unknown": lambda: _("This Callgoose call or page is not known."),
            "replay": lambda: _("This was done already; nothing changed."),
            "press": lambda: _("Press 1 to acknowledge, 2 to resolve, or 3 to escalate."),
            "nothing": lambda: ngettext("Nothing changed: the incident was handled already.",
                                        "Nothing changed: the incidents were handled already.", reply.count),
            "acknowledge": lambda: ngettext("Acknowledged %(num)d incident.", "Acknowledged %(num)d incidents.",
                                            reply.count),
            "resolve": lambda: ngettext("Resolved %(num)d incident.", "Resolved %(num)d incidents.", reply.count),
            "escalate": lambda: ngettext("Escalated %(num)d incident.", "Escalated %(num)d incidents.", reply.count),
        }[reply.what]()


def call_prompt(script: actions.CallScript) -> tuple[str, str]:
    """What a page call says, and what it says when no key is pressed, in the person's language."""
    language = languages.spoken(script.language)
    with spoken(script.language):
        lines = [_("%(urgency)s urgency. %(service)s: %(title)s", urgency=word(u), service=service, title=title)
                 for u, service, title in script.incidents[:3]]
        return (languages.sentences(language, [_("Callgoose alert."), *(lines or [_("An incident needs attention.")]),
                                               _("Press 1 to acknowledge, 2 to resolve, 3 to escalate.")]),
                _("No key was pressed. Goodbye."))


def check_call(script: actions.CallScript) -> list[str]:
    """A test call, or a verification call that says its code twice, digit by digit."""
    with spoken(script.language):
        if script.kind == "test":
            words = [_("This is a test call from Callgoose. No incident exists and nothing needs doing: this call "
                       "only checks that Callgoose can reach you by phone."), _("Goodbye.")]
        elif script.code:
            digits = " ".join(script.code)
            words = [_("Your Callgoose verification code is %(digits)s.", digits=digits),
                     _("Again: %(digits)s.", digits=digits), _("Enter it on the My notifications page. Goodbye.")]
        else:
            words = [_("This Callgoose verification code is no longer valid. Send a new one from the My "
                       "notifications page. Goodbye.")]
    said = [say(w, script.language) for w in words]
    return said[:1] + ['<Pause length="1"/>'] + said[1:]


@bp.get("/l/<token>")
def link(token: str):
    page = actions.preview_link(current_app.config["SECRET_KEY"], token, clock.now())
    return _link_page(page, token, False)


def _link_page(page, token: str, done: bool):
    """A signed link's page in the language of the person it was sent to (else the browser's)."""
    with force_locale(languages.catalogue(page.language) if page.language else i18n_locale()):
        html = render_template("paging/link.html", page=page, token=token, done=done)
    return html, 410 if page.problem else 200


@bp.post("/l/<token>")
def link_act(token: str):
    with audit.acting_as("link"):  # the link's person, named by the action's own record
        page = actions.act_by_link(current_app.config["SECRET_KEY"], token, clock.now())
    return _link_page(page, token, page.problem is None)


@bp.post("/channels/<name>/callback")
def channel_callback(name: str):
    """A provider's callback to a channel (its module verifies it): JSON or text back."""
    return _callback(name)


@bp.post("/slack/actions")
def slack_actions():
    """A button pressed in a Slack message (the Slack app's Interactivity Request URL): the
    webhook channel checks Slack's signature; the presser acts as themself."""
    return _callback("webhook")


@bp.post("/telegram/webhook")
def telegram_webhook():
    """The address the bot's webhook is set to (``telegram-webhook``): Telegram's updates."""
    return _callback("telegram")


def _callback(name: str):
    inbound = Inbound(headers={k.lower(): v for k, v in request.headers.items()}, body=request.get_data(),
                      form=request.form.to_dict(), args=request.args.to_dict(), url=_public_url(),
                      words_for=words_for)
    try:
        with audit.acting_as("push"):  # a push app's, a chat's button: the presser is named by the action
            status, body = actions.callback(name, inbound, current_app.config["SECRET_KEY"], current_app.config,
                                            clock.now(), link_url=lambda token: callback_url("paging.slack_link",
                                                                                             token=token))
    except Refused as exc:
        abort(403, str(exc))
    if isinstance(body, (dict, list)):
        return jsonify(body), status
    return Response(str(body or ""), status, mimetype="text/plain")


@bp.post("/twilio/voice/<int:notification_id>")
@twilio_signed
def voice(notification_id: int):
    script = actions.call_script(notification_id, current_app.config["SECRET_KEY"], clock.now())
    if script is None:
        return twiml(say(reply_words(actions.Reply("unknown"))), "<Hangup/>")
    if script.kind in ("test", "verify"):
        return twiml(*check_call(script), "<Hangup/>")
    action = quoteattr(callback_url("outside.keypress", notification_id=notification_id))
    prompt, silence = call_prompt(script)
    return twiml(f'<Gather numDigits="1" timeout="10" method="POST" action={action}>'
                 f'{say(prompt, script.language)}</Gather>', say(silence, script.language))


@bp.post("/twilio/voice/<int:notification_id>/keypress")
@twilio_signed
def keypress(notification_id: int):
    with audit.acting_as("keypress"):
        reply = actions.keypress(notification_id, request.form.get("Digits", ""), request.form.get("CallSid", ""),
                                 clock.now())
    with spoken(reply.language):
        goodbye = _("Goodbye.")
    return twiml(say(reply_words(reply), reply.language), say(goodbye, reply.language), "<Hangup/>")


@bp.post("/twilio/sms")
@twilio_signed
def sms():
    with audit.acting_as("keypress"):  # an SMS reply: the phone's answer, as a keypress is
        reply = actions.sms_reply(request.form.get("From", ""), request.form.get("Body", ""),
                                  request.form.get("MessageSid", ""), clock.now())
    return twiml(f"<Message>{escape('Callgoose: ' + reply_words(reply))}</Message>")


@bp.post("/twilio/status/<int:notification_id>")
@twilio_signed
def status(notification_id: int):
    """How a page's call or SMS went (Twilio's status callback): the ledger records it, and a
    page nobody took moves its person on to their next rule. 204 whatever it changed (a
    notification deleted since, an incident acknowledged already): Twilio needs no more."""
    if evidence.from_twilio(notification_id, request.form.to_dict(), clock.now()).moved:
        wake_worker()  # the next rule is due now: this process's worker sends it without waiting a tick
    return Response(status=204)
