"""``seed-demo``'s people (issue 20): four people in four zones, two schedules with an override,
and the pages the demo incidents sent them, so the Reports page has interruptions, hours on
call and noisy rules to show. Rows go in the demo's batches (services/demo.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from .. import clock
from ..engine.schedules import on_call
from ..store.hotpath import Sql
from .schedules import load

PEOPLE = (("ana@demo.example", "Ana", "Europe/Berlin", "+4915100000001"),
          ("ben@demo.example", "Ben", "America/New_York", "+12125550102"),
          ("kenji@demo.example", "Kenji", "Asia/Tokyo", "+819000000003"),
          ("sara@demo.example", "Sara", "Europe/Lisbon", "+351910000004"))
INSERT_PAGE = Sql("""
    INSERT INTO notifications (delivery_id, incident_id, user_id, kind, channel, target, level, status, queued_at,
        due_at, attempts, sent_at, finished_at)
    VALUES (:delivery_id, :incident_id, :user_id, 'page', :channel, :target, :level, 'sent', :queued_at, :queued_at,
        1, :sent_at, :sent_at)
""")
PEOPLE_IDS = Sql("SELECT id, email FROM users WHERE email LIKE '%@demo.example'")
SCHEDULE_ID = Sql("SELECT id FROM schedules WHERE name = 'demo-primary'")
TRIGGER_RULES = Sql("SELECT service_id, id FROM rules WHERE kind = 'trigger' ORDER BY service_id, position")


def _monday_before(at: float) -> str:
    day = datetime.fromtimestamp(at, timezone.utc).date()
    return (day - timedelta(days=day.weekday() + 7)).isoformat()


def document(start: float, now: float) -> dict:
    """The people and schedules (S34): demo-primary rotates weekly at 09:00 Berlin time, with
    Sara taking two days of it last week; demo-secondary rotates daily in New York."""
    users = [{"email": e, "name": n, "time_zone": z,
              "contact_methods": [{"name": "phone", "type": "sms", "address": p}]} for e, n, z, p in PEOPLE]
    taken = datetime.fromtimestamp(now - 6 * 86400, timezone.utc).replace(minute=0, second=0, microsecond=0)
    return {"users": users, "schedules": [
        {"name": "demo-primary", "time_zone": "Europe/Berlin", "layers": [
            {"name": "weekly", "users": [p[0] for p in PEOPLE], "start": f"{_monday_before(start)}T09:00",
             "shift": {"unit": "weeks", "count": 1}}],
         "overrides": [{"user": PEOPLE[3][0], "start": taken.isoformat(),
                        "end": (taken + timedelta(days=2)).isoformat()}]},
        {"name": "demo-secondary", "time_zone": "America/New_York", "layers": [
            {"name": "daily", "users": [p[0] for p in reversed(PEOPLE)], "start": f"{_monday_before(start)}T08:00",
             "shift": {"unit": "days", "count": 1}}]}]}


class Pager:
    """Whom a demo incident paged: the person on call on demo-primary when it opened, by SMS;
    unacknowledged after five minutes, by phone call as well."""

    def __init__(self, cursor, start: float, now: float):
        self.ids = {email: uid for uid, email in cursor.execute(PEOPLE_IDS).fetchall()}
        self.emails = {uid: email for email, uid in self.ids.items()}
        self.targets = {self.ids[e]: p for e, _, _, p in PEOPLE if e in self.ids}
        self.schedule = load(cursor, cursor.execute(SCHEDULE_ID).fetchone()[0], start, now)
        self.rules: dict[int, list[int]] = {}
        for sid, rule_id in cursor.execute(TRIGGER_RULES).fetchall():
            self.rules.setdefault(sid, []).append(rule_id)

    def rule(self, service_id: int, low: bool) -> int | None:
        """The rule that held: the high-urgency one, or the catch-all low one."""
        found = self.rules.get(service_id, [])
        return (found[-1] if low else found[0]) if found else None

    def pages(self, incident_id: int, opened: float, acknowledged: float | None, resolved: float | None) -> tuple:
        """(the paged user id, its page rows)."""
        users = on_call(self.schedule, opened).users
        if not users:
            return None, []
        user = users[0]
        rows = [self._row(incident_id, user, "sms", opened + 5, 0)]
        answered = min(t for t in (acknowledged, resolved, opened + 10**9) if t is not None)
        if answered > opened + 300:
            rows.append(self._row(incident_id, user, "voice", opened + 305, 1))
        return user, rows

    def _row(self, incident_id: int, user: int, channel: str, at: float, level: int) -> dict:
        return {"delivery_id": str(uuid.uuid4()), "incident_id": incident_id, "user_id": user, "channel": channel,
                "target": self.targets.get(user, ""), "level": level, "queued_at": clock.to_db(at - 2),
                "sent_at": clock.to_db(at)}
