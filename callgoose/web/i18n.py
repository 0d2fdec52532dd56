"""Languages (issue 10, item 10): the dashboard in the user's language, chosen on /settings,
else the browser's Accept-Language, else English; catalogues in callgoose/translations/."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as _timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal
from flask import has_request_context, request
from flask_babel import get_locale, get_translations, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from .. import channels
from ..engine.guides import translated
from ..engine.notes import worded
from ..engine.words import render
from ..engine import languages

LANGUAGES = {code: found.name for code, found in languages.LANGUAGES.items()}  # the picker's, each in itself


def browser_language() -> str:
    """The offered language the browser asks for (Accept-Language), else English."""
    return languages.best(list(request.accept_languages)) or "en"


def reader_language() -> str:
    """The reader's language code: their choice on /settings, else the browser's."""
    if not has_request_context():
        return "en"
    chosen = getattr(current_user, "language", None) if current_user and current_user.is_authenticated else None
    return languages.normalise(chosen) or browser_language()


def locale() -> str:
    """Flask-Babel's locale: the reader's language's catalogue (``pt_BR``, ``zh_Hant``)."""
    return languages.catalogue(reader_language())


def current_language() -> str:
    """The language the page is worded in, as HTML's ``lang`` writes it (``pt-BR``)."""
    return languages.code_of(str(get_locale() or "en"))


def has_voice(code: str | None) -> bool:
    """Whether a phone call can speak this language (engine.languages' voice table)."""
    return languages.spoken(code) == (languages.normalise(code) or code)


def direction() -> str:
    """HTML's ``dir`` for the page's language: ``rtl`` for Arabic and Hebrew."""
    return "rtl" if languages.is_rtl(current_language()) else "ltr"


def timezone() -> str:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.time_zone or "UTC"
    return "UTC"


# Words the code stores (statuses, urgencies, filters), as people read them.
WORDS = {
    "triggered": _l("triggered"), "acknowledged": _l("acknowledged"), "resolved": _l("resolved"),
    "high": _l("high"), "low": _l("low"),
    # the incident list's status filter, as services.incidents.STATUS_FILTERS labels it
    "Open (triggered or acknowledged)": _l("Open (triggered or acknowledged)"), "All": _l("All"),
    "Triggered": _l("Triggered"), "Acknowledged": _l("Acknowledged"), "Resolved": _l("Resolved"),
    # timeline entries (engine.lifecycle's events and paging's)
    "created": _l("opened"), "escalated": _l("escalated"), "unacknowledged": _l("unacknowledged"), "comment": _l("comment"),
    "exhausted": _l("escalation finished, nobody acknowledged"), "unreachable": _l("nobody reachable"),
    "nobody_on_call": _l("nobody on call"), "urgency_raised": _l("urgency raised"),
    "not_answered": _l("not answered"), "retitled": _l("title changed"),
    "redescribed": _l("description changed"), "reprioritized": _l("priority changed"),
    "target_missed": _l("response target missed"),
    "snoozed": _l("snoozed"), "snooze_ended": _l("snooze ended: triggered again"),
    "only an acknowledged incident can be snoozed": _l("Only an acknowledged incident can be snoozed."),
    "the incident is resolved; it cannot be acknowledged": _l("The incident is resolved; it cannot be acknowledged."),
    # what a missed response target does (engine.priorities.ON_MISS)
    "nothing": _l("nothing"), "next_level": _l("page the next level now"), "repage": _l("page the whole policy again"),
    # a notification's delivery state (engine.paging.State)
    "pending": _l("pending"), "sending": _l("sending"), "sent": _l("sent"), "failed": _l("failed"),
    "unknown": _l("outcome unknown"), "cancelled": _l("cancelled"), "shadow": _l("held: shadow run"),
    # the integration templates' names that are words, not only a product's name
    "AWS SNS with CloudWatch alarms": _l("AWS SNS with CloudWatch alarms"),
    "Azure Monitor (common alert schema)": _l("Azure Monitor (common alert schema)"),
    "A script with curl": _l("A script with curl"), "Grafana alerting": _l("Grafana alerting"),
    "Healthchecks (cron monitors)": _l("Healthchecks (cron monitors)"),
    "PagerDuty-compatible (Events API v2)": _l("PagerDuty-compatible (Events API v2)"),
    # why a page was not sent (services.paging stores it as the notification's error)
    "not sent: the incident was acknowledged first": _l("not sent: the incident was acknowledged first"),
    "not sent: the incident was resolved first": _l("not sent: the incident was resolved first"),
    # what a dry run finds (engine.dryrun)
    "would create": _l("would create"), "would stop creating": _l("would stop creating"),
    "would resolve": _l("would resolve"), "would stop resolving": _l("would stop resolving"),
    "would become 202": _l("would become 202"), "maps differently": _l("maps differently"),
    # a heartbeat's state (engine.heartbeat)
    "new": _l("new"), "up": _l("up"), "late": _l("late"), "down": _l("down"), "paused": _l("paused"),
    # a rotation's shift unit (engine.schedules)
    "hours": _l("hours"), "days": _l("days"), "weeks": _l("weeks"),
    # a user's role (engine.oncall.ROLES)
    "admin": _l("admin"), "responder": _l("responder"), "viewer": _l("viewer"),
    # the audit log (issue 19): who acts, what they did, and to what (services.audit)
    "user": _l("user"), "token": _l("token"), "link": _l("mail link"), "keypress": _l("keypress or SMS reply"),
    "push": _l("push or chat button"), "import": _l("import"), "system": _l("system"), "cli": _l("command line"),
    "sso": _l("single sign-on"), "break glass": _l("signed in past single sign-on (break glass)"),
    "added": _l("added"), "changed": _l("changed"), "removed": _l("removed"), "reverted": _l("reverted"),
    "acknowledge": _l("acknowledge"), "unacknowledge": _l("unacknowledge"), "resolve": _l("resolve"),
    "escalate": _l("escalate"), "policy": _l("policy"), "service": _l("service"), "maintenance": _l("maintenance"),
    "service paging": _l("service paging"), "schedule": _l("schedule"), "incident": _l("incident"),
    "incident review": _l("incident review"), "pay rate": _l("pay rate"), "priority": _l("priority"),
    # where a maintenance window came from (an incident review, issue 20)
    "config": _l("from the configuration"), "api": _l("through the API"), "dashboard": _l("on the dashboard"),
}


