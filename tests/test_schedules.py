"""Issue 9: schedules as configuration, the JSON API, and escalation through a schedule."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from helpers import ALERTMANAGER, firing
from receivers import SmtpServer

from callgoose import clock
from callgoose.extensions import db
from callgoose.jobs import deliver, escalate
from callgoose.services.catalog import import_config
from callgoose.services.ingestion import open_call, process_call

ZONE = "Europe/Berlin"
TEAM = ["ana@example.com", "bo@example.com", "cy@example.com"]


def local(text: str, zone: str = ZONE) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def iso(epoch: float) -> str:
    return clock.iso(clock.to_db(epoch))


def team_document(extra_levels=(), schedule_overrides=None) -> dict:
    """The issue's team of three: a weekly rotation, a weekday-daytime layer over it, a holiday."""
    return {
        "users": [{"email": e, "contact_methods": [{"name": "mail", "type": "email", "address": e}]} for e in TEAM],
        "schedules": [{
            "name": "checkout", "time_zone": ZONE,
            "layers": [
                {"name": "weekly", "users": list(TEAM), "start": "2026-10-05T09:00", "shift": {"unit": "weeks", "count": 1}},
                {"name": "daytime", "users": ["cy@example.com"], "start": "2026-10-05T09:00",
                 "shift": {"unit": "days", "count": 1},
                 "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]},
            ],
            "overrides": schedule_overrides if schedule_overrides is not None else [
                {"user": "bo@example.com", "start": "2026-12-24T00:00:00+01:00", "end": "2026-12-27T00:00:00+01:00"}],
        }],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"schedule": "checkout"}]}, *extra_levels]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}],
    }


@pytest.fixture
def team(app):
    with app.app_context():
        import_config(team_document(), clock.now())
    return app


def get(client, token, path):
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def test_who_is_on_call_and_until(team, setup, client):
    token = setup.token()
    assert get(client, token, "/v1/schedules") == (200, {"schedules": [{"name": "checkout", "time_zone": ZONE}]})
    # Sunday 25 October, 03:00 local (the autumn change's night): the weekly layer's third week,
    # cy; on Monday at 09:00 the daytime layer (cy again) takes over, so the set changes at 17:00.
    status, body = get(client, token, "/v1/schedules/checkout/oncall?at=2026-10-25T03:00:00%2B01:00")
    assert status == 200 and body["users"] == ["cy@example.com"]
    assert body["at"] == iso(local("2026-10-25T03:00")) and body["until"] == iso(local("2026-10-26T17:00"))
    # Tuesday noon: the daytime layer wins; at 17:00 the weekly one shows through again.
    status, body = get(client, token, "/v1/schedules/checkout/oncall?at=2026-10-27T12:00:00Z")
    assert body["users"] == ["cy@example.com"] and body["until"] == iso(local("2026-10-27T17:00"))
    # The holiday override.
    status, body = get(client, token, "/v1/schedules/checkout/oncall?at=2026-12-25T12:00:00%2B01:00")
    assert body["users"] == ["bo@example.com"] and body["until"] == iso(local("2026-12-27T00:00"))
    assert get(client, token, "/v1/schedules/checkout/oncall")[0] == 200  # `at` defaults to now


def test_shifts_are_merged_and_clipped_across_the_autumn_change(team, setup, client):
    token = setup.token()
    status, body = get(client, token, "/v1/schedules/checkout/shifts?from=2026-10-24T00:00:00Z&to=2026-10-27T00:00:00Z")
    assert status == 200
    rows = [(s["user"], s["source"], s["start"], s["end"]) for s in body["shifts"]]
    assert rows == [
        ("cy@example.com", "weekly", iso(local("2026-10-24T02:00")), iso(local("2026-10-26T09:00"))),
        ("cy@example.com", "daytime", iso(local("2026-10-26T09:00")), iso(local("2026-10-26T17:00"))),
        ("ana@example.com", "weekly", iso(local("2026-10-26T17:00")), iso(local("2026-10-27T01:00"))),
    ]
    # The Monday 09:00 handoff is 08:00 UTC after the change (07:00 before it).
    assert rows[0][3].startswith("2026-10-26T08:00")


