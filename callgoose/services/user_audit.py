"""A user's sub-document for the audit log (issue 19, item 5): their part of the S34 document
(email, name, role, zone, contact methods, notification rules), whether they are active, their
second factors (an authenticator app: yes or no, never its key; their passkeys' names), and a
fingerprint of their password hash under ``password`` (the diff marks it changed, never shows it)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from .. import channels
from ..extensions import db
from ..store.models import CalendarFeed, ContactMethod, NotificationRule, Passkey, SlackIdentity, User
from ..store.models import Schedule as ScheduleRow
from . import audit


def _method(m: ContactMethod) -> dict:
    found = channels.REGISTRY.get(m.channel)
    shown = found.shown(m.address, m.options) if found is not None else m.address
    return {"name": m.name, "type": m.channel, "address": shown, "verified": m.verified_at is not None}


def user_doc(user_id: int) -> dict | None:
    user = db.session.get(User, user_id)
    if user is None:
        return None
    methods = list(db.session.execute(select(ContactMethod).where(ContactMethod.user_id == user_id)
                                      .order_by(ContactMethod.id)).scalars())
    names = {m.id: m.name for m in methods}
    rules = db.session.execute(select(NotificationRule).where(NotificationRule.user_id == user_id)
                               .order_by(NotificationRule.after_minutes, NotificationRule.id)).scalars()
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active,
            "time_zone": user.time_zone, "language": user.language,
            "password": hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16],
            "second_factors": {"authenticator_app": user.totp_secret is not None, "passkeys": [
                name for (name,) in db.session.execute(select(Passkey.name).where(Passkey.user_id == user_id)
                                                       .order_by(Passkey.id))]},
            "handoff_notices": bool(user.handoff_notices),
            "slack_accounts": [f"{i.name or i.slack_user_id} ({i.team_id})" for i in db.session.execute(
                select(SlackIdentity).where(SlackIdentity.user_id == user_id).order_by(SlackIdentity.id)).scalars()],
            "calendar_feeds": [schedule or "own shifts" for (schedule,) in db.session.execute(
                select(ScheduleRow.name).select_from(CalendarFeed).outerjoin(
                    ScheduleRow, ScheduleRow.id == CalendarFeed.schedule_id).where(
                    CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)).order_by(CalendarFeed.id))],
            "contact_methods": [_method(m) for m in methods],
            "notification_rules": [{"contact_method": names.get(r.contact_method_id), "after_minutes": r.after_minutes,
                                    "urgency": r.urgencies.split(",")} for r in rules]}


audit.trackable("user", user_doc)