def word(value) -> str:
    """A stored word in the viewer's language (itself when it has no translation); a channel's
    name as the registry's noun for it ("phone call")."""
    if str(value) in channels.REGISTRY:
        return channel_noun(str(value))
    found = WORDS.get(str(value))
    return str(found) if found is not None else str(value)


def ago(value) -> str:
    """A stored (naive UTC) time as "3 min ago" in the viewer's language; app.js keeps it fresh."""
    if value is None:
        return ""
    delta = value.replace(tzinfo=_timezone.utc) - datetime.now(_timezone.utc)
    return format_timedelta(delta, add_direction=True, format="short", locale=str(get_locale() or "en"),
                            threshold=1)


def viewer_zone() -> str:
    return timezone()


def here(value, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A time (naive UTC as stored, as a datetime or a raw SQLite text; an aware datetime; or
    epoch seconds) as the reader's wall time: one zone per reader, on every page (``%Z`` names it)."""
    if value is None:
        return ""
    if isinstance(value, str):  # a raw SQLite read of a stored time
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=_timezone.utc)
    else:
        value = datetime.fromtimestamp(float(value), _timezone.utc)
    try:
        zone = ZoneInfo(viewer_zone())
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return wall(value.astimezone(zone), fmt)


# Times with names in them, as the reader's language writes them (CLDR skeletons through
# Babel): "Mo., 7. Dez. 2026 09:00 CET" for a German reader. Numeric formats stay as given.
_SKELETONS = {
    "%a %d %b %Y %H:%M %Z": ("yMMMEd", True, True), "%a %d %b %Y %H:%M": ("yMMMEd", True, False),
    "%a %d %b %Y": ("yMMMEd", False, False), "%a %d %b": ("MMMEd", False, False), "%a %d": ("Ed", False, False),
    "%d %b %Y": ("yMMMd", False, False), "%b %Y": ("yMMM", False, False),
    "%a %d %b %H:%M %Z": ("MMMEd", True, True),  # engine.words.Moment's
}


def _reader_locale() -> str:
    return str(get_locale() or "en") if has_request_context() else "en"


def wall(local, fmt: str) -> str:
    """A local datetime (or a date) in ``fmt``: named days and months in the reader's language."""
    found = _SKELETONS.get(fmt)
    where = _reader_locale()
    if found is None or where == "en":  # English keeps its own: "Mon 07 Dec 2026 09:00 CET"
        return local.strftime(fmt)
    skeleton, with_time, with_zone = found
    from babel import Locale
    pattern = Locale.parse(where).datetime_skeletons[skeleton].pattern
    text = (format_datetime(local, pattern, locale=where) if isinstance(local, datetime)
            else format_date(local, pattern, locale=where))
    if with_time:
        text += " " + local.strftime("%H:%M")
    if with_zone:
        text += " " + local.strftime("%Z")
    return text


def words_list(items, style: str = "standard") -> str:
    """A list in the reader's language: "a, b and c" (``or``: "a, b or c"), Babel's CLDR patterns."""
    from babel.lists import format_list
    items = [str(item) for item in items]
    return format_list(items, style=style, locale=_reader_locale()) if items else ""


