"""Fire drills (issue 17, item 6), decided without I/O: when a drill runs next, and what a
run's notifications say about how the page reached the person.

A drill's recurrence is deliberately small and explicit: a weekday, which week of the month
(the first to the fourth, the last, or every week), a local time and the zone it is read in
("every first Monday at 14:00, Europe/Berlin"). Local times become instants as schedules do
(``engine.schedules.instant``, ``fold=0``): 02:30 on a spring-forward night is 03:30 new
time, and on a fall-back night the first 02:30. Instants are epoch seconds.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from .paging import RATE_LIMITED, State
from .rules import SpecError
from .schedules import DAYS, instant, known_zone, local_of, zone
from .words import Joined, Plural, Say, Word

WEEKS = ("1", "2", "3", "4", "last", "every")
DRILL_MINUTES = 15  # a run resolves itself this long after it paged, unless acknowledged before
LOOK_AHEAD_DAYS = 400  # every recurrence above occurs within a year
HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
WEEKDAY_NAMES = (Say("Monday"), Say("Tuesday"), Say("Wednesday"), Say("Thursday"), Say("Friday"),
                 Say("Saturday"), Say("Sunday"))
WEEK_WORDS = {"1": Say("first"), "2": Say("second"), "3": Say("third"), "4": Say("fourth"), "last": Say("last")}


@dataclass(frozen=True)
class Recurrence:
    """When a drill runs: ``weekday`` (0 = Monday) of ``week`` at ``at`` local time in ``time_zone``."""

    weekday: int
    week: str
    at: time
    time_zone: str

    def occurs_on(self, day: date) -> bool:
        if day.weekday() != self.weekday:
            return False
        if self.week == "every":
            return True
        if self.week == "last":
            return (day + timedelta(days=7)).month != day.month
        return (day.day - 1) // 7 + 1 == int(self.week)

    def next_after(self, after: float) -> float:
        """The first run strictly after ``after``."""
        tz = zone(self.time_zone)
        day = local_of(after, tz).date() - timedelta(days=1)  # fold=0 can put a run before its local date
        for _ in range(LOOK_AHEAD_DAYS):
            if self.occurs_on(day):
                at = instant(datetime.combine(day, self.at), tz)
                if at > after:
                    return at
            day += timedelta(days=1)
        raise AssertionError("every recurrence occurs within a year")

    def words(self) -> Say:
        """"every first Monday at 14:00 (Europe/Berlin)"."""
        if self.week == "every":
            return Say("every %(weekday)s at %(time)s (%(zone)s)", weekday=WEEKDAY_NAMES[self.weekday],
                       time=f"{self.at:%H:%M}", zone=self.time_zone)
        return Say("every %(which)s %(weekday)s of the month at %(time)s (%(zone)s)", which=WEEK_WORDS[self.week],
                   weekday=WEEKDAY_NAMES[self.weekday], time=f"{self.at:%H:%M}", zone=self.time_zone)


def build(weekday, week, at, time_zone) -> Recurrence:
    """A recurrence from a form's or a row's values. :raises SpecError: the field at fault."""
    if isinstance(weekday, str) and weekday in DAYS:
        weekday = DAYS.index(weekday)
    if isinstance(weekday, str) and weekday.isdigit():
        weekday = int(weekday)
    if not isinstance(weekday, int) or not 0 <= weekday < 7:
        raise SpecError("weekday", Say("must be a day of the week"))
    if week not in WEEKS:
        raise SpecError("week", Say("must be first, second, third, fourth, last or every week"))
    found = HH_MM.fullmatch(at or "") if isinstance(at, str) else None
    if found is None:
        raise SpecError("time", Say("must be a time of day as HH:MM, e.g. 14:00"))
    if not known_zone(time_zone):
        raise SpecError("time_zone", Say("must be an IANA time zone, e.g. Europe/Berlin"))
    return Recurrence(weekday, week, time(int(found[1]), int(found[2])), time_zone)


# ---- a run's report -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    """One page of the run, as the outbox left it (times in epoch seconds)."""

    channel: str
    status: str  # engine.paging.State
    queued_at: float
    sent_at: float | None = None
    error: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class Report:
    """What a run taught: whether anyone was paged, which channel reached them and how long
    they took to acknowledge, what was sent before that, and which methods failed."""

    paged: bool
    acknowledged_after: float | None = None  # seconds from the run's start; None: nobody acknowledged
    reached_by: str | None = None  # the channel that reached them (None: not known, or nobody acknowledged)
    sent: list[str] = field(default_factory=list)  # channels whose message left, in the order they left
    failed: list[list[str]] = field(default_factory=list)  # [channel, why]
    not_needed: list[str] = field(default_factory=list)  # later rules cancelled by the acknowledgement

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> Report:
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_after is not None

    def words(self) -> list[Say]:
        """The report as sentences, for the drills page."""
        if not self.paged:
            return [Say("Nobody was paged: nobody was on call, or the person has no verified contact method "
                        "for high urgency.")]
        lines = []
        if self.acknowledged:
            lines.append(Say("Acknowledged after %(duration)s.", duration=duration_words(self.acknowledged_after)))
            if self.reached_by:
                lines.append(Say("Reached by %(channel)s.", channel=Word(self.reached_by)))
        else:
            lines.append(Plural("Nobody acknowledged within %(minutes)s minute.", "Nobody acknowledged within %(minutes)s minutes.",
                                DRILL_MINUTES, minutes=DRILL_MINUTES))
        if self.sent:
            lines.append(Say("Sent: %(channels)s.", channels=Joined([Word(c) for c in self.sent], ", ")))
        for channel, why in self.failed:
            lines.append(Say("Failed: %(channel)s (%(why)s).", channel=Word(channel), why=why))
        if self.not_needed:
            lines.append(Say("Not needed after the acknowledgement: %(channels)s.",
                             channels=Joined([Word(c) for c in self.not_needed], ", ")))
        return lines


def duration_words(seconds: float) -> Say:
    """"45 seconds", "3 min 20 s"."""
    whole = round(seconds)
    if whole < 60:
        return Plural("%(num)s second", "%(num)s seconds", whole, num=whole)
    return Say("%(minutes)s min %(seconds)s s", minutes=whole // 60, seconds=whole % 60)


def _failure(d: Delivery) -> str | None:
    """Why a delivery failed, or None when it did not."""
    if d.status == State.FAILED.value:
        return d.error or "failed"
    if d.status == State.UNKNOWN.value:
        return "outcome unknown: the sender stopped while sending"
    if d.attempts and d.status != State.SENT.value and d.error != RATE_LIMITED:
        # Still retrying after a temporary failure, or cancelled while it was.
        return d.error if d.status != State.CANCELLED.value else f"failed {d.attempts} time(s), then not retried"
    return None


def report(started_at: float, deliveries: list[Delivery], acknowledged_at: float | None,
           acknowledged_via: str | None) -> Report:
    """A run's report from its pages. ``acknowledged_via``: the channel the person acted
    through (a mail link, a push app's button), when the acknowledgement says; otherwise the
    channel that reached them is the last one sent before they acknowledged."""
    if not deliveries:
        return Report(paged=False)
    left = sorted((d for d in deliveries if d.sent_at is not None and d.status == State.SENT.value),
                  key=lambda d: d.sent_at)
    sent = list(dict.fromkeys(d.channel for d in left))
    failed = [[d.channel, why] for d in deliveries if (why := _failure(d)) is not None]
    if acknowledged_at is None:
        return Report(True, sent=sent, failed=failed)
    before = [d.channel for d in left if d.sent_at <= acknowledged_at]
    reached = acknowledged_via if acknowledged_via in sent else (before[-1] if before else None)
    not_needed = list(dict.fromkeys(d.channel for d in deliveries
                                    if d.status == State.CANCELLED.value and not d.attempts))
    return Report(True, max(0.0, acknowledged_at - started_at), reached, sent, failed, not_needed)
