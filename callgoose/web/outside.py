"""Where paged people act without signing in: a mail's signed link (a GET shows a
confirmation, only its button's POST acts) and Twilio's callbacks (signed by Twilio; a
missing or wrong ``X-Twilio-Signature`` gets 403 and changes nothing)."""

from __future__ import annotations

from functools import wraps
from xml.sax.saxutils import escape, quoteattr

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)

from .. import clock
from ..engine.signing import twilio_valid
from ..services import actions

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


def say(text: str) -> str:
    return f"<Say>{escape(text)}</Say>"


@bp.get("/l/<token>")
def link(token: str):
    page = actions.preview_link(current_app.config["SECRET_KEY"], token, clock.now())
    return render_template("paging/link.html", page=page, token=token, done=False), 410 if page.problem else 200


@bp.post("/l/<token>")
def link_act(token: str):
    page = actions.act_by_link(current_app.config["SECRET_KEY"], token, clock.now())
    return render_template("paging/link.html", page=page, token=token, done=page.problem is None), \
        410 if page.problem else 200


@bp.post("/twilio/voice/<int:notification_id>")
@twilio_signed
def voice(notification_id: int):
    script = actions.call_script(notification_id)
    if script is None:
        return twiml(say("This Callgoose call is not known. Goodbye."), "<Hangup/>")
    action = quoteattr(callback_url("outside.keypress", notification_id=notification_id))
    lines = " ".join(script[1][:3]) or "An incident needs attention."
    prompt = say(f"Callgoose alert. {lines} Press 1 to acknowledge, 2 to resolve, 3 to escalate.")
    return twiml(f'<Gather numDigits="1" timeout="10" method="POST" action={action}>{prompt}</Gather>',
                 say("No key was pressed. Goodbye."))


@bp.post("/twilio/voice/<int:notification_id>/keypress")
@twilio_signed
def keypress(notification_id: int):
    said = actions.keypress(notification_id, request.form.get("Digits", ""), clock.now())
    return twiml(say(said or "This Callgoose call is not known."), say("Goodbye."), "<Hangup/>")


@bp.post("/twilio/sms")
@twilio_signed
def sms():
    said = actions.sms_reply(request.form.get("From", ""), request.form.get("Body", ""), clock.now())
    return twiml(f"<Message>{escape(said)}</Message>")
