"""Texts the engine and the services word for people (faults, findings), kept translatable
without Flask: a :class:`Say` reads as its English everywhere (logs, the JSON API, tests) and
carries its message id and values, so the dashboard words it in the reader's language
(``web.i18n.say``). ``pybabel extract -k Say`` finds the message ids (make translations)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


class Say(str):
    """English text (``msgid % values``) that remembers ``msgid`` and ``values``."""

    msgid: str
    values: dict

    def __new__(cls, msgid: str, **values) -> Say:
        text = super().__new__(cls, msgid % values if values else msgid)
        text.msgid = msgid
        text.values = values
        return text

    def __reduce__(self):
        return (_rebuild, (self.msgid, self.values))


def _rebuild(msgid: str, values: dict) -> Say:
    return Say(msgid, **values)


class Plural(Say):
    """A counted text (``Plural("%(num)s rule", "%(num)s rules", n, num=n)``): worded through
    ``ngettext``, so each language gets its own plural forms (CLDR: Russian three, Arabic six).
    ``pybabel extract -k Plural:1,2`` finds both forms."""

    plural: str
    n: int

    def __new__(cls, msgid: str, plural: str, n: int, **values) -> Plural:
        english = msgid if n == 1 else plural
        text = str.__new__(cls, english % values if values else english)
        text.msgid, text.plural, text.n, text.values = msgid, plural, n, values
        return text

    def __reduce__(self):
        return (_rebuild_plural, (self.msgid, self.plural, self.n, self.values))


def _rebuild_plural(msgid: str, plural: str, n: int, values: dict) -> Plural:
    return Plural(msgid, plural, n, **values)


class Joined(str):
    """Texts joined by ``sep`` (a list in words), each part worded on its own."""

    parts: tuple
    sep: str

    def __new__(cls, parts, sep: str = "; ") -> Joined:
        parts = tuple(parts)
        text = super().__new__(cls, sep.join(parts))
        text.parts = parts
        text.sep = sep
        return text

    def __reduce__(self):
        return (Joined, (self.parts, self.sep))


class Word(str):
    """A word the code stores (a status, a channel), worded by the dashboard's table of them."""

    def __reduce__(self):
        return (Word, (str(self),))


class Moment(str):
    """An instant as people read it in a zone ("Fri 06 Nov 17:00 CET" in English), worded with
    the reader's language's day and month names when rendered (services.languages)."""

    epoch: float
    zone: str

    def __new__(cls, epoch: float, zone: str) -> Moment:
        local = datetime.fromtimestamp(epoch, timezone.utc).astimezone(ZoneInfo(zone))
        text = super().__new__(cls, local.strftime("%a %d %b %H:%M %Z"))
        text.epoch, text.zone = epoch, zone
        return text

    def __reduce__(self):
        return (Moment, (self.epoch, self.zone))


def to_data(text):
    """A text as JSON can store it: a :class:`Say` as its message id and values, so it is
    worded in the reader's language when read back (:func:`from_data`)."""
    if isinstance(text, Plural):
        return {"msgid": text.msgid, "plural": text.plural, "n": text.n,
                "values": {name: to_data(value) for name, value in text.values.items()}}
    if isinstance(text, Say):
        return {"msgid": text.msgid, "values": {name: to_data(value) for name, value in text.values.items()}}
    if isinstance(text, Moment):
        return {"moment": text.epoch, "zone": text.zone}
    return text


def from_data(data):
    if isinstance(data, dict) and "plural" in data and "msgid" in data:
        return Plural(data["msgid"], data["plural"], int(data.get("n") or 0),
                      **{name: from_data(value) for name, value in data.get("values", {}).items()})
    if isinstance(data, dict) and "msgid" in data:
        return Say(data["msgid"], **{name: from_data(value) for name, value in data.get("values", {}).items()})
    if isinstance(data, dict) and "moment" in data:
        return Moment(data["moment"], data["zone"])
    return data


def render(text, gettext, moment=str, stored=None, ngettext=None) -> str:
    """``text`` worded with ``gettext`` (a catalogue's): a :class:`Say` as its translated message
    id with its values rendered in turn, a :class:`Joined` part by part, a :class:`Moment` by
    ``moment``, a stored word (:class:`Word`) by ``stored``
    (without it, a Word by its catalogue entry), anything else as it is."""
    def again(value):
        return render(value, gettext, moment, stored, ngettext)

    if isinstance(text, Plural):
        worded = (ngettext(text.msgid, text.plural, text.n) if ngettext is not None
                  else text.msgid if text.n == 1 else text.plural)
        return worded % {name: again(value) for name, value in text.values.items()} if text.values else worded
    if isinstance(text, Say):
        worded = gettext(text.msgid)
        return worded % {name: again(value) for name, value in text.values.items()} if text.values else worded
    if isinstance(text, Joined):
        return text.sep.join(again(part) for part in text.parts)
    if isinstance(text, Moment):
        return moment(text)
    if isinstance(text, Word) and stored is not None:
        return stored(text)
    if isinstance(text, Word):
        return gettext(str(text))
    return text
