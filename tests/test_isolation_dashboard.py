"""Isolation issue, the dashboard's part: what responders may read, escalation policies that
target schedules, times in the reader's zone, and the smaller defects of the paging pages."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from helpers import ALERTMANAGER, firing, post
from sqlalchemy import text

import callgoose
from callgoose import clock
from callgoose.engine.policy_form import in_words
from callgoose.extensions import db
from callgoose.services import outbox
from callgoose.services.catalog import import_config
from callgoose.services.paging import INSERT_NOTIFICATION, notification
from callgoose.services.users import set_profile, toggle_active
from callgoose.store.transactions import run_write


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
           "services": [{**ALERTMANAGER, "escalation_policy": "p", "webhooks": [
               {"url": "https://hooks.slack.com/services/T1/B2/sekrit", "secret": "0123456789abcdef",
                "events": ["incident.triggered"], "format": "slack"}]}]}
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
    service = client.get(f"/services/{setup.query('SELECT id FROM services')[0][0]}").get_data(as_text=True)
    assert "hooks.slack.com" in service and "sekrit" not in service  # a Slack URL's path is its credential


def test_my_notifications_names_the_active_user_a_code_went_to(app, setup, client, add_user, sign_in):
    sign_in(client, *add_user(app))
    admin = user_id(setup, "admin@example.com")
    method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=admin)[0][0]
    queue(app, clock.now(), kind="verify", channel="email", target="admin@example.com", user_id=admin,
          contact_method_id=method)
    page = client.get("/notifications/me").get_data(as_text=True)
    assert "a deleted user" not in page
    assert re.search(r"Verification code\s+to admin@example\.com\s+by email", page)


def posted(page: str) -> dict:
    """A form's fields as a browser posts them: inputs and every selected option of each select."""
    fields: dict[str, list[str]] = {}
    for m in re.finditer(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"', page):
        fields.setdefault(m[1], []).append(html.unescape(m[2]))
    for name, options in re.findall(r'<select[^>]*\bname="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        fields.setdefault(name, []).extend(re.findall(r'<option value="([^"]+)"\s*selected>', options))
    fields.pop("csrf_token", None)
    return fields


