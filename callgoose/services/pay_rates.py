"""Hourly rates for hours on call (issue 20): a person's, a schedule's, or a person's on one
schedule; admins set them on the Reports page, each change in the audit log."""

from __future__ import annotations

import math

from sqlalchemy import select

from .. import clock
from ..engine.words import Say
from ..extensions import db
from ..store.models import PayRate, User
from ..store.models import Schedule as ScheduleRow
from ..store.transactions import write
from . import audit

MAX_RATE = 1_000_000


class RateError(ValueError):
    """A rate the form refuses; ``say`` words why."""

    def __init__(self, say: Say):
        super().__init__(str(say))
        self.say = say


def table() -> dict[tuple, tuple[float, float | None]]:
    """Every rate by (user id or None, schedule id or None)."""
    return {(r.user_id, r.schedule_id): (r.rate, r.holiday_rate)
            for r in db.session.execute(select(PayRate)).scalars()}


def rate_for(rates: dict, user_id, schedule_id: int) -> tuple[float | None, float | None]:
    """The most specific rate: the person's on this schedule, the person's, the schedule's."""
    for key in ((user_id, schedule_id), (user_id, None), (None, schedule_id)):
        if key in rates:
            return rates[key]
    return None, None


def listing() -> list[dict]:
    """The rates as the page lists them."""
    users = {u.id: u.email for u in db.session.execute(select(User)).scalars()}
    schedules = {s.id: s.name for s in db.session.execute(select(ScheduleRow)).scalars()}
    return sorted(({"person": users.get(r.user_id), "schedule": schedules.get(r.schedule_id), "rate": r.rate,
                    "holiday_rate": r.holiday_rate} for r in db.session.execute(select(PayRate)).scalars()),
                  key=lambda r: (r["person"] or "", r["schedule"] or ""))


def _amount(text: str | None, required: bool) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        if required:
            raise RateError(Say("Give an hourly rate, or leave it empty to remove the rate."))
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= MAX_RATE:
        raise RateError(Say("A rate is a number from 0 to %(most)s.", most=MAX_RATE))
    return round(value, 4)


def _doc(found: PayRate | None) -> dict | None:
    return None if found is None else {"rate": found.rate, "holiday_rate": found.holiday_rate}


def set_rate(person: str | None, schedule: str | None, rate: str | None, holiday_rate: str | None,
             now: float) -> bool:
    """Set (or, with an empty rate, remove) the rate of a person (email), a schedule (name), or
    both; return whether it is now set. :raises RateError:"""
    person, schedule = (person or "").strip(), (schedule or "").strip()
    if not person and not schedule:
        raise RateError(Say("Choose a person, a schedule, or both."))
    value = _amount(rate, required=False)
    holiday = _amount(holiday_rate, required=False) if value is not None else None

    def work():
        user_id = db.session.execute(select(User.id).where(User.email == person)).scalar() if person else None
        schedule_id = (db.session.execute(select(ScheduleRow.id).where(ScheduleRow.name == schedule)).scalar()
                       if schedule else None)
        if (person and user_id is None) or (schedule and schedule_id is None):
            raise RateError(Say("No such person or schedule."))
        found = db.session.execute(select(PayRate).where(
            PayRate.user_id.is_(None) if user_id is None else PayRate.user_id == user_id,
            PayRate.schedule_id.is_(None) if schedule_id is None else PayRate.schedule_id == schedule_id)).scalar()
        before = _doc(found)
        if value is None:
            if found is not None:
                db.session.delete(found)
        elif found is None:
            found = PayRate(user_id=user_id, schedule_id=schedule_id, rate=value, holiday_rate=holiday,
                            updated_at=clock.to_db(now))
            db.session.add(found)
        else:
            found.rate, found.holiday_rate, found.updated_at = value, holiday, clock.to_db(now)
        db.session.flush()
        name = " / ".join(n for n in (person, schedule) if n)
        audit.record_change("pay rate", None, name, before, None if value is None else _doc(found))
        return value is not None
    return write(work)
