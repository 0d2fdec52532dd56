"""Telegram through a bot of the team's: pages with Acknowledge / Resolve buttons, rewritten as
their incidents change.

Messages go out by the Bot API's ``sendMessage`` as plain text (no parse mode, so nothing in a
title can format or link), within 4,096 UTF-16 units. A page's inline buttons carry the signed
action's token as ``callback_data`` (about 30 bytes of Telegram's 64). A press comes back as a
``callback_query`` update, by webhook (``POST /telegram/webhook``, which must carry
``X-Telegram-Bot-Api-Secret-Token``: an HMAC of the bot token with the secret key, so nothing
new is stored) or by the worker's long poll (``jobs/telegram.py``, ``TELEGRAM_UPDATES=poll``);
both go through :meth:`Telegram.callback`. It acts only when pressed in the chat the page went
to, by its own user; the press is answered (the spinner stops with "Acknowledged" or the
problem) and the message shows its new state. A follow-up ("acknowledged by", "resolved")
rewrites the pages it follows (``editMessageText``) rather than sending another message,
where Callgoose knows them: a page's provider id is ``<chat id>:<message id>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, replace

from ..delivery import Permanent, Settings, Temporary, webhook
from ..delivery.deadline import Budget
from ..engine.messages import MAX_LISTED, TEXT_KINDS, Item, paged_line, subject_of
from ..engine.rules import SpecError
from ..engine.signing import ACTION_CODES, is_action
from ..engine.words import Plural, Say
from .base import Callback, Channel, Field, Inbound, Outgoing, Refused, facts

log = logging.getLogger(__name__)

API_BASE = "https://api.telegram.org"
LIMIT = 4096  # sendMessage and editMessageText: "1-4096 characters after entities parsing"
ANSWER_LIMIT = 200  # answerCallbackQuery's text
DATA_LIMIT = 64  # an inline button's callback_data, in bytes
SECRET_HEADER = "x-telegram-bot-api-secret-token"
UPDATES = ["message", "callback_query"]  # what the bot asks Telegram for
STATE_MARK = "\n\n✓ "  # what a press adds to its message, before the state
RESOLVE_CODES = {code for (action, _whole), code in ACTION_CODES.items() if action == "resolve"}
CHAT_ID = re.compile(r"[1-9][0-9]{0,15}")  # a private chat: the person's own user id

DONE = {"acknowledge": Say("Acknowledged"), "resolve": Say("Resolved"), "snooze": Say("Snoozed for 1 h")}
LABELS = {"acknowledge": Say("Acknowledge"), "resolve": Say("Resolve"), "snooze": Say("Snooze 1 h")}
# What a press could not do (services.actions' problems), worded for a button.
PROBLEMS = {
    "this link is not valid": Say("This button is not valid."),
    "this link has expired": Say("This button has expired."),
    "this link has been used already": Say("This button has been used already."),
    "this button was not sent to you": Say("This button was not sent to you."),
    "this incident no longer exists": Say("This incident no longer exists."),
    "the account this link was sent to is no longer active": Say(
        "The account this button was sent to is no longer active."),
    "the incident was acknowledged already": Say("The incident was acknowledged already."),
    "the incident was resolved already": Say("The incident was resolved already."),
    "the incident is resolved; it cannot be acknowledged": Say("The incident is resolved; it cannot be acknowledged."),
    "only an acknowledged incident can be snoozed": Say("Only an acknowledged incident can be snoozed."),
}


def check_chat_id(value, path: str) -> str:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not CHAT_ID.fullmatch(text):
        raise SpecError(path, Say("must be your numeric chat id, e.g. 123456789 (send /start to the bot to "
                                  "learn it)"))
    return text


def webhook_secret(key: str, bot_token: str) -> str:
    """The ``secret_token`` the webhook is set with, which every update must carry: derived
    from the secret key and the bot token, never stored (a new key or bot needs setWebhook
    again)."""
    digest = hmac.new(key.encode(), b"telegram-webhook:" + bot_token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def polling(settings: Settings) -> bool:
    """Whether updates come by the worker's long poll rather than by webhook."""
    return (settings.get("TELEGRAM_UPDATES") or "webhook").strip().lower() == "poll"


# -- the Bot API ------------------------------------------------------------------------------