ROTA = {"users": [{"email": e} for e in ("ana@example.com", "bo@example.com")],
        "schedules": [{"name": "rota", "time_zone": "Europe/Berlin", "layers": [
            {"name": "weekly", "users": ["ana@example.com", "bo@example.com"], "start": "2026-10-05T09:00",
             "shift": {"unit": "weeks", "count": 1}}]}],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"schedule": "rota"}]},
            {"escalate_after_minutes": 10, "targets": [{"user": "bo@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


def test_the_policy_form_keeps_and_offers_schedule_targets(app, setup, client, add_user, sign_in):
    with app.app_context():
        import_config(ROTA, clock.now())
    sign_in(client, *add_user(app))
    policy = setup.query("SELECT id FROM escalation_policies")[0][0]
    rota = setup.query("SELECT id FROM schedules")[0][0]
    fields = posted(client.get(f"/policies/{policy}").get_data(as_text=True))
    assert fields["level0_schedules"] == [str(rota)] and fields["level0_users"] == []
    assert client.post(f"/policies/{policy}", data=fields).status_code == 302  # saved unchanged
    exported = json.loads(client.get("/services/export").get_data(as_text=True))
    assert exported["escalation_policies"][0]["levels"] == ROTA["escalation_policies"][0]["levels"]
    # A schedule chosen in the form: level 2 pages whoever is on call in the rota, and Bo.
    fields["level1_schedules"] = [str(rota)]
    assert client.post(f"/policies/{policy}", data=fields).status_code == 302
    exported = json.loads(client.get("/services/export").get_data(as_text=True))
    assert exported["escalation_policies"][0]["levels"][1]["targets"] == [{"user": "bo@example.com"},
                                                                          {"schedule": "rota"}]
    assert "whoever is on call in rota" in client.get(f"/policies/{policy}").get_data(as_text=True)


def test_a_refused_policy_form_keeps_what_was_typed_and_names_the_fault_in_words(app, setup, client, add_user,
                                                                                    sign_in):
    with app.app_context():
        import_config(ROTA, clock.now())
    sign_in(client, *add_user(app))
    policy = setup.query("SELECT id FROM escalation_policies")[0][0]
    fields = posted(client.get(f"/policies/{policy}").get_data(as_text=True))
    bad = client.post(f"/policies/{policy}", data={**fields, "name": "checkout two", "level1_after": "0",
                                                    "repeat": "3"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "level 2, minutes to the next level: must be a whole number of minutes from 1" in page
    assert "levels[" not in page
    again = posted(page)
    assert again["name"] == ["checkout two"] and again["level1_after"] == ["0"] and again["repeat"] == ["3"]
    assert again["level0_schedules"] == fields["level0_schedules"] and again["level1_users"] == fields["level1_users"]
    assert setup.query("SELECT name FROM escalation_policies") == [("checkout",)]  # nothing saved
    gone = client.post(f"/policies/{policy}", data={**fields, "level1_users": ["999999"]}).get_data(as_text=True)
    assert "level 2, target 1: user 999999 does not exist" in gone


def test_a_deactivated_users_calendar_feeds_stop_working(app, setup, client, add_user, sign_in):
    with app.app_context():
        import_config(ROTA, clock.now())
    add_user(app)
    email, password = add_user(app, "ri@example.com", admin=False)
    sign_in(client, email, password)
    rota = setup.query("SELECT id FROM schedules")[0][0]
    feeds = [re.search(r"http://localhost(/ical/cal_[\w-]+\.ics)",
                       client.post("/calendar-feeds", data=data, follow_redirects=True).get_data(as_text=True))[1]
             for data in ({}, {"schedule_id": rota})]
    anonymous = app.test_client()
    assert [anonymous.get(f).status_code for f in feeds] == [200, 200]
    with app.app_context():
        toggle_active(user_id(setup, email), user_id(setup, "admin@example.com"))
    assert [anonymous.get(f).status_code for f in feeds] == [404, 404]


def test_every_pattern_attribute_compiles_in_chromium_and_refuses_what_it_should(browser):
    """Chromium compiles a pattern with the ``v`` flag (a ``-`` in a class must be escaped); a
    pattern that does not compile is ignored and the input takes anything."""
    found = {p for path in (Path(callgoose.__file__).parent / "templates").rglob("*.html")
             for p in re.findall(r'\bpattern="([^"{]+)"', path.read_text())}
    assert len(found) >= 2
    page = browser.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text))
    for pattern in sorted(found):
        page.set_content(f'<input id="f" pattern="{html.escape(pattern)}">')
        field = page.locator("#f")
        field.fill("no spaces or !")
        assert field.evaluate("e => e.validity.patternMismatch"), pattern
        field.fill("checkout-api.2" if "A-Z" in pattern else "12")
        assert field.evaluate("e => e.validity.valid"), pattern
    assert problems == []


def test_a_personal_webhook_to_loopback_saves_with_the_guards_warning(app, setup, client, add_user, sign_in):
    sign_in(client, *add_user(app, "ri@example.com", admin=False))
    page = client.post("/notifications/me/methods", data={"name": "hook", "type": "webhook",
                                                           "address": "http://127.0.0.1:9/hook"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Added hook." in page
    assert "Warning: The URL 127.0.0.1 is a loopback, private or link-local address" in page
    fine = client.post("/notifications/me/methods", data={"name": "mail", "type": "email",
                                                          "address": "ri+2@example.com"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Added mail." in fine and "Warning:" not in fine


def test_every_time_on_the_paging_pages_is_in_the_readers_zone(app, setup, client, add_user, sign_in, now):
    """T0 is 2027-01-15 08:00 UTC: 03:00 in New York, where this reader lives."""
    setup.services(ALERTMANAGER)
    credentials = add_user(app)
    admin = user_id(setup, "admin@example.com")
    with app.app_context():
        set_profile(admin, "Ada", "America/New_York")
    sign_in(client, *credentials)
    method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=admin)[0][0]
    client.post(f"/notifications/me/methods/{method}/verify")  # an admin's word
    client.post("/policies/new", data={"name": "two", "level0_users": [admin], "level0_after": "5",
                                       "level1_users": [admin], "level1_after": "5"})
    service_id = setup.query("SELECT id FROM services")[0][0]
    client.post(f"/services/{service_id}/policy",
                data={"policy_id": setup.query("SELECT id FROM escalation_policies")[0][0]})
    assert post(client, setup.token(), firing("g1")).status_code == 201
    def shown(path):  # what a person reads (a <time>'s datetime attribute is for machines)
        return re.sub(r'datetime="[^"]*"', "", client.get(path).get_data(as_text=True))
    incident = shown(f"/incidents/{setup.query('SELECT id FROM incidents')[0][0]}")
    assert re.search(r"Next:</strong> level 2: Ada at 03:05:00 EST", incident)
    assert "08:0" not in incident and "UTC" not in incident
    ledger = shown("/notifications")
    assert "queued 03:00:00" in ledger and "America/New_York" in ledger and "08:0" not in ledger
    calls = shown("/calls")
    assert "2027-01-15 03:00:00 EST" in calls and "UTC" not in calls
    call_id = re.search(r'href="/calls/([\w-]+)"', calls)[1]
    call = shown(f"/calls/{call_id}")
    assert "2027-01-15 03:00:00 EST" in call and "UTC" not in call
    # The maintenance form reads and shows times in the same zone.
    client.post(f"/services/{service_id}/maintenance", data={"action": "start", "starts": "2027-01-16T10:00",
                                                             "until": "2027-01-16T12:00", "tags": ""})
    service = shown(f"/services/{service_id}")
    assert "2027-01-16 10:00 EST until 2027-01-16 12:00 EST" in service and "UTC" not in service
    assert str(setup.query("SELECT starts_at FROM maintenance_windows")[0][0]).startswith("2027-01-16 15:00")


def test_a_new_schedule_covers_now_and_a_start_ahead_is_warned_of(app, setup, client, add_user, sign_in, now):
    """T0 is Friday 2027-01-15 03:00 in New York: the new rota starts Monday 2027-01-11 09:00 there."""
    credentials = add_user(app)
    with app.app_context():
        set_profile(user_id(setup, "admin@example.com"), "", "America/New_York")
    sign_in(client, *credentials)
    page = client.get("/schedules/new").get_data(as_text=True)
    start = re.search(r'name="layers-0-start"[^>]*value="([^"]+)"', page)[1]
    zone = re.search(r'name="time_zone"[^>]*value="([^"]+)"', page)[1]
    assert (start, zone) == ("2027-01-11T09:00", "America/New_York")
    began = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone)).timestamp()
    assert began <= now.value < began + 7 * 86400
    fields = {"name": "nights", "time_zone": zone, "layers-0-name": "weekly", "layers-0-users": credentials[0],
              "layers-0-start": start, "layers-0-unit": "weeks", "layers-0-count": "1", "action": "save"}
    saved = client.post("/schedules/new", data=fields, follow_redirects=True).get_data(as_text=True)
    assert "Schedule saved." in saved and "Nobody is on call" not in saved
    later = client.post("/schedules/new", data={**fields, "name": "later", "layers-0-start": "2027-01-18T09:00"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Nobody is on call in this schedule until 2027-01-18 09:00 EST: its first shift starts then." in later


def test_an_override_cannot_put_a_deactivated_user_on_call(app, setup, client, add_user, sign_in, now):
    with app.app_context():
        import_config(ROTA, clock.now())
    sign_in(client, *add_user(app))
    with app.app_context():
        toggle_active(user_id(setup, "bo@example.com"), user_id(setup, "admin@example.com"))
    rota = setup.query("SELECT id FROM schedules")[0][0]
    refused = client.post(f"/schedules/{rota}/overrides", data={
        "user": user_id(setup, "bo@example.com"), "start": "2027-01-20T09:00", "end": "2027-01-21T09:00",
        "tz": "Europe/Berlin"}, follow_redirects=True).get_data(as_text=True)
    assert "bo@example.com is deactivated: an override cannot put them on call" in refused
    doc = {**ROTA, "schedules": [{**ROTA["schedules"][0], "overrides": [
        {"user": "ana@example.com", "start": "2027-01-20T09:00:00Z", "end": "2027-01-21T09:00:00Z"},
        {"user": "bo@example.com", "start": "2027-01-22T09:00:00Z", "end": "2027-01-23T09:00:00Z"}]}]}
    imported = client.post("/services/import", data={"config": json.dumps(doc)})
    assert imported.status_code == 422
    assert ("schedules[0].overrides[1].user: bo@example.com is deactivated: an override cannot put them on call"
            in imported.get_data(as_text=True))
    assert setup.query("SELECT count(*) FROM schedule_overrides") == [(0,)]


def test_a_page_held_by_the_rate_limit_says_so_and_until_when(app, setup, client, add_user, sign_in, now):
    """T0 is 08:00:00 UTC; the method sent at 07:59:50, so the next message waits until 08:00:50."""
    setup.services(ALERTMANAGER)
    assert post(client, setup.token(), firing("g1")).status_code == 201  # no policy: nobody paged yet
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    credentials = add_user(app)
    admin = user_id(setup, "admin@example.com")
    method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=admin)[0][0]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE contact_methods SET verified_at = :t, last_sent_at = :t WHERE id = :m"),
                     {"t": clock.to_db(now.value - 10), "m": method})
    queue(app, now.value, kind="page", channel="email", target="admin@example.com", user_id=admin,
          contact_method_id=method, level=0, incident_id=incident_id)
    with app.app_context():
        assert run_write(db.engine, lambda cursor: outbox.claim(cursor, now.value)).postponed == 1
    sign_in(client, *credentials)
    ledger = client.get("/notifications").get_data(as_text=True)
    assert "held by the rate limit until 08:00:50" in ledger
    incident = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Paged: admin@example.com by email (held by the rate limit until 08:00:50)" in incident


def test_the_token_tabs_test_call_names_who_it_would_page_before_sending(app, setup, client, add_user, sign_in):
    setup.services(ALERTMANAGER)
    sign_in(client, *add_user(app))
    quiet = client.post("/tokens", data={"name": "quiet", "service": ""}, follow_redirects=True).get_data(as_text=True)
    assert "Send a test call with this token" in quiet and "hx-confirm" not in quiet.split("new-token")[1]
    assert "No escalation policy pages anyone for it now, so nobody is paged." in quiet
    admin = user_id(setup, "admin@example.com")
    method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=admin)[0][0]
    client.post(f"/notifications/me/methods/{method}/verify")
    client.post("/policies/new", data={"name": "p", "level0_users": [admin], "level0_after": "5"})
    service_id = setup.query("SELECT id FROM services")[0][0]
    client.post(f"/services/{service_id}/policy",
                data={"policy_id": setup.query("SELECT id FROM escalation_policies")[0][0]})
    loud = client.post("/tokens", data={"name": "loud", "service": str(service_id)},
                       follow_redirects=True).get_data(as_text=True)
    assert "It opens a real incident, and that pages admin@example.com at once" in loud
    assert re.search(r'hx-confirm="[^"]*pages admin@example.com', loud)


def test_a_policy_fault_is_named_as_the_form_counts_levels_and_targets():
    assert in_words("levels[1].targets[0]") == "level 2, target 1"
    assert in_words("levels[0].targets[3].schedule") == "level 1, target 4"
    assert in_words("levels[2].escalate_after_minutes") == "level 3, minutes to the next level"
    assert in_words("levels[0].targets") == "level 1"
    assert (in_words("name"), in_words("repeat"), in_words("levels")) == ("name", "repeat", "levels")
