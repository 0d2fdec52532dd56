"""Acting on incidents from outside the dashboard: a mail's signed link, a phone keypress,
an SMS reply, a provider's button. Each acts through the one change path, as the person who
was paged (or, for a Slack button, as the linked person who pressed it).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import Callable

from sqlalchemy import select

from .. import channels, clock
from ..channels.base import Presser, Refused
from ..delivery import Settings
from ..engine.lifecycle import SNOOZE_LINK_MINUTES, Action, Status, TransitionRefused
from ..engine.paging import Kind, State
from ..engine.signing import (
    BadLink,
    code_digest,
    is_action,
    keyed_code,
    make_action,
    make_slack_link,
    read_action,
    read_link,
)
from ..extensions import db
from ..store.hotpath import Sql
from ..store.models import ContactMethod, Incident, Notification, Service, User
from ..store.transactions import session_cursor, write
from . import slack
from .languages import words_for
from .lifecycle import By, Changes, NotFound

USE_LINK = Sql("INSERT INTO used_links (nonce, used_at) VALUES (:nonce, :now) ON CONFLICT (nonce) DO NOTHING")
USE_CALLBACK = Sql("INSERT INTO used_callbacks (provider_id, used_at) VALUES (:id, :now) "
                   "ON CONFLICT (provider_id) DO NOTHING")
LINK_USED = Sql("SELECT 1 FROM used_links WHERE nonce = :nonce")
DIGITS = {"1": Action.ACKNOWLEDGE, "2": Action.RESOLVE, "3": "escalate"}
LINK_ACTIONS = {"acknowledge": Action.ACKNOWLEDGE, "resolve": Action.RESOLVE, "snooze": Action.SNOOZE}
SMS_REPLY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LinkPage:
    """What the link's confirmation page shows; ``problem`` is set when it cannot act."""

    action: str | None = None
    incident: Incident | None = None
    service: str | None = None
    problem: str | None = None
    snooze: str | None = None  # once acknowledged: the signed action that snoozes it for an hour
    language: str | None = None  # the recipient's (the page speaks it); None: not known, the browser's


def _who(user_id: int | None, via: str) -> By:
    user = db.session.get(User, user_id) if user_id else None
    name = user.email if user is not None else "someone"
    return By(actor=f"{name} ({via})", user_id=user.id if user is not None else None)


@dataclass(frozen=True)
class Signed:
    """What a signed action or link asks: ``action`` on ``incidents`` as ``user_id``, through ``via``."""

    action: str
    incidents: list[int]
    user_id: int | None
    nonce: str
    via: str
    target: str | None = None  # the address the notification went to
    notification: int | None = None  # a signed action's notification (a link mailed before: None)
    whole: bool = False  # on everything the notification carried


def _signed(key: str, token: str, now: float) -> Signed:
    """Read a link's or a button's token (a signed action; or a link mailed before they
    existed, good for its 24 hours). :raises BadLink: :raises NotFound: its notification is gone."""
    if not is_action(token):
        fields = read_link(key, token, now)
        return Signed(fields["action"], [fields["incident"]], fields["user"], fields["nonce"], "mail link")
    fields = read_action(key, token, now)
    row = db.session.get(Notification, fields["notification"])
    if row is None or row.incident_id is None:
        raise NotFound(fields["notification"])
    incidents = _bundle(row) if fields["whole"] else [row.incident_id]
    return Signed(fields["action"], incidents, row.user_id, fields["nonce"], via_words(row.channel), row.target,
                  row.id, fields["whole"])


def callback(name: str, inbound, key: str, config, now: float,
             link_url: Callable[[str], str] | None = None) -> tuple[int, object]:
    """A provider's callback to a channel (a button pressed in Telegram, a Pushover emergency
    acknowledged): verified by the channel, then acted on as the person it names, or, where
    many see the button (Slack), as whoever pressed it. ``link_url(token)``: the URL of the
    page that links a presser's account (web's).
    :raises channels.base.Refused: not the provider's (403)."""
    found = channels.get(name)
    if found is None:
        raise Refused(f"no channel {name!r}")
    asked = found.callback(inbound, Settings.from_config(config))
    if asked.token is None:
        return asked.answer(None, None)
    if asked.presser is not None:
        if link_url is None:
            raise Refused("this callback's presses need a page that links the presser's account")
        return _pressed(asked.presser, asked.token, key, now, link_url)
    page = act_by_link(key, asked.token, now, asked.who)
    return asked.answer(page.problem, page.action)


def _pressed(presser: Presser, token: str, key: str, now: float, link_url: Callable[[str], str]):
    """A button pressed in a shared place: act as the Callgoose user the presser's account is
    linked to; an account not linked yet gets the link that links it, and nothing is done."""
    person = slack.linked_user(presser.team, presser.user)
    if person is None:
        words = words_for(_recipient_language(key, token, now))  # the language the message is in
        return presser.introduce(link_url(make_slack_link(key, presser.team, presser.user, presser.name, now)),
                                 words)
    page = act_by_link(key, token, now, as_user=person.id, via="via Slack")
    return presser.answer(page.problem, page.action, words_for(person.language))