@pytest.mark.parametrize("query, status", [
    ("/v1/schedules/nope/oncall", 404),
    ("/v1/schedules/checkout/oncall?at=yesterday", 400),
    ("/v1/schedules/checkout/oncall?at=2026-10-25T03:00:00", 400),  # no offset
    ("/v1/schedules/checkout/shifts?from=2026-10-24T00:00:00Z", 400),
    ("/v1/schedules/checkout/shifts?from=2026-10-24T00:00:00Z&to=2027-02-24T00:00:00Z", 400),  # over 90 days
    ("/v1/schedules/checkout/shifts?from=2026-10-24T00:00:00Z&to=2026-10-23T00:00:00Z", 400),
    ("/v1/schedules/nope/shifts?from=2026-10-24T00:00:00Z&to=2026-10-25T00:00:00Z", 404),
])
def test_unknown_schedules_and_bad_times(team, setup, client, query, status):
    code, body = get(client, setup.token(), query)
    assert code == status and body["message"]


def test_the_schedule_api_takes_global_tokens(team, setup, client):
    scoped = setup.token("scoped", service="checkout-api")
    code, body = get(client, scoped, "/v1/schedules")
    assert code == 403 and "global token" in body["message"]
    assert client.get("/v1/schedules").status_code == 401


def run_document(app, doc):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(doc, fh)
    return app.test_cli_runner().invoke(args=["import-config", fh.name])


@pytest.mark.parametrize("change, path", [
    (lambda d: d["schedules"][0]["overrides"].append(
        {"user": "cy@example.com", "start": "2026-12-26T00:00:00+01:00", "end": "2026-12-28T00:00:00+01:00"}),
     "schedules[0].overrides[1]: overlaps overrides[0]"),
    (lambda d: d["schedules"][0]["layers"][0]["users"].append("zed@example.com"), "schedules[0].layers[0].users[3]"),
    (lambda d: d["schedules"][0].update(time_zone="Mars/Olympus"), "schedules[0].time_zone"),
    (lambda d: d["schedules"][0]["layers"][1].update(name="weekly"), "schedules[0].layers[1].name"),
    (lambda d: d["schedules"][0]["layers"][0].update(start="2026-10-05 09:00+02:00"), "schedules[0].layers[0].start"),
    (lambda d: d["schedules"][0]["layers"][0]["shift"].update(unit="months"), "schedules[0].layers[0].shift.unit"),
    (lambda d: d["schedules"][0]["layers"][1]["restrictions"][0].update(to="24:00"),
     "schedules[0].layers[1].restrictions[0].to"),
    (lambda d: d["schedules"][0]["overrides"][0].update(start="2026-12-24T00:00:00"),
     "schedules[0].overrides[0].start"),
    (lambda d: d["escalation_policies"][0]["levels"][0]["targets"].append({"schedule": "other"}),
     "escalation_policies[0].levels[0].targets[1].schedule"),
])
def test_import_faults_name_their_path(app, change, path):
    doc = team_document()
    change(doc)
    result = run_document(app, doc)
    assert result.exit_code == 1 and path in result.output, result.output


def test_export_round_trip(team):
    runner = team.test_cli_runner()
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    assert exported["schedules"][0]["layers"][1]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]
    assert exported["escalation_policies"][0]["levels"][0]["targets"] == [{"schedule": "checkout"}]
    assert exported["schedules"][0]["overrides"][0]["user"] == "bo@example.com"
    assert run_document(team, exported).exit_code == 0
    assert json.loads(runner.invoke(args=["export-config"]).stdout) == exported


# ---- escalation through a schedule --------------------------------------------------------------

def call_at(app, token: str, body: dict, now: float) -> int:
    with app.app_context():
        opened = open_call(db.engine, app.extensions["callgoose_specs"], token)
        return process_call(db.engine, opened[0], opened[1], json.dumps(body).encode(), "application/json", None,
                            now, 300).status


