"""Isolation issue, the dashboard's part: what responders may read, escalation policies that
target schedules, times in the reader's zone, and the smaller defects of the paging pages."""

from __future__ import annotations

import re

from helpers import ALERTMANAGER

from sqlalchemy import text

from callgoose import clock
from callgoose.extensions import db
from callgoose.services.catalog import import_config
from callgoose.services.paging import INSERT_NOTIFICATION, notification


def queue(app, now: float, **values) -> None:
    """One outbox row, as services.paging writes it (pending until its fields say otherwise)."""
    row = notification(clock.to_db(now), **values)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(INSERT_NOTIFICATION.sqlite), row)


def user_id(setup, email):
    return setup.query("SELECT id FROM users WHERE email = :e", e=email)[0][0]


def test_a_responder_cannot_export_webhook_secrets_or_read_others_addresses(app, setup, client, add_user, sign_in):
    doc = {"users": [{"email": "ana@example.com",
                      "contact_methods": [{"name": "phone", "type": "sms", "address": "+14155550100"}]}],
           "escalation_policies": [{"name": "p", "levels": [
               {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
           "services": [{**ALERTMANAGER, "escalation_policy": "p"}]}
    with app.app_context():
        import_config(doc, clock.now())
    add_user(app)
    sign_in(client, *add_user(app, "ri@example.com", admin=False))
    ana = user_id(setup, "ana@example.com")
    method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=ana)[0][0]
    queue(app, clock.now(), kind="test", channel="sms", target="+14155550100", user_id=ana, contact_method_id=method)
    assert client.get("/services/export").status_code == 403
    ledger = client.get("/notifications").get_data(as_text=True)
    assert "ana@example.com" in ledger and "+14155550100" not in ledger  # who, not where


def test_my_notifications_names_the_active_user_a_code_went_to(app, setup, client, add_user, sign_in):
    sign_in(client, *add_user(app))
    admin = user_id(setup, "admin@example.com")
    method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=admin)[0][0]
    queue(app, clock.now(), kind="verify", channel="email", target="admin@example.com", user_id=admin,
          contact_method_id=method)
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "a deleted user" not in page
    assert re.search(r"Verification code\s+to admin@example\.com\s+by email", page)
