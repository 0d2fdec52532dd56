"""Issue 18, item 5: a shadow run. Incidents open as usual and nobody is paged: every
notification is held, at the moment it would have gone out, and listed per day. With real
parts on loopback (an SMTP server, a Twilio-compatible API, a webhook receiver), on both
databases, and a controlled clock (``now``: the ingest clock; the jobs get theirs)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from helpers import ALERTMANAGER, T0, firing, post, run_jobs
from receivers import WebhookReceiver
from sqlalchemy import text

from callgoose import clock
from callgoose.engine import SpecError, export_config, parse_config
from callgoose.engine.shadow import Held, by_day, window
from callgoose.extensions import db
from callgoose.services import checks, drills, shadow
from callgoose.services.catalog import current_config, import_config

BASE = "http://callgoose.test"
SECRET = "s3cret-s3cret-s3cret"


def document(*, shadow_on=True, hook=None, more_services=()):
    """Ana (mail at 0 min, SMS at 2 min) at level 1, Bo (mail) at level 2 after 5 minutes, for
    checkout-api; a service webhook when ``hook`` is a URL."""
    service = {**ALERTMANAGER, "escalation_policy": "checkout", **({"shadow": True} if shadow_on else {})}
    if hook:
        service["webhooks"] = [{"url": hook, "secret": SECRET}]
    return {
        "users": [
            {"email": "ana@example.com", "name": "Ana", "contact_methods": [
                {"name": "mail", "type": "email", "address": "ana@example.com"},
                {"name": "phone", "type": "sms", "address": "+14155550100"}],
             "notification_rules": [{"contact_method": "mail", "after_minutes": 0},
                                    {"contact_method": "phone", "after_minutes": 2}]},
            {"email": "bo@example.com", "name": "Bo", "contact_methods": [
                {"name": "mail", "type": "email", "address": "bo@example.com"}]}],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]},
            {"escalate_after_minutes": 5, "targets": [{"user": "bo@example.com"}]}]}],
        "services": [service, *more_services]}


def configure(app, doc):
    with app.app_context():
        import_config(doc, clock.now())


def outbox(setup):
    """(kind, channel, target, status, level, finished_at as epoch seconds) of every row, in order."""
    return [(r[0], r[1], r[2], r[3], r[4], clock.from_db(_dt(r[5])))
            for r in setup.query("SELECT kind, channel, target, status, level, finished_at FROM notifications "
                                 "ORDER BY id")]


def _dt(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def nothing_arrived(smtp, twilio, receiver=None):
    return smtp.mailbox.messages == [] and twilio.messages == [] and twilio.calls == [] and (
        receiver is None or receiver.requests == [])


# -- the configuration document ---------------------------------------------------------

def test_shadow_is_part_of_the_configuration_document_both_ways():
    specs = parse_config({"services": [{"name": "a", "shadow": True}, {"name": "b"}, {"name": "c", "shadow": False}]})
    assert [s.shadow for s in specs] == [True, False, False]
    exported = export_config(specs)["services"]
    assert exported[0]["shadow"] is True and "shadow" not in exported[1] and "shadow" not in exported[2]
    assert [s.shadow for s in parse_config(export_config(specs))] == [True, False, False]
    with pytest.raises(SpecError) as refused:
        parse_config({"services": [{"name": "a", "shadow": "yes"}]})
    assert refused.value.path == "services[0].shadow"


def test_an_imported_shadow_run_is_stored_and_exported(dbapp):
    configure(dbapp, document())
    with dbapp.app_context():
        exported = current_config()
        assert [s.get("shadow") for s in exported["services"]] == [True]
        configure(dbapp, document(shadow_on=False))
        assert "shadow" not in current_config()["services"][0]


# -- the hot path and the worker --------------------------------------------------------

def test_a_shadow_incident_opens_as_usual_and_everything_it_would_page_is_held(paging_app, setup_for, smtp, twilio,
                                                                                now):
    setup = setup_for(paging_app)
    with WebhookReceiver(SECRET) as receiver:
        configure(paging_app, document(hook=receiver.url))
        token = setup.token()
        client = paging_app.test_client()
        assert post(client, token, firing("g1", "Disk full")).status_code == 201
        assert setup.query("SELECT status, shadow FROM incidents") == [("triggered", True)]
        listed = client.get("/v1/incidents", headers={"Authorization": f"Bearer {token}"}).get_json()["incidents"]
        assert listed[0]["shadow"] is True and listed[0]["title"] == "Disk full"
        # Everything is queued exactly as without a shadow run: Ana's mail now, her SMS at 2 minutes,
        # the webhook's event.
        assert [r[:5] for r in outbox(setup)] == [
            ("page", "email", "ana@example.com", "pending", 0), ("page", "sms", "+14155550100", "pending", 0),
            ("event", "webhook", receiver.url, "pending", None)]

        run_jobs(paging_app, T0 + 7)
        held = outbox(setup)
        assert [(r[1], r[3], r[5]) for r in held] == [("email", "shadow", T0 + 7), ("sms", "pending", None),
                                                      ("webhook", "shadow", T0 + 7)]
        run_jobs(paging_app, T0 + 125)  # the SMS comes due at 2 minutes: held then, when it would have gone
        assert outbox(setup)[1][3:] == ("shadow", 0, T0 + 125)
        run_jobs(paging_app, T0 + 5 * 60 - 1)  # level 1 has 5 minutes
        assert [r for r in outbox(setup) if r[2] == "bo@example.com"] == []
        run_jobs(paging_app, T0 + 5 * 60 + 1)  # level 2 is queued on its timer, and held in the same tick
        level_two = [r for r in outbox(setup) if r[2] == "bo@example.com"]
        assert level_two == [("page", "email", "bo@example.com", "shadow", 1, T0 + 5 * 60 + 1)]
        assert [r[0] for r in setup.query("SELECT kind FROM incident_events ORDER BY id")] == ["created", "escalated"]
        assert nothing_arrived(smtp, twilio, receiver)
    # Every row ended held: the pages, both levels, and the webhook's two events.
    assert setup.query("SELECT kind, event, status FROM notifications WHERE kind = 'event' ORDER BY id") == [
        ("event", "incident.triggered", "shadow"), ("event", "incident.escalated", "shadow")]
    assert setup.query("SELECT count(*) FROM notifications WHERE status != 'shadow'") == [(0,)]


def test_acknowledging_a_shadow_incident_stops_its_held_pages_like_real_ones(paging_app, setup_for, smtp, twilio,
                                                                            now):
    setup = setup_for(paging_app)
    configure(paging_app, document())
    token = setup.token()
    client = paging_app.test_client()
    assert post(client, token, firing("g1")).status_code == 201
    run_jobs(paging_app, T0 + 1)  # Ana's mail: held
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    now.set(60)
    assert client.post(f"/v1/incidents/{incident_id}/acknowledge",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for at in (61, 125, 5 * 60 + 2, 30 * 60):
        run_jobs(paging_app, T0 + at)
    rows = outbox(setup)
    # The SMS at 2 minutes was cancelled, as a real one would be; no level 2. Bo was never (as
    # good as) paged, and Ana acknowledged herself through the API (a token): she would have
    # heard "acknowledged by" as any paged person does, so that is held too.
    assert [(r[0], r[1], r[3]) for r in rows] == [("page", "email", "shadow"), ("page", "sms", "cancelled"),
                                                  ("acknowledged", "email", "shadow")]
    assert setup.query("SELECT state FROM incident_escalations") == [("stopped",)]
    assert nothing_arrived(smtp, twilio)


def test_leaving_the_shadow_run_pages_from_the_next_incident_and_the_open_one_stays_held(paging_app, setup_for,
                                                                                           smtp, twilio, now):
    setup = setup_for(paging_app)
    configure(paging_app, document())
    token = setup.token()
    client = paging_app.test_client()
    assert post(client, token, firing("old")).status_code == 201
    run_jobs(paging_app, T0 + 1)
    with paging_app.app_context():
        service_id = setup.query("SELECT id FROM services WHERE name = 'checkout-api'")[0][0]
        assert shadow.set_shadow(service_id, False) == "checkout-api"
    now.set(10)
    assert post(client, token, firing("new", "Disk full")).status_code == 201
    run_jobs(paging_app, T0 + 11)
    mails = smtp.mailbox.wait(1)
    assert [m["To"] for m in mails] == ["ana@example.com"] and "Disk full" in mails[0]["Subject"]
    assert setup.query("SELECT mapping_value, shadow FROM incidents ORDER BY id") == [("old", True), ("new", False)]
    for at in (125, 5 * 60 + 2, 5 * 60 + 12):  # both escalate: the old one's level 2 is held, the new one's sent
        run_jobs(paging_app, T0 + at)
    by_incident = setup.query("SELECT i.mapping_value, n.channel, n.target, n.status FROM notifications n "
                              "JOIN incidents i ON i.id = n.incident_id ORDER BY n.id")
    assert [r for r in by_incident if r[0] == "old"] == [
        ("old", "email", "ana@example.com", "shadow"), ("old", "sms", "+14155550100", "shadow"),
        ("old", "email", "bo@example.com", "shadow")]
    assert [r for r in by_incident if r[0] == "new"] == [
        ("new", "email", "ana@example.com", "sent"), ("new", "sms", "+14155550100", "sent"),
        ("new", "email", "bo@example.com", "sent")]
    assert len(smtp.mailbox.wait(2)) == 2 and len(twilio.messages) == 1


def test_held_rows_do_not_count_against_a_contact_methods_rate_limit(paging_app, setup_for, smtp, twilio, now):
    """A shadow page to Ana at 1 s, then a real one at 5 s: the real mail goes at once (a held
    row is not a send, so the method's one-a-minute limit is not taken by it)."""
    setup = setup_for(paging_app)
    live = {**ALERTMANAGER, "name": "payments", "escalation_policy": "checkout"}
    configure(paging_app, document(more_services=[live]))
    client = paging_app.test_client()
    assert post(client, setup.token("old", service="checkout-api"), firing("g1", "shadowed")).status_code == 201
    run_jobs(paging_app, T0 + 1)
    assert setup.query("SELECT last_sent_at FROM contact_methods WHERE address = 'ana@example.com'") == [(None,)]
    now.set(5)
    assert post(client, setup.token("new", service="payments"), firing("g1", "real")).status_code == 201
    run_jobs(paging_app, T0 + 6)
    mails = smtp.mailbox.wait(1)
    assert len(mails) == 1 and "real" in mails[0]["Subject"] and "shadowed" not in mails[0]["Subject"]
    assert [r[3] for r in outbox(setup) if r[1] == "email"] == ["shadow", "sent"]


def test_the_whole_install_in_shadow_mode_pages_nobody_but_tests_and_drills_still_go(make_app, database_url,
                                                                                     tmp_path, setup_for, smtp,
                                                                                     monkeypatch, now):
    monkeypatch.setenv("CALLGOOSE_SHADOW", "true")  # read as JSON, like every CALLGOOSE_ setting
    app = make_app(database_url, tmp_path, BASE_URL=BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                   MAIL_FROM="pager@callgoose.test")
    assert app.config["SHADOW"] is True
    setup = setup_for(app)
    configure(app, document(shadow_on=False))
    client = app.test_client()
    assert post(client, setup.token(), firing("g1")).status_code == 201
    run_jobs(app, T0 + 1)
    assert setup.query("SELECT shadow FROM incidents") == [(True,)]
    assert [r[3] for r in outbox(setup)] == ["shadow", "pending"]
    with app.app_context():
        exported = current_config()["services"][0]
    assert "shadow" not in exported  # the service's own choice, not the install's setting
    # A test notification and a fire drill are a person's explicit actions: they go.
    with app.app_context():
        ana, mail = setup.query("SELECT m.user_id, m.id FROM contact_methods m WHERE m.address = 'ana@example.com'")[0]
        assert checks.send_test(ana, mail, T0 + 2) is not None
        drill = drills.add(f"user:{ana}", "mon", "1", "14:00", "Europe/Berlin", None, T0)
        assert drills.run_now(drill.id, T0 + 3) is not None
    run_jobs(app, T0 + 4)
    subjects = [m["Subject"] for m in smtp.mailbox.wait(2)]
    assert len(subjects) == 2 and any("Fire drill" in s for s in subjects), subjects


def test_a_setting_that_is_not_true_or_false_stops_the_start(make_app, sqlite_url, tmp_path):
    with pytest.raises(ValueError, match="SHADOW must be true or false"):
        make_app(sqlite_url, tmp_path, SHADOW="on")


# -- what people see -----------------------------------------------------------------------

def test_days_are_the_readers_and_newest_first():
    zone = ZoneInfo("America/New_York")
    at = [datetime(2027, 3, 14, 3, 30, tzinfo=timezone.utc),  # 13 March, 22:30 in New York
          datetime(2027, 3, 14, 6, 10, tzinfo=timezone.utc),  # 14 March, 01:10
          datetime(2027, 3, 14, 5, 0, tzinfo=timezone.utc)]  # 14 March, midnight
    items = [Held(i, t, 1, "sms", "page", None, 0, 7, "Disk full", "checkout-api") for i, t in enumerate(at)]
    days = by_day(items, zone)
    assert [(d.day.isoformat(), [h.id for h in d.items]) for d in days] == [("2027-03-14", [1, 2]),
                                                                           ("2027-03-13", [0])]
    start, end = window(days[0].day, zone, days=1)
    assert (end - start).total_seconds() == 23 * 3600  # the day the clocks go forward


def test_the_ledger_the_incident_and_the_shadow_page_say_what_would_have_paged(paging_app, setup_for, add_user,
                                                                              sign_in, smtp, twilio, now):
    setup = setup_for(paging_app)
    configure(paging_app, document())
    client = paging_app.test_client()
    # Ana reads in Berlin: T0 is 08:00 UTC, 09:00 there; the SMS is held at 02:30 UTC the next day.
    email, password = add_user(paging_app, "ops@example.com")
    with paging_app.app_context():
        db.session.execute(text("UPDATE users SET time_zone = 'Europe/Berlin' WHERE email = 'ops@example.com'"))
        db.session.commit()
    sign_in(client, email, password)
    empty = client.get("/shadow").get_data(as_text=True)
    assert 'id="shadow-empty"' in empty and "CALLGOOSE_SHADOW=true" in empty
    assert post(client, setup.token(), firing("g1", "Disk full")).status_code == 201
    run_jobs(paging_app, T0 + 60)  # 09:01 in Berlin
    run_jobs(paging_app, T0 + 18.5 * 3600)  # the SMS (due at 2 min) held late: a worker that was away
    ledger = client.get("/notifications?status=shadow").get_data(as_text=True)
    assert "would have paged Ana by email at 09:01" in ledger
    assert "would have paged Ana by SMS at 03:30" in ledger
    assert '<option value="shadow" selected>held: shadow run</option>' in ledger
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="shadow-run"' in page and "would have paged Ana by SMS at 03:30" in page
    assert 'title="shadow run: nobody is paged">Shadow</span>' in client.get("/incidents").get_data(as_text=True)
    now.set(86400 + 3600)
    listed = client.get("/shadow").get_data(as_text=True)
    days = re.findall(r'<h2 id="day-([0-9-]+)">', listed)
    assert days == ["2027-01-16", "2027-01-15"]  # newest first, in Berlin's days
    second = listed.split('id="day-2027-01-15"')[1]
    assert "09:01" in second and f'href="/incidents/{incident_id}"' in second and "checkout-api" in second
    assert "level 1" in second and "Ana" in second
    assert "03:30" in listed.split('id="day-2027-01-16"')[1].split('id="day-2027-01-15"')[0]
    assert nothing_arrived(smtp, twilio)


def test_the_services_pages_say_so_and_an_admin_switches_it(paging_app, setup_for, add_user, sign_in, now):
    setup = setup_for(paging_app)
    configure(paging_app, document())
    client = paging_app.test_client()
    sign_in(client, *add_user(paging_app))
    service_id = setup.query("SELECT id FROM services")[0][0]
    assert "shadow run: nobody is paged" in client.get("/services").get_data(as_text=True)
    page = client.get(f"/services/{service_id}").get_data(as_text=True)
    assert 'id="shadow-banner"' in page and "Pages will start from the next incident" in page
    done = client.post(f"/services/{service_id}/shadow", data={"shadow": "off"}, follow_redirects=True)
    assert "pages again from its next incident" in done.get_data(as_text=True)
    assert setup.query("SELECT shadow FROM services") == [(False,)]
    assert "shadow run: nobody is paged" not in client.get("/services").get_data(as_text=True)
    assert client.post(f"/services/{service_id}/shadow", data={"shadow": "on"}).status_code == 302
    assert setup.query("SELECT shadow FROM services") == [(True,)]
    assert client.post("/services/999/shadow", data={"shadow": "on"}).status_code == 404


def test_a_config_export_names_nothing_else_new():
    """The document keeps its shape: a service that is not in a shadow run exports as before."""
    doc = export_config(parse_config({"services": [ALERTMANAGER]}))
    assert json.dumps(doc).count("shadow") == 0


def test_a_missed_heartbeat_in_an_install_in_shadow_mode_opens_a_shadow_incident(make_app, database_url, tmp_path,
                                                                                 setup_for, now):
    """The heartbeat job opens incidents outside any request: it reads the setting too."""
    from callgoose.jobs import heartbeats as heartbeats_job

    app = make_app(database_url, tmp_path, SHADOW=True)
    setup = setup_for(app)
    beat = {"name": "nightly-db", "conditions": [{"json_key": "job", "contains": ["db-backup"]}],
            "every_minutes": 60, "grace_minutes": 10}
    doc = document(shadow_on=False)
    doc["services"][0]["heartbeats"] = [beat]
    configure(app, doc)
    with app.test_client() as client:
        assert post(client, setup.token(), {"job": "db-backup"}).status_code == 202
    with app.app_context():
        for at in (3600, 4200):
            heartbeats_job.run(db.engine, app.config, T0 + at)
    assert setup.query("SELECT title LIKE 'Heartbeat nightly-db%', shadow FROM incidents") == [(True, True)]
    run_jobs(app, T0 + 4201)
    assert [r[3] for r in outbox(setup)] == ["shadow", "pending"]