def tick(app, now: float) -> None:
    with app.app_context():
        escalate.run(db.engine, app.config, now)
        deliver.run(db.engine, app.config, now)


@pytest.fixture
def mail():
    with SmtpServer() as server:
        yield server


def test_a_test_alert_at_0300_on_a_sunday_pages_whoever_is_on_call(make_app, database_url, tmp_path, setup_for, mail):
    app = make_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=mail.port, BASE_URL="http://cg.test")
    with app.app_context():
        import_config(team_document(), clock.now())
    setup = setup_for(app)
    token = setup.token()
    sunday = local("2026-11-01T03:00")  # the weekly layer's fourth week: ana
    client = app.test_client()
    expected = get(client, token, "/v1/schedules/checkout/oncall?at=2026-11-01T03:00:00%2B01:00")[1]["users"]
    assert call_at(app, token, firing("g1"), sunday) == 201
    tick(app, sunday + 1)
    assert [m["To"] for m in mail.mailbox.wait(1)] == expected == ["ana@example.com"]


def test_an_empty_schedule_is_an_event_and_the_next_level_is_paged_at_once(make_app, database_url, tmp_path,
                                                                           setup_for, mail):
    app = make_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=mail.port, BASE_URL="http://cg.test")
    doc = team_document(extra_levels=[{"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}],
                        schedule_overrides=[])
    doc["schedules"][0]["layers"] = doc["schedules"][0]["layers"][1:]  # only the weekday-daytime layer
    with app.app_context():
        import_config(doc, clock.now())
    setup = setup_for(app)
    saturday = local("2026-11-07T03:00")
    assert call_at(app, setup.token(), firing("g1"), saturday) == 201
    events = setup.query("SELECT kind, note FROM incident_events ORDER BY id")
    assert ("nobody_on_call", "nobody on call in checkout") in events
    tick(app, saturday + 1)  # the next tick: level 2 at once, not after 5 minutes
    tick(app, saturday + 2)
    assert [m["To"] for m in mail.mailbox.wait(1)] == ["ana@example.com"]


# ---- the pages --------------------------------------------------------------------------------

def test_the_schedules_page_shows_now_and_next_and_the_timeline_across_a_change(team, add_user, sign_in, client,
                                                                                 setup):
    sign_in(client, *add_user(team))
    page = client.get("/schedules").get_data(as_text=True)
    assert "checkout" in page and "Europe/Berlin" in page
    front = client.get("/incidents").get_data(as_text=True)
    assert "On call now:" in front and ", then " in front  # on call now and next, on the front page
    service_id = setup.query("SELECT id FROM services")[0][0]
    assert "On call in <a" in client.get(f"/services/{service_id}").get_data(as_text=True)  # and on its service
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.get(f"/schedules/{schedule_id}?from=2026-10-19&tz=Europe/Berlin").get_data(as_text=True)
    assert "<svg" in page and "Layer weekly" in page and "Layer daytime" in page
    # The 09:00 handoffs keep their local time while the offset changes (CEST, then CET): in
    # UTC they move from 07:00 to 08:00.
    assert "Mon 19 Oct 2026 09:00 CEST" in page and "Mon 26 Oct 2026 09:00 CET" in page  # the layers' shifts
    assert "<time>Mon 19 Oct 2026 09:00 CEST</time>" in page and "(Mon 19 Oct 2026 07:00 UTC)" in page
    assert "<time>Tue 27 Oct 2026 09:00 CET</time>" in page and "(Tue 27 Oct 2026 08:00 UTC)" in page
    utc_page = client.get(f"/schedules/{schedule_id}?from=2026-10-19&tz=UTC").get_data(as_text=True)
    assert "<time>Tue 27 Oct 2026 08:00 UTC</time>" in utc_page


def test_taking_a_shift_from_the_form_and_overlaps_are_refused(team, add_user, sign_in, client, setup):
    sign_in(client, *add_user(team))
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    ana = setup.query("SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    done = client.post(f"/schedules/{schedule_id}/overrides", data={
        "user": ana, "start": "2026-12-31T18:00", "end": "2027-01-01T09:00", "tz": "Europe/Berlin"},
        follow_redirects=True).get_data(as_text=True)
    assert "Override added." in done
    token = setup.token()
    assert get(client, token, "/v1/schedules/checkout/oncall?at=2026-12-31T20:00:00%2B01:00")[1]["users"] == [
        "ana@example.com"]
    clash = client.post(f"/schedules/{schedule_id}/overrides", data={
        "user": ana, "start": "2026-12-26T12:00", "end": "2026-12-28T09:00", "tz": "Europe/Berlin"},
        follow_redirects=True).get_data(as_text=True)
    assert "No override: start overlaps the override from 2026-12-23T23:00:00.000000Z" in clash
    backwards = client.post(f"/schedules/{schedule_id}/overrides", data={
        "user": ana, "start": "2027-02-02T12:00", "end": "2027-02-01T09:00"}, follow_redirects=True)
    assert "end must be after the start" in backwards.get_data(as_text=True)


def test_the_simulator_says_who_would_be_paged_and_the_alert_pages_exactly_them(make_app, database_url, tmp_path,
                                                                                 setup_for, mail, add_user, sign_in):
    """The issue's "done when": a test alert at 03:00 on a Sunday pages whoever the simulator said."""
    app = make_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=mail.port, BASE_URL="http://cg.test")
    doc = team_document(extra_levels=[{"escalate_after_minutes": 10, "targets": [{"user": "cy@example.com"}]}])
    with app.app_context():
        import_config(doc, clock.now())
    setup = setup_for(app)
    token = setup.token()
    client = app.test_client()
    code, body = get(client, token, "/v1/services/checkout-api/simulate?urgency=high&at=2026-11-08T03:00:00%2B01:00")
    assert code == 200 and body["policy"] == "checkout"
    steps = [(s["at"], s["level"], s["user"], s["channel"]) for s in body["steps"]]
    sunday = local("2026-11-08T03:00")  # the weekly layer's fifth week: bo
    assert steps == [(iso(sunday), 1, "bo@example.com", "email"),
                     (iso(sunday + 300), 2, "cy@example.com", "email"),
                     (iso(sunday + 900), 2, None, None)]
    assert body["steps"][0]["reason"] == "level 1: on call in checkout, their rule: at once"
    assert body["steps"][-1]["reason"] == "escalation finished, nobody acknowledged"
    assert call_at(app, token, firing("g1"), sunday) == 201
    tick(app, sunday + 1)
    assert [m["To"] for m in mail.mailbox.wait(1)] == ["bo@example.com"]
    tick(app, sunday + 301)
    tick(app, sunday + 302)
    assert [m["To"] for m in mail.mailbox.wait(2)] == ["bo@example.com", "cy@example.com"]
    # The same timeline on the service's page.
    sign_in(client, *add_user(app))
    service_id = setup.query("SELECT id FROM services")[0][0]
    page = client.get(f"/services/{service_id}/simulate?urgency=high&at=2026-11-08T03:00&tz=Europe/Berlin")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Sun 08 Nov 2026 03:00 CET" in text and "bo@example.com</strong> by email" in text
    assert "level 2: named in the policy, their rule: at once" in text


