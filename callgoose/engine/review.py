"""The section of an incident review that Callgoose writes itself (issue 20, item 5).

Pure: the services gather what is known (the incident row, the call that opened it and its
stored outcome, replays, maintenance windows, the notifications ledger, the timeline) as plain
data, and :func:`written_section` turns it into facts, each with a time, a text (a :class:`Say`
the dashboard words in the reader's language) and its data for the JSON export. Nothing is
inferred that the data does not say: a page without a provider's report says so.

Also here: the checks of what people write (:func:`check_follow_ups`) and the Markdown escape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .rules import SpecError
from .outcome import ServiceOutcome
from .words import Moment, Plural, Say, Word

SUMMARY_CHARS = 20_000
FOLLOW_UP_CHARS = 500
LINK_CHARS = 2_000
MOST_FOLLOW_UPS = 50
ACTED = ("acknowledged", "resolved")


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    title: str
    service: str
    status: str
    urgency: str
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    duplicate_count: int
    first_repeat_at: datetime | None
    last_seen_at: datetime
    mapping_value: str | None = None
    priority: str | None = None  # issue 20 items 1-2 (branch "priorities"): P1..P5 once incidents have one


@dataclass(frozen=True)
class CallFacts:
    """The API call that opened the incident (while retention keeps it) and its outcome on the service."""

    id: str
    received_at: datetime
    token_name: str
    source: str | None
    outcome: ServiceOutcome | None


@dataclass(frozen=True)
class PageFacts:
    """One page (a notification of kind page) from the ledger."""

    person: str
    user_id: int | None
    channel: str
    level: int | None
    status: str
    queued_at: datetime
    sent_at: datetime | None
    answer: str | None  # a provider's report: delivered, answered, no-answer, ...
    error: str | None


@dataclass(frozen=True)
class EventFacts:
    """One stored timeline entry."""

    at: datetime
    kind: str
    actor: str | None
    user_id: int | None
    note: str | None


@dataclass(frozen=True)
class WindowFacts:
    starts_at: datetime | None
    ends_at: datetime | None
    tags: list
    origin: str


@dataclass(frozen=True)
class Targets:
    """A priority's response targets in seconds (None: no target)."""

    acknowledge: int | None = None
    resolve: int | None = None


@dataclass(frozen=True)
class Fact:
    kind: str  # call | rule | tried | duplicates | replays | maintenance | page | time | comment
    at: datetime | None
    text: Say
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FollowUp:
    text: str
    owner_id: int | None
    link: str | None
    done: bool

    def to_json(self) -> dict:
        return {"text": self.text, "owner_id": self.owner_id, "link": self.link, "done": self.done}


def _epoch(at: datetime) -> float:
    return at.replace(tzinfo=timezone.utc).timestamp() if at.tzinfo is None else at.timestamp()


def duration(seconds: float) -> Say:
    """``45 s``, ``4 min 3 s``, ``2 h 5 min``, ``3 d 2 h``."""
    whole = max(0, int(round(seconds)))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return Say("%(d)s d %(h)s h", d=days, h=hours)
    if hours:
        return Say("%(h)s h %(m)s min", h=hours, m=minutes)
    if minutes:
        return Say("%(m)s min %(s)s s", m=minutes, s=secs)
    return Say("%(s)s s", s=secs)


def _call_facts(call: CallFacts | None, created_by: str | None, when) -> list[Fact]:
    if call is None:
        return [Fact("call", None, Say("The call that opened it is no longer kept (retention) or it was opened "
                                       "without one."), {"call": created_by})]
    facts = [Fact("call", call.received_at, Say("First call %(id)s at %(at)s with token %(token)s (from %(source)s).",
                                                id=call.id, at=when(call.received_at), token=call.token_name,
                                                source=call.source or "-"),
                  {"call": call.id, "token": call.token_name, "from": call.source})]
    outcome = call.outcome
    if outcome is None:
        return facts
    if outcome.event is not None:
        facts.append(Fact("rule", call.received_at, Say("Event %(event)s with key “%(key)s” opened it (no rule is "
                                                        "tried for an alert API's event).", event=outcome.event,
                                                        key=outcome.key or "-"),
                          {"event": outcome.event, "key": outcome.key}))
        return facts
    if outcome.trigger is not None:
        value = outcome.trigger.mapping_value
        facts.append(Fact("rule", call.received_at,
                          Say("Trigger rule %(num)s held with mapping value “%(value)s” and opened it.",
                              num=outcome.trigger.rule + 1, value=value) if value else
                          Say("Trigger rule %(num)s held (no mapping value: every call opens its own incident) "
                              "and opened it.", num=outcome.trigger.rule + 1),
                          {"rule": outcome.trigger.rule + 1, "rule_id": outcome.trigger.rule_id,
                           "mapping_value": value}))
    for miss in outcome.misses:
        if miss.kind != "trigger" or miss.need is None:
            continue
        shown = Say("absent") if miss.value is None else miss.value
        facts.append(Fact("tried", call.received_at,
                          Say("Trigger rule %(num)s was tried first and did not hold: it needs %(need)s (%(value)s).",
                              num=miss.rule + 1, need=miss.need, value=shown),
                          {"rule": miss.rule + 1, "need": miss.need, "value": miss.value}))
    return facts