def _recipient_language(key: str, token: str, now: float) -> str:
    try:
        return _language(_signed(key, token, now).user_id)
    except (BadLink, NotFound):
        return "en"


def via_words(channel: str) -> str:
    """How the timeline names the channel a person acted through: "mail link", "via ntfy"."""
    if channel == "email":
        return "mail link"
    found = channels.get(channel)
    return f"via {found.label if found is not None else channel}"


def preview_link(key: str, token: str, now: float) -> LinkPage:
    """The confirmation page of a link, in the language of the person it was sent to: a GET
    changes nothing (mail scanners follow links)."""
    return replace(_preview_link(key, token, now), language=_link_language(key, token, now))


def _link_language(key: str, token: str, now: float) -> str | None:
    """The language of the person a signed link was sent to (None: not known)."""
    try:
        user_id = _signed(key, token, now).user_id
    except (BadLink, NotFound):
        return None
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.language if user is not None else None


def _preview_link(key: str, token: str, now: float) -> LinkPage:
    try:
        signed = _signed(key, token, now)
    except BadLink as exc:
        return LinkPage(problem=str(exc))
    except NotFound:
        return LinkPage(problem="this incident no longer exists")
    found = db.session.execute(select(Incident, Service.name).join(Service, Service.id == Incident.service_id)
                               .where(Incident.id == signed.incidents[0])).first()
    if found is None:
        return LinkPage(problem="this incident no longer exists")
    snooze = _snooze_token(key, signed, found[0], now)  # acknowledged meanwhile: it may still be snoozed
    if session_used(signed.nonce):
        return LinkPage(signed.action, found[0], found[1], "this link has been used already", snooze)
    return LinkPage(signed.action, found[0], found[1], snooze=snooze)


def session_used(nonce: str) -> bool:
    return session_cursor().execute(LINK_USED, {"nonce": nonce}).fetchone() is not None


def act_by_link(key: str, token: str, now: float, who: str | None = None, as_user: int | None = None,
                via: str | None = None) -> LinkPage:
    """A link's confirmation button, or a button's POST: act once, as the person it went to,
    on every incident it names. ``who``: the provider's name for the presser (a channel's
    callback), which must be the address the notification went to. ``as_user``: act as this
    user instead, through ``via`` (a Slack press: whoever pressed acts). The page is in the
    recipient's language."""
    page = _act_by_link(key, token, now, who, as_user, via)
    return replace(page, language=_link_language(key, token, now))


def _act_by_link(key: str, token: str, now: float, who: str | None, as_user: int | None,
                 via: str | None) -> LinkPage:
    try:
        signed = _signed(key, token, now)
    except BadLink as exc:
        return LinkPage(problem=str(exc))
    except NotFound:
        return LinkPage(problem="this incident no longer exists")
    if who is not None and who != signed.target:
        return LinkPage(signed.action, problem="this button was not sent to you")
    action = LINK_ACTIONS[signed.action]
    if as_user is not None:
        person = db.session.get(User, as_user)
        if person is None or not person.active:
            return LinkPage(signed.action, problem="your Callgoose account is no longer active")
        if not person.may_act:  # a viewer's press in a shared channel; a page sent to them acts below
            return LinkPage(signed.action, problem="a viewer cannot act on incidents")
        signed = replace(signed, user_id=as_user, via=via or signed.via)
    elif signed.user_id is not None:
        person = db.session.get(User, signed.user_id)
        if person is None or not person.active:
            return LinkPage(signed.action, problem="the account this link was sent to is no longer active")

    def work() -> LinkPage:
        cursor = session_cursor()
        if cursor.changed(USE_LINK, {"nonce": signed.nonce, "now": clock.to_db(now)}) != 1:
            return LinkPage(signed.action, problem="this link has been used already")
        changes = Changes(cursor, clock.to_db(now))
        by = _who(signed.user_id, signed.via)
        did = 0
        problem = None
        until = clock.to_db(now + 60 * SNOOZE_LINK_MINUTES) if action is Action.SNOOZE else None
        for incident_id in signed.incidents:
            try:
                did += bool(changes.act(action, incident_id, by, until=until))
            except NotFound:
                problem = problem or "this incident no longer exists"
            except TransitionRefused as exc:
                problem = problem or str(exc)
        changes.finish()
        if did:
            return LinkPage(signed.action)
        return LinkPage(signed.action, problem=problem or f"the incident was {signed.action}d already")
    page = write(work)
    found = db.session.execute(select(Incident, Service.name).join(Service, Service.id == Incident.service_id)
                               .where(Incident.id == signed.incidents[0])).first() if signed.incidents else None
    if found is None:
        return page
    return LinkPage(page.action, found[0], found[1], page.problem, _snooze_token(key, signed, found[0], now))