def test_calendar_feeds_per_schedule_and_per_user_can_be_revoked(team, sign_in, client, setup):
    from callgoose.services.users import set_password
    ana = setup.query("SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    with team.app_context():
        set_password(ana, "correct horse")  # imported without one: an admin sets it
    sign_in(client, "ana@example.com", "correct horse")
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.post("/calendar-feeds", data={"schedule_id": schedule_id}, follow_redirects=True).get_data(as_text=True)
    schedule_feed = __import__("re").search(r"http://localhost(/ical/cal_[\w-]+\.ics)", page).group(1)
    page = client.post("/calendar-feeds", data={}, follow_redirects=True).get_data(as_text=True)
    mine = __import__("re").search(r"http://localhost(/ical/cal_[\w-]+\.ics)", page).group(1)
    anonymous = team.test_client()
    text = anonymous.get(schedule_feed).get_data(as_text=True)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and "SUMMARY:On call: " in text and "(checkout)" in text
    own = anonymous.get(mine)
    assert own.mimetype == "text/calendar" and "SUMMARY:On call: checkout" in own.get_data(as_text=True)
    assert "My shifts" in client.get("/notifications/me").get_data(as_text=True)
    feed_id = setup.query("SELECT id FROM calendar_feeds ORDER BY id")[1][0]
    client.post(f"/calendar-feeds/{feed_id}/revoke")
    assert anonymous.get(mine).status_code == 404
    assert anonymous.get(schedule_feed).status_code == 200
    assert anonymous.get("/ical/cal_nope.ics").status_code == 404


# ---- readiness, notices, the editor ---------------------------------------------------------------

def notices(setup):
    return setup.query("SELECT user_id, target, status, body FROM notifications WHERE kind = 'notice' ORDER BY id")


def test_the_incoming_person_is_told_when_a_shift_starts_once_unless_they_opted_out(make_app, database_url, tmp_path,
                                                                                   setup_for, mail):
    from callgoose.services.readiness import notify_handoffs
    app = make_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=mail.port, BASE_URL="http://cg.test")
    with app.app_context():
        import_config(team_document(schedule_overrides=[]), clock.now())
    setup = setup_for(app)
    monday = local("2026-11-02T09:00")  # bo's week starts, under cy's weekday daytime
    with app.app_context():
        assert notify_handoffs(db.engine, monday + 30) >= 1
        again = notify_handoffs(db.engine, monday + 90)
    told = notices(setup)
    cy = setup.query("SELECT id FROM users WHERE email = 'cy@example.com'")[0][0]
    assert [t[1] for t in told] == ["cy@example.com"] and again == 0  # cy is on call from 09:00 (daytime)
    tick(app, monday + 100)
    text = mail.mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "You are on call in checkout from Mon 02 Nov 09:00 CET until Mon 02 Nov 17:00 CET" in text
    with app.app_context():
        from callgoose.services.readiness import set_handoff_notices
        assert notify_handoffs(db.engine, monday + 8 * 3600 + 30) == 1  # 17:00: bo, from the weekly layer
        set_handoff_notices(cy, False)
        assert notify_handoffs(db.engine, local("2026-11-03T09:00") + 30) == 0  # cy's next day: opted out
    assert [t[1] for t in notices(setup)] == ["cy@example.com", "bo@example.com"]