def number(value, digits: int = 1) -> str:
    """A number as the reader's language writes it: "41,2" for a German reader."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=_reader_locale())


# Why a mail's link cannot act (services.actions and engine.signing word it in English).
LINK_PROBLEMS = {
    "this link is not valid": _l("This link is not valid."),
    "this link has expired": _l("This link has expired."),
    "this incident no longer exists": _l("This incident no longer exists."),
    "the account this link was sent to is no longer active": _l("The account this link was sent to is no longer active."),
    "this link has been used already": _l("This link has been used already."),
    "the incident was acknowledged already": _l("The incident was acknowledged already."),
    "the incident was resolved already": _l("The incident was resolved already."),
    "the incident is resolved; it cannot be acknowledged": _l("The incident is resolved; it cannot be acknowledged."),
    "only an acknowledged incident can be snoozed": _l("Only an acknowledged incident can be snoozed."),
}


def snooze_words(minutes: int) -> str:
    """A snooze's length as a choice reads: "15 minutes", "1 hour", "24 hours"."""
    if minutes % 60:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    return ngettext("%(num)d hour", "%(num)d hours", minutes // 60)


def link_problem(text: str | None) -> str:
    found = LINK_PROBLEMS.get(text or "")
    return str(found) if found is not None else (text or "").capitalize() + "."


def strong(value) -> Markup:
    """A value to put in a translated sentence in bold (escaped: the sentence is markup)."""
    return Markup("<strong>%s</strong>") % value


def em(value) -> Markup:
    return Markup("<em>%s</em>") % value


def code(value) -> Markup:
    return Markup("<code>%s</code>") % value


def link(text, url: str) -> Markup:
    """A link to put in a translated sentence (text and address escaped)."""
    return Markup('<a href="%s">%s</a>') % (url, text)


def channel_label(name: str) -> str:
    """A channel as a form or a table names it ("Phone call", "Telegram"), from the registry."""
    found = channels.get(name)
    return say(found.label) if found is not None else name


def channel_noun(name: str) -> str:
    """A channel inside a sentence ("by phone call", "by Telegram")."""
    found = channels.get(name)
    return say(found.noun) if found is not None else name


def say(text) -> str:
    """A text the engine or a service worded (:class:`Say`) in the reader's language; any
    other text as it is."""
    return render(text, _, moment=_moment, stored=_stored, ngettext=get_translations().ngettext)


def say_coded(text, keys=("what", "new", "old", "paths")) -> Markup:
    """:func:`say` as markup, the values under ``keys`` that are plain text (a configuration's
    field paths and values, JSON) in ``<code>``: data, not wording (the audit log's changes)."""
    from ..engine.words import Joined, Moment, Plural, Say, Word
    if isinstance(text, Plural):
        worded = get_translations().ngettext(text.msgid, text.plural, text.n)
    elif isinstance(text, Say):
        worded = get_translations().gettext(text.msgid)
    elif isinstance(text, Joined):
        return Markup.escape(text.sep).join(say_coded(part, keys) for part in text.parts)
    elif isinstance(text, Moment):
        return Markup.escape(_moment(text))
    elif isinstance(text, Word):
        return Markup.escape(word(text))
    else:
        return Markup.escape(text)
    if not text.values:
        return Markup.escape(worded)
    return Markup.escape(worded) % {name: code(value) if name in keys and type(value) is str else say_coded(value, keys)
                                    for name, value in text.values.items()}


def _moment(when) -> str:
    """An instant the engine worded (:class:`Moment`, in its zone) with the reader's day and month names."""
    local = datetime.fromtimestamp(when.epoch, _timezone.utc).astimezone(ZoneInfo(when.zone))
    return wall(local, "%a %d %b %H:%M %Z")


def _stored(text) -> str:
    """A word the code stores (a status, a channel), in the reader's language."""
    return word(text)


def fault(exc) -> str:
    """A fault (engine.rules.SpecError: where, and what is wrong) in the reader's language."""
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else None)
    message = say(message) if isinstance(message, str) else str(exc)
    return f"{exc.path}: {message}" if getattr(exc, "path", "") else message


def answer_words(answer: str, channel: str) -> str:
    """What the provider reported about a sent notification (services.evidence): "answered",
    "delivered", or why not, in the provider's own word ("not answered (no-answer)")."""
    if answer == "answered":
        return _("answered")
    if answer == "delivered":
        return _("delivered")
    if channel == "sms":
        return _("not delivered (%(reason)s)", reason=answer)
    return _("not answered (%(reason)s)", reason=answer)


def _shown(key: str, value):
    """A stored note's value as the reader sees it (engine.notes keeps the raw values)."""
    if key in ("urgency", "old", "new") and isinstance(value, str):
        return word(value)
    if key == "time" and isinstance(value, str):
        return here(value.rstrip("Z"))
    return value


def note_words(kind: str, note: str | None, words: str | None = None) -> str:
    """A timeline note in the reader's language (engine.notes: stored as a message id with
    values); what a person wrote (a comment) as written."""
    if words:
        translations = get_translations()
        found = worded(words, translations.gettext, translations.ngettext, _shown_with_channel(words))
        if found is not None:
            return found
    return note or ""


def _shown_with_channel(words: str):
    """:func:`_shown`, and a channel's noun in the reader's language for a not-answered note."""
    import json
    try:
        channel = (json.loads(words).get("values") or {}).get("channel")
    except (ValueError, AttributeError):
        channel = None

    def shown(key, value):
        if key == "method" and channel:
            return channel_noun(channel)
        return _shown(key, value)
    return shown


def guide_words(text: str) -> str:
    """An integration guide with its prose in the reader's language (engine.guides: the code
    to paste stays as written)."""
    return translated(text, _)