def _post(settings: Settings, method: str, params: dict, timeout: float | None = None) -> tuple[int, dict]:
    """One Bot API call: its HTTP status and its answer (``{}`` when not JSON)."""
    token = settings.get("TELEGRAM_BOT_TOKEN")
    if not token:
        raise Temporary("Telegram is not configured (set CALLGOOSE_TELEGRAM_BOT_TOKEN)")
    base = (settings.get("TELEGRAM_API_BASE") or API_BASE).rstrip("/")
    if timeout is not None:
        settings = replace(settings, timeout=timeout)
    answer = webhook.request(settings, "POST", f"{base}/bot{token}/{method}",
                             json.dumps(params, ensure_ascii=False).encode(), guard=False)
    doc = answer.json()
    doc = doc if isinstance(doc, dict) else {}
    webhook.outcome(answer, "Telegram", str(doc.get("description") or "")[:300])
    return answer.status, doc


def api(settings: Settings, method: str, params: dict, timeout: float | None = None) -> dict:
    """A Bot API call's answer (``ok``, ``result``, ``description``), or :class:`Temporary` /
    :class:`Permanent` as the outbox reads an HTTP answer (401 a wrong token, 403 a bot the
    person blocked, 400 an unknown chat; 429 and 5xx are temporary)."""
    status, doc = _post(settings, method, params, timeout)
    if doc.get("ok") is not True:
        raise Temporary(f"Telegram answered HTTP {status} without a result")
    return doc


def set_webhook(settings: Settings, base_url: str) -> str:
    """Point the bot's updates at ``<base_url>/telegram/webhook`` with the derived secret; what
    Telegram said."""
    url = f"{base_url.rstrip('/')}/telegram/webhook"
    doc = api(settings, "setWebhook", {"url": url, "secret_token": _secret(settings),
                                       "allowed_updates": UPDATES})
    return f"{doc.get('description') or 'Webhook was set'}: Telegram sends the bot's updates to {url}"


def delete_webhook(settings: Settings) -> str:
    doc = api(settings, "deleteWebhook", {})
    return str(doc.get("description") or "Webhook was deleted")


def get_updates(settings: Settings, offset: int | None, seconds: int) -> list[dict]:
    """One long poll: the updates after ``offset`` (confirming those before it), waiting up
    to ``seconds`` for one."""
    params = {"timeout": seconds, "allowed_updates": UPDATES}
    if offset is not None:
        params["offset"] = offset
    found = api(settings, "getUpdates", params, timeout=seconds + settings.timeout).get("result")
    return [u for u in found if isinstance(u, dict) and isinstance(u.get("update_id"), int)] \
        if isinstance(found, list) else []


def _secret(settings: Settings) -> str:
    token, key = settings.get("TELEGRAM_BOT_TOKEN"), settings.get("SECRET_KEY")
    if not token or not key:
        raise Refused("Telegram is not configured on this server (CALLGOOSE_TELEGRAM_BOT_TOKEN)")
    return webhook_secret(key, token)


# -- wording ----------------------------------------------------------------------------------

