"""The timeline notes Callgoose writes (issue 21, item 4): each is stored as a message id with
its values (``incident_events.note_words``) beside its English text (``note``, for the API,
exports and logs), and worded when shown, in the reader's language, by the one function here.
Rewording a note changes this table only: stored notes take the new words, and the catalogue
check lists the new text as untranslated in every language.

Each wording takes the values and a ``gettext``/``ngettext`` pair (raw: no formatting), so
English and every catalogue go through the same sentence; ``pybabel extract`` finds them."""

from __future__ import annotations

import json
from typing import Callable


def _escalated(v, gettext, ngettext) -> str:
    if v.get("repeat"):
        return ngettext("escalated to level %(num)s, repeat %(repeat)s: %(sent)d notification queued",
                        "escalated to level %(num)s, repeat %(repeat)s: %(sent)d notifications queued", v["sent"]) % v
    return ngettext("escalated to level %(num)s: %(sent)d notification queued",
                    "escalated to level %(num)s: %(sent)d notifications queued", v["sent"]) % v


def _paging_again(v, gettext, ngettext) -> str:
    if v.get("repeat"):
        return ngettext("paging again from level %(num)s, repeat %(repeat)s: %(sent)d notification queued",
                        "paging again from level %(num)s, repeat %(repeat)s: %(sent)d notifications queued",
                        v["sent"]) % v
    return ngettext("paging again from level %(num)s: %(sent)d notification queued",
                    "paging again from level %(num)s: %(sent)d notifications queued", v["sent"]) % v


def _urgency_changed(v, gettext, ngettext) -> str:
    if v.get("sent") is None:
        return gettext("from %(old)s to %(new)s") % v
    return ngettext("from %(old)s to %(new)s: %(sent)d notification queued",
                    "from %(old)s to %(new)s: %(sent)d notifications queued", v["sent"]) % v


def _not_answered(v, gettext, ngettext) -> str:
    if v.get("moved"):
        return gettext("%(name)s's %(method)s was not answered (%(reason)s): next method now") % v
    return gettext("%(name)s's %(method)s was not answered (%(reason)s)") % v


def _target_missed(v, gettext, ngettext) -> str:
    acknowledge = v["target"] == "acknowledge"
    if v.get("acted") == "next_level":
        return (gettext("acknowledge target of %(num)s min missed; the next level is paged now") if acknowledge
                else gettext("resolve target of %(num)s min missed; the next level is paged now")) % v
    if v.get("acted") == "repage":
        return (gettext("acknowledge target of %(num)s min missed; the policy is paged again from level 1")
                if acknowledge else
                gettext("resolve target of %(num)s min missed; the policy is paged again from level 1")) % v
    return (gettext("acknowledge target of %(num)s min missed") if acknowledge
            else gettext("resolve target of %(num)s min missed")) % v


NOTES: dict[str, Callable] = {
    "nobody_on_call": lambda v, gettext, ngettext: gettext("nobody on call in %(schedule)s") % v,
    "no_targets": lambda v, gettext, ngettext: gettext("level %(num)s has no targets") % v,
    "no_method": lambda v, gettext, ngettext: gettext(
        "%(name)s (level %(num)s) has no verified contact method for %(urgency)s urgency") % v,
    "exhausted": lambda v, gettext, ngettext: gettext("escalation finished, nobody acknowledged"),
    "escalation_requested": lambda v, gettext, ngettext: gettext("escalation requested now"),
    "escalated": _escalated,
    "paging_again": _paging_again,
    "urgency_changed": _urgency_changed,
    "snoozed_until": lambda v, gettext, ngettext: gettext("until %(time)s") % v,
    "service_deleted": lambda v, gettext, ngettext: gettext("service %(name)s deleted") % v,
    "not_answered": _not_answered,
    "target_missed": _target_missed,
    "drill_acknowledged": lambda v, gettext, ngettext: gettext("the drill ended: acknowledged"),
    "drill_time_up": lambda v, gettext, ngettext: gettext("the drill's time is up"),
    "drill_deleted": lambda v, gettext, ngettext: gettext("the drill was deleted"),
}


def _english(text: str) -> str:
    return text


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


class Note(str):
    """A timeline note: its English text, remembering its message id and values."""

    key: str
    values: dict

    def __new__(cls, key: str, **values) -> Note:
        text = super().__new__(cls, NOTES[key](values, _english, _english_plural))
        text.key = key
        text.values = values
        return text

    def __reduce__(self):
        return (_rebuild, (self.key, self.values))

    def stored(self) -> str:
        """As ``incident_events.note_words`` keeps it."""
        return json.dumps({"id": self.key, "values": self.values}, sort_keys=True)


def _rebuild(key: str, values: dict) -> Note:
    return Note(key, **values)


def stored_words(note) -> str | None:
    """What ``incident_events.note_words`` keeps for a note (None: a person's own text)."""
    return note.stored() if isinstance(note, Note) else None


def worded(stored: str | None, gettext, ngettext, shown: Callable[[str, object], object] = lambda k, v: v) -> str | None:
    """A stored note (``note_words``) in the words of ``gettext``/``ngettext``; ``shown`` turns
    a value into how the reader sees it (a stored word, a time). None: not a note this
    table knows (its English ``note`` is shown)."""
    if not stored:
        return None
    try:
        doc = json.loads(stored)
        wording = NOTES[doc["id"]]
        values = {key: shown(key, value) for key, value in dict(doc.get("values") or {}).items()}
        return wording(values, gettext, ngettext)
    except (ValueError, KeyError, TypeError):
        return None