def test_a_gap_is_told_to_the_schedules_people_a_day_ahead_once(make_app, database_url, tmp_path, setup_for):
    from callgoose.services.readiness import notify_gaps
    app = make_app(database_url, tmp_path)
    doc = team_document(schedule_overrides=[])
    doc["schedules"][0]["layers"] = doc["schedules"][0]["layers"][1:]  # weekday daytime only
    with app.app_context():
        import_config(doc, clock.now())
    setup = setup_for(app)
    friday = local("2026-11-06T12:00")
    with app.app_context():
        assert notify_gaps(db.engine, friday) == 1  # the gap from 17:00 today; cy is the schedule's one person
        assert notify_gaps(db.engine, friday + 3600) == 0
    body = as_json(notices(setup)[0][3])
    assert body["text"].startswith("Nobody is on call in checkout from Fri 06 Nov 17:00 CET until Mon 09 Nov 09:00 CET")
    # Stored as message id and values too: the worker words it in the reader's language.
    from callgoose.engine.words import from_data
    from callgoose.services.languages import words_for
    german = words_for("de")(from_data(body["say"]))
    assert german.startswith("Niemand hat Bereitschaft in checkout von Fr., 6. Nov. 17:00 CET bis Mo., 9. Nov. 09:00 CET")
    assert words_for(None)(from_data(body["say"])) == body["text"]


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_the_readiness_page_lists_gaps_unreachable_people_and_services_without_a_policy(team, add_user, sign_in,
                                                                                        client, setup):
    setup.services({"name": "batch", "trigger": [{"conditions": [{"json_key": "x", "contains": ["y"]}]}]})
    sign_in(client, *add_user(team))
    page = client.get("/readiness").get_data(as_text=True)
    assert "nobody is paged for batch: it has no escalation policy" in page
    assert "ana@example.com (in checkout) has no verified contact method" not in page  # imported: verified
    front = client.get("/incidents").get_data(as_text=True)
    assert "Readiness: 1 problem in the next 14 days" in front