def fit(text: str, limit: int = LIMIT) -> str:
    """``text`` within ``limit`` UTF-16 code units (how Telegram counts), ending in "…" when cut."""
    def units(part: str) -> int:
        return len(part.encode("utf-16-le", "surrogatepass")) // 2
    if units(text) <= limit:
        return text
    cut = text[:limit - 1]
    while units(cut) > limit - 1:
        cut = cut[:-max(1, (units(cut) - limit + 1) // 2)]
    return cut + "…"


def _line(item: Item, state: str, actor: str | None = None) -> Say:
    """One incident in a message: as paged, acknowledged (by whom, when known) or resolved."""
    if state == "acknowledged":
        if actor:
            return Say("Acknowledged by %(actor)s: %(service)s: %(title)s", actor=actor, service=item.service,
                       title=item.title)
        return Say("Acknowledged: %(service)s: %(title)s", service=item.service, title=item.title)
    if state == "resolved":
        return Say("Resolved: %(service)s: %(title)s", service=item.service, title=item.title)
    return paged_line(item)


def _listed(items: list[Item], total: int, words, state=lambda item: item.kind, actors: dict | None = None,
            header: bool = True) -> str:
    """The incidents of a message, each with its link; a bundle's count first (``header``)."""
    parts = []
    if header and total > 1:
        parts.append(subject_of(items, total, words).removeprefix("[Callgoose] ") + "\n")
    for item in items[:MAX_LISTED]:
        actor = (actors or {}).get(item.incident_id, item.actor)
        parts.append(words(_line(item, state(item), actor)) + (f"\n{item.url}" if item.url else ""))
    shown = min(len(items), MAX_LISTED)
    if total > shown:
        parts.append(words(Plural("... and %(num)s more.", "... and %(num)s more.", total - shown, num=total - shown)))
    return "\n".join(parts)


def text_of(items: list[Item], total: int, words, below: list[str] = ()) -> str:
    """A message's text: a test's, a code's or a notice's own; else its incidents, and a lone
    page's facts (``below``: channels.base.facts) after them."""
    if items[0].kind in TEXT_KINDS:
        return fit(words(items[0].text))
    return fit("\n".join([_listed(items, total, words), *below]))


def _keyboard(out: Outgoing, notification_id: int, actions: tuple[str, ...]) -> dict | None:
    """Inline buttons doing ``actions`` on everything the page ``notification_id`` carried
    (None: no buttons; an edit without ``reply_markup`` removes them)."""
    buttons = []
    for action in actions:
        token = out.sign(notification_id, action).rsplit("/l/", 1)[-1]
        if not token or len(token.encode()) > DATA_LIMIT:
            raise Permanent(f"a signed action of {len(token.encode())} bytes does not fit Telegram's callback data")
        buttons.append({"text": out.words(LABELS[action]),
                        "callback_data": token})
    return {"inline_keyboard": [buttons]} if buttons else None


def _words(inbound: Inbound, user: dict | None):
    """Words in the language of the Telegram app of the person who wrote or pressed (their
    Callgoose language is not known to an update)."""
    code = str((user or {}).get("language_code") or "en")[:20]  # an IETF tag: "pt-br", "zh-hans"
    return inbound.words_for(code)  # services.languages reads any tag; an unknown one as English


# -- the channel --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Edit:
    chat_id: str
    message_id: int
    text: str
    markup: dict | None
    incidents: frozenset


class Telegram(Channel):
    name = "telegram"
    label = Say("Telegram")
    help = Say("Open this server's Telegram bot and send it /start: it answers with your chat id.")
    needs = ("TELEGRAM_BOT_TOKEN",)
    fields = (Field("chat_id", Say("Chat id"), check_chat_id, kept="address", hint="123456789"),)
    limit = LIMIT
    buttons = True
    edits = True
    config = {"TELEGRAM_BOT_TOKEN": None, "TELEGRAM_API_BASE": API_BASE, "TELEGRAM_UPDATES": "webhook",
              "TELEGRAM_POLL_SECONDS": 20}

    def destination(self, target: str, options: dict) -> str:
        return "telegram"

    # -- sending ---------------------------------------------------------------------------------

    def prepare(self, out: Outgoing):
        edits = self._edits(out)
        keyboard = _keyboard(out, out.notification_id, ("acknowledge", "resolve")) if out.pages else None

        def transmit() -> str | None:
            missed: set = set()
            for edit in edits:
                if not self._edit(out.settings, edit):
                    missed |= edit.incidents
            rewritten = set().union(*(e.incidents for e in edits)) - missed
            fresh = out.items if out.pages else [i for i in out.items if i.incident_id not in rewritten
                                                 or i.kind not in ("acknowledged", "resolved")]
            if not fresh:
                return f"{edits[0].chat_id}:{edits[0].message_id}"
            total = out.size if len(fresh) == len(out.items) else len(fresh)
            params = {"chat_id": out.target, "text": text_of(fresh, total, out.words, facts(out))}
            if keyboard is not None:
                params["reply_markup"] = keyboard
            result = api(out.settings, "sendMessage", params).get("result") or {}
            chat = (result.get("chat") or {}).get("id", out.target)
            return f"{chat}:{result['message_id']}" if "message_id" in result else None
        return transmit

    def _edits(self, out: Outgoing) -> list[_Edit]:
        """The earlier pages a follow-up rewrites: each incident they carried as it stands now,
        and the buttons that still make sense (none once all are resolved)."""
        if not out.earlier:
            return []
        actors = {i.incident_id: i.actor for i in out.items if i.kind == "acknowledged" and i.actor}
        followed = {i.incident_id for i in out.items if i.kind in ("acknowledged", "resolved")}
        edits = []
        for page in out.earlier:
            chat_id, _, message_id = page.provider_id.partition(":")
            if not message_id.isdigit() or not followed & {i.incident_id for i in page.items}:
                continue
            states = {i.status for i in page.items}
            actions = ("acknowledge", "resolve") if "triggered" in states else \
                ("snooze", "resolve") if "acknowledged" in states else ()  # an acknowledged one may be snoozed
            text = fit(_listed(list(page.items), len(page.items), out.words, lambda item: item.status, actors,
                               header=False))
            edits.append(_Edit(chat_id, int(message_id), text, _keyboard(out, page.notification_id, actions),
                               frozenset(i.incident_id for i in page.items) & followed))
        return edits

    def _edit(self, settings: Settings, edit: _Edit) -> bool:
        """Rewrite one page; False when Telegram no longer has it to edit (deleted, too old)."""
        params = {"chat_id": edit.chat_id, "message_id": edit.message_id, "text": edit.text}
        if edit.markup is not None:
            params["reply_markup"] = edit.markup
        try:
            api(settings, "editMessageText", params)
        except Permanent as exc:
            if "message is not modified" in str(exc):
                return True
            if "HTTP 400" in str(exc):
                log.info("telegram: page %s:%s cannot be edited (%s); sending the news anew", edit.chat_id,
                         edit.message_id, exc)
                return False
            raise
        return True

    # -- updates (a press, a message to the bot) -----------------------------------------------

    def callback(self, inbound: Inbound, settings: Settings) -> Callback:
        """An update POSTed to the webhook (or fetched by the long poll, which hands it over
        the same way): refused unless it carries the webhook's secret."""
        given = inbound.headers.get(SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode(), _secret(settings).encode()):
            raise Refused("the update does not carry this bot's webhook secret")
        update = inbound.json()
        update = update if isinstance(update, dict) else {}
        if isinstance(update.get("callback_query"), dict):
            return self._press(update["callback_query"], settings, inbound)
        if isinstance(update.get("message"), dict):
            return self._message(update["message"], settings, inbound)
        return Callback(answer=lambda _problem, _action: (200, ""))

    def _press(self, query: dict, settings: Settings, inbound: Inbound) -> Callback:
        """A button pressed: act as the chat's person, then answer the press and show the state."""
        data = str(query.get("data") or "")
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        chat = (message.get("chat") or {}).get("id")
        presser = (query.get("from") or {}).get("id")
        words = _words(inbound, query.get("from"))

        def answer(problem: str | None, action: str | None):
            said = words(PROBLEMS.get(problem, problem.capitalize() + ".")) if problem else words(DONE[action])
            try:
                with Budget(settings.timeout):
                    api(settings, "answerCallbackQuery", {"callback_query_id": str(query.get("id") or ""),
                                                         "text": said[:ANSWER_LIMIT]})
                    if problem is None:
                        self._show(settings, message, words(DONE[action]), action)
            except (Temporary, Permanent) as exc:  # acting is done; the news waits for the next follow-up
                log.warning("telegram: answering a press failed: %s", exc)
            return 200, ""  # anything else and Telegram sends the update again
        if not is_action(data) or chat is None:
            return Callback(answer=lambda _problem, _action: answer("this link is not valid", None))
        # A private chat's id is its person's user id: a press by anyone else is not theirs.
        who = str(chat) if presser == chat else f"{chat}/{presser}"
        return Callback(token=data, who=who, answer=answer)

    def _show(self, settings: Settings, message: dict, state: str, action: str) -> None:
        """The pressed message with the state it left below it, and only the buttons still of use."""
        text, message_id = message.get("text"), message.get("message_id")
        if not isinstance(text, str) or not isinstance(message_id, int):
            return  # a message too old for Telegram to include
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        kept = [] if action == "resolve" else [
            [b for b in row if str(b.get("callback_data") or "")[:1] in RESOLVE_CODES] for row in rows]
        base = text.split(STATE_MARK, 1)[0]
        params = {"chat_id": message["chat"]["id"], "message_id": message_id,
                  "text": fit(base, LIMIT - len(STATE_MARK) - len(state) - 2) + STATE_MARK + state}
        if any(kept):
            params["reply_markup"] = {"inline_keyboard": [row for row in kept if row]}
        api(settings, "editMessageText", params)

    def _message(self, message: dict, settings: Settings, inbound: Inbound) -> Callback:
        """``/start`` in a private chat: the bot answers with the chat id to enter on My notifications."""
        chat = message.get("chat") or {}
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if chat.get("type") != "private" or not re.match(r"/start(@\w+)?(\s|$)", text):
            return Callback(answer=lambda _problem, _action: (200, ""))
        words = _words(inbound, message.get("from"))

        def answer(_problem, _action):
            said = words(Say("Your chat id is %(chat_id)s. To get Callgoose pages here, add Telegram with this "
                             "chat id on My notifications.", chat_id=chat.get("id")))
            try:
                with Budget(settings.timeout):
                    api(settings, "sendMessage", {"chat_id": chat.get("id"), "text": said})
            except (Temporary, Permanent) as exc:
                log.warning("telegram: answering /start failed: %s", exc)
            return 200, ""
        return Callback(answer=answer)


CHANNEL = Telegram()