def _repeats(incident: IncidentFacts, replays: list[datetime], when) -> list[Fact]:
    facts = []
    if incident.duplicate_count:
        first = incident.first_repeat_at or incident.last_seen_at
        facts.append(Fact("duplicates", first, Plural("%(num)s duplicate suppressed, between %(first)s and %(last)s.",
                                                      "%(num)s duplicates suppressed, between %(first)s and %(last)s.",
                                                      incident.duplicate_count, num=incident.duplicate_count, first=when(first),
                                                   last=when(incident.last_seen_at)),
                          {"count": incident.duplicate_count, "first": first, "last": incident.last_seen_at}))
    else:
        facts.append(Fact("duplicates", None, Say("No duplicates."), {"count": 0}))
    if replays:
        facts.append(Fact("replays", replays[0], Plural("%(num)s replay of the same payload suppressed, between "
                                                        "%(first)s and %(last)s.",
                                                        "%(num)s replays of the same payload suppressed, between "
                                                        "%(first)s and %(last)s.", len(replays), num=len(replays),
                                                     first=when(replays[0]), last=when(replays[-1])),
                          {"count": len(replays), "times": replays}))
    return facts


def _maintenance(incident: IncidentFacts, windows: list[WindowFacts], when) -> list[Fact]:
    """Windows in force when it opened: their tag sets did not cover its call (or it would not have opened)."""
    on = [w for w in windows if (w.starts_at is None or w.starts_at <= incident.created_at)
          and (w.ends_at is None or w.ends_at > incident.created_at)]
    if not on:
        return [Fact("maintenance", None, Say("No maintenance was in force on the service when it opened."),
                     {"windows": []})]
    return [Fact("maintenance", w.starts_at,
                 Say("Maintenance was in force (%(origin)s, from %(start)s until %(end)s) for tags %(tags)s; "
                     "it did not cover this call.", origin=Word(w.origin),
                     start=when(w.starts_at) if w.starts_at else "-", end=when(w.ends_at) if w.ends_at else "-",
                     tags="; ".join(", ".join(s) for s in w.tags) or "-"),
                 {"starts_at": w.starts_at, "ends_at": w.ends_at, "tags": w.tags, "origin": w.origin}) for w in on]


def _delivered(page: PageFacts) -> Say:
    if page.status == "failed":
        return Say("failed: %(error)s", error=page.error or "-")
    if page.sent_at is None:
        return Say("not sent (%(status)s)", status=Word(page.status))
    if page.answer in ("delivered", "answered"):
        return Say("reported %(answer)s", answer=Word(page.answer))
    if page.answer:
        return Say("reported not delivered (%(answer)s)", answer=page.answer)
    return Say("no delivery report")


def _page(page: PageFacts, events: list[EventFacts], when) -> Fact:
    acted = next((e for e in events if e.kind in ACTED and page.user_id is not None and e.user_id == page.user_id
                  and (page.sent_at is None or e.at >= page.sent_at)), None)
    acts = (Say("%(action)s at %(at)s (%(actor)s)", action=Word(acted.kind), at=when(acted.at),
                actor=acted.actor or "-") if acted else Say("did not act"))
    text = Say("%(person)s by %(channel)s (level %(level)s): queued %(queued)s, sent %(sent)s, %(delivered)s; "
               "%(acted)s.", person=page.person, channel=Word(page.channel),
               level=page.level + 1 if page.level is not None else "-", queued=when(page.queued_at),
               sent=when(page.sent_at) if page.sent_at else "-", delivered=_delivered(page), acted=acts)
    return Fact("page", page.queued_at, text, {
        "person": page.person, "channel": page.channel, "level": page.level + 1 if page.level is not None else None,
        "status": page.status, "queued_at": page.queued_at, "sent_at": page.sent_at, "delivered": page.answer,
        "error": page.error, "acted": {"action": acted.kind, "at": acted.at, "by": acted.actor} if acted else None})


def _against(seconds: float, target: int | None) -> Say | None:
    if target is None:
        return None
    if seconds <= target:
        return Say("within the target of %(target)s", target=duration(target))
    return Say("missed the target of %(target)s by %(late)s", target=duration(target), late=duration(seconds - target))


