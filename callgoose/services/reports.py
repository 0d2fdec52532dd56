"""Reports (issue 20): read the rows a report needs, let the engine compute it. Read-only:
nothing here writes, and nothing is computed inside a transaction that writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from datetime import date

from sqlalchemy import and_, select

from .. import channels, clock
from ..engine import hours as hours_engine
from ..engine import reports as engine
from ..engine.reports import Range
from ..extensions import db
from ..store.models import Incident, IncidentEvent, Notification, Rule, Service, User
from ..store.models import Schedule as ScheduleRow
from ..store.hotpath import Sql, to_datetime
from ..store.transactions import session_cursor
from . import pay_rates, priorities
from .schedules import load

NAMES = ("response", "interruptions", "oncall", "rules")


@dataclass(frozen=True)
class Report:
    name: str
    range: Range
    data: dict


def _between(column, span: Range):
    return and_(column >= clock.to_db(span.start), column < clock.to_db(span.end))


INCIDENTS = Sql("""
    SELECT i.id, s.name, i.created_at, i.acknowledged_at, i.resolved_at, i.rule_id, i.service_id, i.priority
    FROM incidents i JOIN services s ON s.id = i.service_id
    WHERE i.created_at >= :start AND i.created_at < :end AND i.shadow = :no
""")
DELIVERIES = Sql("""
    SELECT n.user_id, n.sent_at, i.rule_id, i.service_id, n.channel
    FROM notifications n JOIN incidents i ON i.id = n.incident_id
    WHERE n.kind = 'page' AND n.status = 'sent' AND n.user_id IS NOT NULL AND n.sent_at >= :start
      AND n.sent_at < :end
""")


def _stamp(value) -> float | None:
    return clock.from_db(to_datetime(value))


def _incidents(span: Range) -> list[dict]:
    """The incidents opened in the range (not those of a shadow run: they paged nobody), through
    the driver's cursor (the ORM's row processing cost 40 times the query here)."""
    rows = session_cursor().execute(INCIDENTS, {"start": clock.to_db(span.start), "end": clock.to_db(span.end),
                                                "no": False}).fetchall()
    return [{"id": i, "service": s, "created": _stamp(c), "acknowledged": _stamp(a), "resolved": _stamp(r),
             "rule": rule, "service_id": sid, "priority": p or "none"} for i, s, c, a, r, rule, sid, p in rows]


class _Reads:
    """What several reports of one page share, read once: the range's incidents, its waking
    deliveries, and the people."""

    def __init__(self, span: Range):
        self.span = span

    @cached_property
    def incidents(self) -> list[dict]:
        return _incidents(self.span)

    @cached_property
    def deliveries(self) -> list[tuple]:
        return _deliveries(self.span)

    @cached_property
    def people(self) -> dict[int, tuple[str, str]]:
        return _people()

    @cached_property
    def interruptions(self) -> list:
        return engine.interruptions(self.deliveries, {u: z for u, (_, z) in self.people.items()})


def response(reads: _Reads) -> dict:
    """Time to acknowledge and to resolve of the incidents opened in the range, per group."""
    found = priorities.by_code()
    goals = {code: (p.acknowledge_minutes and p.acknowledge_minutes * 60, p.resolve_minutes and p.resolve_minutes * 60)
             for code, p in found.items()}
    return {"groups": engine.response_times(reads.incidents, reads.span.zone,
                                            target=lambda row: goals.get(row["priority"]))}


def _deliveries(span: Range) -> list[tuple]:
    """Pages sent to a person through a waking channel in the range: (user, sent at, (service, rule))."""
    waking = {name for name, channel in channels.REGISTRY.items() if channel.wakes}
    rows = session_cursor().execute(DELIVERIES, {"start": clock.to_db(span.start),
                                                 "end": clock.to_db(span.end)}).fetchall()
    return [(u, _stamp(at), (sid, rule)) for u, at, rule, sid, channel in rows if channel in waking]


def _people() -> dict[int, tuple[str, str]]:
    return {u.id: (u.name or u.email, u.time_zone) for u in db.session.execute(select(User)).scalars()}


def interruptions(reads: _Reads) -> dict:
    """Interruptions per person, split by the part of the day in each person's own zone."""
    people = reads.people
    counts = engine.per_person(reads.interruptions)
    rows = [{"person": people.get(u, (f"user {u}", "UTC"))[0], "zone": people.get(u, ("", "UTC"))[1], **c}
            for u, c in counts.items()]
    return {"people": sorted(rows, key=lambda r: (-r["total"], r["person"]))}