def test_the_readiness_report_is_stored_and_checked_again_when_what_it_read_changes(team, setup, monkeypatch):
    """The front page reads the stored report; a change to a policy, a service, a schedule or
    a contact method, or ten minutes, makes the next reader check again."""
    from callgoose.jobs import notices
    from callgoose.services import contact_methods, readiness, service_paging
    setup.services({"name": "batch", "trigger": [{"conditions": [{"json_key": "x", "contains": ["y"]}]}]})
    checks = []
    real = readiness.check
    monkeypatch.setattr(readiness, "check", lambda *a, **k: checks.append(1) or real(*a, **k))
    now = clock.now()
    with team.app_context():
        first = readiness.report(now)
        assert readiness.report(now + 60) == first and len(checks) == 1  # stored, not checked again
        assert [f.text for f in first if f.kind == "no_policy"] == ["nobody is paged for batch: it has no escalation policy"]
        batch = setup.query("SELECT id FROM services WHERE name = 'batch'")[0][0]
        policy = setup.query("SELECT id FROM escalation_policies")[0][0]
        service_paging.set_service_policy(batch, policy)
        assert [f for f in readiness.report(now + 120) if f.kind == "no_policy"] == [] and len(checks) == 2
        readiness.report(now + 180)
        assert len(checks) == 2
        cy = setup.query("SELECT id FROM users WHERE email = 'cy@example.com'")[0][0]
        method = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=cy)[0][0]
        contact_methods.delete_method(cy, method)
        assert any("cy@example.com (in checkout) has no verified contact method" in f.text
                   for f in readiness.report(now + 240)) and len(checks) == 3
        readiness.report(now + 240 + readiness.FRESH + 1)  # too old: checked again
        assert len(checks) == 4
        notices.readiness(db.engine, team.config, now + 900)  # the worker renews it
        assert len(checks) == 5 and readiness.report(now + 960) and len(checks) == 5
    assert setup.query("SELECT count(*) FROM readiness_reports") == [(1,)]