def _times(incident: IncidentFacts, pages: list[PageFacts], events: list[EventFacts],
           targets: Targets | None) -> list[Fact]:
    facts = []
    sent = [p.sent_at for p in pages if p.sent_at is not None]
    acknowledged = next((e.at for e in events if e.kind == "acknowledged"), incident.acknowledged_at)
    measured = (("first_page", min(sent) if sent else None, None, Say("Time to first page")),
                ("acknowledge", acknowledged, targets.acknowledge if targets else None, Say("Time to acknowledge")),
                ("resolve", incident.resolved_at, targets.resolve if targets else None, Say("Time to resolve")))
    for name, at, target, label in measured:
        if at is None:
            facts.append(Fact("time", None, Say("%(label)s: not yet.", label=label),
                              {"measure": name, "seconds": None}))
            continue
        seconds = (at - incident.created_at).total_seconds()
        verdict = _against(seconds, target)
        facts.append(Fact("time", at, Say("%(label)s: %(took)s, %(verdict)s.", label=label, took=duration(seconds),
                                          verdict=verdict) if verdict else
                          Say("%(label)s: %(took)s.", label=label, took=duration(seconds)),
                          {"measure": name, "seconds": round(seconds, 3), "target_seconds": target,
                           "within_target": None if target is None else seconds <= target}))
    return facts


def written_section(incident: IncidentFacts, call: CallFacts | None, created_by: str | None,
                    replays: list[datetime], windows: list[WindowFacts], pages: list[PageFacts],
                    events: list[EventFacts], zone: str, targets: Targets | None = None) -> list[Fact]:
    """What Callgoose knows of an incident, in order: the first call and the rule, what was
    suppressed, maintenance, every page, the times (against ``targets`` when given) and the
    comments. Times in the text are in ``zone``; the data keeps them as stored (UTC)."""
    def when(at: datetime) -> Moment:
        return Moment(_epoch(at), zone)

    events = sorted(events, key=lambda e: e.at)
    facts = _call_facts(call, created_by, when) + _repeats(incident, sorted(replays), when)
    facts += _maintenance(incident, windows, when)
    if not pages:
        facts.append(Fact("page", None, Say("Nobody was paged."), {}))
    facts += [_page(p, events, when) for p in sorted(pages, key=lambda p: p.queued_at)]
    facts += _times(incident, pages, events, targets)
    facts += [Fact("comment", e.at, Say("%(actor)s at %(at)s: %(note)s", actor=e.actor or "-", at=when(e.at),
                                        note=e.note or ""),
                   {"by": e.actor, "text": e.note}) for e in events if e.kind == "comment"]
    return facts


def check_link(link: str, path: str) -> str | None:
    """A follow-up's link: empty is none; otherwise an absolute http(s) URL. :raises SpecError:"""
    link = (link or "").strip()
    if not link:
        return None
    parts = urlsplit(link)
    if len(link) > LINK_CHARS or parts.scheme.lower() not in ("http", "https") or not parts.netloc \
            or any(c.isspace() or ord(c) < 32 or c in '<>"`\\' for c in link):
        raise SpecError(path, Say("a link must be an http:// or https:// address"))
    return link


def check_follow_ups(rows: list[tuple[str, int | None, str, bool]], users: set[int]) -> list[FollowUp]:
    """Follow-ups as people wrote them (text, owner's user id, link, done); a row without text is
    dropped (that is how one is removed). :raises SpecError: naming the row at fault."""
    found = []
    for number, (text, owner, link, done) in enumerate(rows, 1):
        text = (text or "").strip()
        if not text:
            continue
        path = f"follow-up {number}"
        if len(text) > FOLLOW_UP_CHARS:
            raise SpecError(path, Plural("at most %(num)s character", "at most %(num)s characters", FOLLOW_UP_CHARS, num=FOLLOW_UP_CHARS))
        if owner is not None and owner not in users:
            raise SpecError(path, Say("the owner must be an active user"))
        found.append(FollowUp(text, owner, check_link(link, path), bool(done)))
    if len(found) > MOST_FOLLOW_UPS:
        raise SpecError("follow-ups", Plural("at most %(num)s follow-up", "at most %(num)s follow-ups", MOST_FOLLOW_UPS, num=MOST_FOLLOW_UPS))
    return found


_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<=www)(\.)")
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))", re.M)


def markdown_text(text: str) -> str:
    """Text as Markdown shows it literally: HTML's characters as entities; brackets, emphasis,
    code, headings and tables escaped, a list's or a heading's mark at a line's start too, and
    what a renderer would make an autolink of (``https://``, ``www.``) broken with a backslash."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
    return _LINE_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2).isdigit()
                                                   else m.group(2) + "\\"), text)