def holiday_dates(country: str | None, span: Range) -> frozenset[date]:
    """The public holidays of ``country`` (ISO 3166 code) in the range's years; none without one.
    :raises engine.RangeError: a country the holidays package does not know."""
    if not country:
        return frozenset()
    import holidays  # only where a report asks for holidays

    try:
        found = holidays.country_holidays(country.upper(), years=range(span.first.year - 1, span.last.year + 2))
    except (NotImplementedError, KeyError):
        raise engine.RangeError("country must be a country code the holidays package knows, e.g. DE") from None
    return frozenset(found.keys())


def oncall(reads: _Reads, country: str | None = None) -> dict:
    """Hours on call per schedule and person, with overrides, holiday hours, rates and pay."""
    span = reads.span
    days = holiday_dates(country, span)
    people, rates = reads.people, pay_rates.table()
    found = []
    for row in db.session.execute(select(ScheduleRow).order_by(ScheduleRow.name)).scalars():
        schedule = load(session_cursor(), row.id, span.start, span.end)
        result = hours_engine.hours_on_call(schedule, span.start, span.end, days)
        listed = []
        for p in result.people:
            rate, holiday_rate = pay_rates.rate_for(rates, p.user, row.id)
            listed.append({"person": people.get(p.user, (f"user {p.user}", ""))[0], "hours": p.hours,
                           "override_taken": p.taken, "override_given": p.given, "holiday_hours": p.holiday,
                           "rate": rate, "holiday_rate": holiday_rate,
                           "amount": hours_engine.pay(p.hours, p.holiday, rate, holiday_rate)})
        found.append({"schedule": row.name, "zone": row.time_zone, "hours": result.hours,
                      "nobody_hours": result.nobody, "people": listed})
    return {"country": country.upper() if country else None, "schedules": found}


def rules(reads: _Reads) -> dict:
    """The noisiest trigger rules: pages, sleep-hour interruptions, incidents resolved by a call
    within 5 minutes; each with what its dry run should try."""
    span, incidents = reads.span, reads.incidents
    by_call = set(db.session.execute(select(IncidentEvent.incident_id).join(
        Incident, Incident.id == IncidentEvent.incident_id).where(
        _between(Incident.created_at, span), IncidentEvent.kind == "resolved",
        IncidentEvent.api_call_id.is_not(None))).scalars())
    pages = db.session.execute(select(Incident.service_id, Incident.rule_id).join(
        Notification, Notification.incident_id == Incident.id).where(
        Notification.kind == "page", _between(Notification.queued_at, span))).all()
    sleeping = [i for i in reads.interruptions if i.part == "sleep"]
    known = {r.id: r for r in db.session.execute(select(Rule).where(Rule.kind == "trigger")).scalars()}
    services = {s.id: s for s in db.session.execute(select(Service)).scalars()}
    rows = engine.noisy_rules(incidents, by_call, pages, sleeping)
    for row in rows:
        rule, service = known.get(row["rule_id"]), services.get(row["service_id"])
        row["service"] = service.name if service else f"service {row['service_id']}"
        row["position"] = rule.position + 1 if rule else None
        row["urgency"] = rule.urgency if rule else None
        row["window"] = service.duplicate_window_seconds if service else None
        row["fix"] = engine.obvious_fix(row, rule.urgency) if rule else None
    return {"rules": rows}


def report(name: str, reads: _Reads, country: str | None = None) -> Report:
    """One report over a range. :raises engine.RangeError: a country it does not know."""
    data = oncall(reads, country) if name == "oncall" else {
        "response": response, "interruptions": interruptions, "rules": rules}[name](reads)
    return Report(name, reads.span, data)


def read(names: tuple[str, ...], from_text: str | None, to_text: str | None, zone_name: str | None,
         default_zone: str, country: str | None, now: float) -> dict[str, Report]:
    """The reports ``names`` over the range as a reader asked for it (dates in ``zone_name``,
    default ``default_zone``; the last 30 days by default).
    :raises engine.RangeError: a bad range, zone or country (the message says which)."""
    span = engine.parse_range(from_text, to_text, zone_name, now, default_zone)
    if country and not re.fullmatch(r"[A-Za-z]{2,3}", country):
        raise engine.RangeError("country must be a country code, e.g. DE")
    reads = _Reads(span)
    return {name: report(name, reads, country or None) for name in names}