def _snooze_token(key: str, signed: Signed, incident: Incident, now: float) -> str | None:
    """The signed "Snooze 1 h" of the same notification, offered once its incident is acknowledged
    (a link mailed before signed actions existed has no notification: none)."""
    if signed.notification is None or signed.action == "snooze" or incident.status != Status.ACKNOWLEDGED.value:
        return None
    return make_action(key, signed.notification, "snooze", signed.whole, now)


def _bundle(lead: Notification) -> list[int]:
    ids = [lead.incident_id] if lead.incident_id is not None else []
    ids += list(db.session.execute(select(Notification.incident_id).where(
        Notification.bundle_of == lead.id, Notification.incident_id.is_not(None))).scalars())
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class Reply:
    """What a keypress or an SMS reply did, for the caller to say in the person's language:
    ``what`` is press (no such digit), nothing (handled already), escalate, acknowledge or
    resolve, unknown (no such call, no recent page), or replay (this very callback acted
    already: Twilio's ``CallSid`` or ``MessageSid`` was used)."""

    what: str
    count: int = 0
    language: str = "en"


def _language(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id is not None else None
    return (user.language if user is not None else None) or "en"


def _apply_digit(lead: Notification, digit: str, now: float, via: str, provider_id: str) -> Reply:
    """Act on the digit, once per provider id (a replayed signed callback changes nothing)."""
    what = DIGITS.get((digit or "").strip()[:1])
    language = _language(lead.user_id)
    if what is None:
        return Reply("press", language=language)
    if not provider_id:
        return Reply("unknown", language=language)
    incident_ids = _bundle(lead)
    by = _who(lead.user_id, via)

    def work() -> int | None:
        cursor = session_cursor()
        if cursor.changed(USE_CALLBACK, {"id": provider_id[:64], "now": clock.to_db(now)}) != 1:
            return None
        changes = Changes(cursor, clock.to_db(now))
        done = 0
        for incident_id in incident_ids:
            try:
                if what == "escalate":
                    done += changes.escalate_now(incident_id, by)
                else:
                    done += changes.act(what, incident_id, by)
            except (NotFound, TransitionRefused):
                pass
        changes.finish()
        return done
    done = write(work)
    if done is None:
        return Reply("replay", len(incident_ids), language)
    if not done:
        return Reply("nothing", len(incident_ids), language)
    return Reply(str(getattr(what, "value", what)), done, language)


def keypress(notification_id: int, digit: str, call_sid: str, now: float) -> Reply:
    """A key pressed during a page call (Twilio's ``CallSid``): what it did (``unknown``: no
    such call)."""
    lead = db.session.get(Notification, notification_id)
    if lead is None or lead.channel != "voice" or lead.kind != Kind.PAGE.value:
        return Reply("unknown")
    return _apply_digit(lead, digit, now, "phone keypress", call_sid)


@dataclass(frozen=True)
class CallScript:
    """What a call says, in its person's language: a page's incidents (urgency, service,
    title); a verification call's code (None once it is used, replaced or expired); or that
    it is a test (``kind``)."""

    kind: str
    incidents: list  # (urgency, service, title)
    language: str = "en"
    code: str | None = None


def _current_code(lead: Notification, key: str, now: float) -> str | None:
    """The code a verification call carries, while it is still the method's code to enter."""
    method = db.session.get(ContactMethod, lead.contact_method_id) if lead.contact_method_id else None
    code = keyed_code(key, lead.delivery_id)
    if method is None or method.verify_digest is None or method.verify_expires_at is None \
            or clock.from_db(method.verify_expires_at) < now or not hmac.compare_digest(method.verify_digest,
                                                                                          code_digest(code)):
        return None
    return code


def call_script(notification_id: int, key: str, now: float) -> CallScript | None:
    """What a call says: the incident titles (the lead's and its bundle's), or the code."""
    lead = db.session.get(Notification, notification_id)
    if lead is None or lead.channel != "voice":
        return None
    if lead.kind == Kind.VERIFY.value:
        return CallScript(lead.kind, [], _language(lead.user_id), _current_code(lead, key, now))
    ids = _bundle(lead)
    rows = db.session.execute(select(Incident.title, Incident.urgency, Service.name).join(
        Service, Service.id == Incident.service_id).where(Incident.id.in_(ids))).all() if ids else []
    return CallScript(lead.kind, [(urgency, service, title) for title, urgency, service in rows],
                      _language(lead.user_id))


def sms_reply(from_number: str, body: str, message_sid: str, now: float) -> Reply:
    """An SMS reply to a page (Twilio's ``MessageSid``): the same digits as on a call act on
    the last page sent to that number."""
    lead = db.session.execute(select(Notification).where(
        Notification.channel == "sms", Notification.target == from_number, Notification.kind == Kind.PAGE.value,
        Notification.status == State.SENT.value, Notification.bundle_of.is_(None),
        Notification.sent_at >= clock.to_db(now - SMS_REPLY_SECONDS)).order_by(Notification.id.desc()).limit(1)).scalar()
    if lead is None:
        return Reply("unknown")
    return _apply_digit(lead, body, now, "SMS reply", message_sid)