def test_the_editor_saves_refuses_with_the_path_and_will_not_delete_a_schedule_in_use(team, add_user, sign_in, client,
                                                                                      setup):
    sign_in(client, *add_user(team))
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.get(f"/schedules/{schedule_id}/json").get_data(as_text=True)
    assert "&#34;weekly&#34;" in page or '"weekly"' in page
    document = json.loads(client.get(f"/schedules/{schedule_id}/json").get_data(as_text=True).split(
        'name="document"')[1].split(">", 1)[1].split("</textarea>")[0].replace("&#34;", '"').replace("&quot;", '"'))
    document["layers"][0]["shift"]["count"] = 2
    saved = client.post(f"/schedules/{schedule_id}/json", data={"document": json.dumps(document)})
    assert saved.status_code == 302
    stored = setup.query("SELECT layers FROM schedules")[0][0]
    assert as_json(stored)[0]["shift"] == {"unit": "weeks", "count": 2}
    document["layers"][0]["start"] = "tomorrow"
    refused = client.post(f"/schedules/{schedule_id}/json", data={"document": json.dumps(document)})
    assert refused.status_code == 422 and "schedule.layers[0].start" in refused.get_data(as_text=True)
    new = client.post("/schedules/new/json", data={"document": json.dumps({**document, "name": "spare",
                                                                      "layers": document["layers"][1:]})})
    assert new.status_code == 302
    in_use = client.post(f"/schedules/{schedule_id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "policy checkout pages through it" in in_use
    spare = setup.query("SELECT id FROM schedules WHERE name = 'spare'")[0][0]
    assert client.post(f"/schedules/{spare}/delete").status_code == 302
    assert setup.query("SELECT name FROM schedules") == [("checkout",)]


def form_of(page: str) -> dict:
    """The editor form's fields as a browser would post them (inputs, textareas, selected options)."""
    import html
    import re
    fields = {m[1]: html.unescape(m[2]) for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}
    fields |= {m[1]: html.unescape(m[2]) for m in re.finditer(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S)}
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        fields[name] = re.search(r'<option value="([^"]+)" selected>', options)[1]
    fields.pop("csrf_token", None)
    return fields


def test_the_form_editor_shows_layers_as_rows_and_saves_them_keeping_the_overrides(team, add_user, sign_in, client,
                                                                                   setup):
    sign_in(client, *add_user(team))
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.get(f"/schedules/{schedule_id}/edit").get_data(as_text=True)
    fields = form_of(page)
    assert fields["name"] == "checkout" and fields["time_zone"] == ZONE
    assert fields["layers-0-name"] == "weekly" and fields["layers-0-users"].split() == list(TEAM)
    assert fields["layers-1-restrictions"] == "mon-fri 09:00-17:00" and fields["layers-1-unit"] == "days"
    assert fields["layers-0-start"] == "2026-10-05T09:00"
    saved = client.post(f"/schedules/{schedule_id}/edit", data={**fields, "layers-0-count": "2",
                                                                "layers-1-restrictions": "mon-thu 08:00-16:00; fri 08:00-12:00",
                                                                "action": "save"})
    assert saved.status_code == 302
    layers = as_json(setup.query("SELECT layers FROM schedules")[0][0])
    assert layers[0]["shift"] == {"unit": "weeks", "count": 2}
    again = form_of(client.get(f"/schedules/{schedule_id}/edit").get_data(as_text=True))
    assert again["layers-1-restrictions"] == "mon-thu 08:00-16:00; fri 08:00-12:00"
    assert setup.query("SELECT count(*) FROM schedule_overrides") == [(1,)]  # the holiday stays
    # The rows: add one, move it up, remove one; nothing is saved until "Save".
    added = form_of(client.post(f"/schedules/{schedule_id}/edit", data={**fields, "action": "add"}).get_data(as_text=True))
    assert added["layers-2-name"] == "layer 3"
    moved = form_of(client.post(f"/schedules/{schedule_id}/edit", data={**fields, "action": "up-1"}).get_data(as_text=True))
    assert (moved["layers-0-name"], moved["layers-1-name"]) == ("daytime", "weekly")
    removed = form_of(client.post(f"/schedules/{schedule_id}/edit",
                                  data={**fields, "action": "remove-0"}).get_data(as_text=True))
    assert removed["layers-0-name"] == "daytime" and "layers-1-name" not in removed
    assert as_json(setup.query("SELECT layers FROM schedules")[0][0])[0]["shift"]["count"] == 2
    # Faults are told in words, and the form keeps what was typed.
    bad = client.post(f"/schedules/{schedule_id}/edit", data={**fields, "layers-1-restrictions": "weekdays 9-5",
                                                              "action": "save"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "layer 2, restrictions 1: &#39;weekdays 9-5&#39; is not a window" in text
    assert 'value="weekdays 9-5"' in text
    nobody = client.post(f"/schedules/{schedule_id}/edit", data={**fields, "layers-0-users": "zed@example.com",
                                                                 "action": "save"})
    assert nobody.status_code == 422 and "layer 1, users 1: zed@example.com is not a user" in nobody.get_data(as_text=True)


def test_a_new_schedule_from_the_form_starts_with_the_viewer_on_mondays(team, add_user, sign_in, client, setup):
    email, password = add_user(team)
    sign_in(client, email, password)
    fields = form_of(client.get("/schedules/new").get_data(as_text=True))
    assert fields["layers-0-users"] == email and fields["layers-0-start"].endswith("T09:00")
    assert datetime.fromisoformat(fields["layers-0-start"]).weekday() == 0 and fields["name"] == ""
    assert client.post("/schedules/new", data={**fields, "name": "nights", "action": "save"}).status_code == 302
    assert setup.query("SELECT name FROM schedules ORDER BY name") == [("checkout",), ("nights",)]
    clash = client.post("/schedules/new", data={**fields, "name": "nights", "action": "save"})
    assert clash.status_code == 422 and "a schedule called &#39;nights&#39; exists already" in clash.get_data(as_text=True)


def test_a_shift_on_the_timeline_fills_the_override_form(team, add_user, sign_in, client, setup):
    sign_in(client, *add_user(team))
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.get(f"/schedules/{schedule_id}?from=2026-12-21&tz=Europe/Berlin").get_data(as_text=True)
    link = next(a for a in __import__("re").findall(r'href="([^"]*take_start=[^"]*)"', page)
                if "take_start=2026-12-24T00:00" in a)  # the holiday override's span, as shown
    form = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="2026-12-24T00:00"' in form and 'value="2026-12-27T00:00"' in form


def test_the_calendar_shows_exactly_the_rota_the_api_gives(team, sign_in, client, setup):
    """The iCal feed's events are the /shifts answer for the same span (what a calendar shows)."""
    import re
    from datetime import timezone

    from callgoose.services.users import set_password
    ana = setup.query("SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    with team.app_context():
        set_password(ana, "correct horse")
    sign_in(client, "ana@example.com", "correct horse")
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.post("/calendar-feeds", data={"schedule_id": schedule_id}, follow_redirects=True).get_data(as_text=True)
    feed = re.search(r"http://localhost(/ical/cal_[\w-]+\.ics)", page).group(1)
    text = team.test_client().get(feed).get_data(as_text=True).replace("\r\n ", "")
    events = re.findall(r"DTSTART:(\d{8}T\d{6})Z\r\nDTEND:(\d{8}T\d{6})Z\r\nSUMMARY:On call: ([^ ]+) ", text)
    stamps = [(datetime.strptime(a, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).timestamp(),
               datetime.strptime(b, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).timestamp(), who)
              for a, b, who in events]
    first, last = stamps[0][0], stamps[-1][1]
    answer = get(client, setup.token(), f"/v1/schedules/checkout/shifts?from={iso(first).replace('+', '%2B')}"
                                        f"&to={iso(last).replace('+', '%2B')}")[1]["shifts"]
    assert [(s["start"], s["end"], s["user"]) for s in answer] == [(iso(a), iso(b), w) for a, b, w in stamps]


def test_a_person_sets_their_time_zone_and_the_schedule_is_drawn_in_it(make_app, sqlite_url, tmp_path, setup_for,
                                                                        add_user, sign_in):
    # Its own app: pytest-flask keeps one app context (and its g, with the signed-in user)
    # across the requests of a test that uses the `app` fixture, as no real request does.
    own = make_app(sqlite_url, tmp_path)
    with own.app_context():
        import_config(team_document(), clock.now())
    setup, client = setup_for(own), own.test_client()
    sign_in(client, *add_user(own))
    refused = client.post("/settings/profile", data={"name": "Ops", "time_zone": "Mars/Olympus"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Not saved: time_zone" in refused
    saved = client.post("/settings/profile", data={"name": "Ops", "time_zone": "America/New_York"},
                        follow_redirects=True)
    assert "Saved." in saved.get_data(as_text=True)
    schedule_id = setup.query("SELECT id FROM schedules")[0][0]
    page = client.get(f"/schedules/{schedule_id}?from=2026-10-19").get_data(as_text=True)
    assert "Times in <strong>America/New_York</strong>" in page
    assert "<time>Mon 19 Oct 2026 03:00 EDT</time>" in page  # 09:00 in Berlin
