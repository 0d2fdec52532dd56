"""Issue 20, item 4: the Reports page, its CSV and the JSON API on a small hand-made history,
on SQLite and PostgreSQL."""

from datetime import datetime, timezone

import pytest
from conftest import _add_user, _sign_in
from helpers import ALERTMANAGER

from callgoose import clock
from callgoose.extensions import db
from callgoose.services import pay_rates
from callgoose.store.models import Incident, IncidentEvent, Notification, Rule, Schedule, Service, User

RANGE = "from=2026-11-01&to=2026-11-30"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _incident(sid, rule_id, n, created, ack=None, resolved=None, by_call=False, priority=None):
    found = Incident(id=n, service_id=sid, title=f"#{n}", urgency="high", priority=priority,
                     status="resolved" if resolved else "triggered",
                     mapping_value=str(n), mapping_key=None, rule_id=rule_id, created_at=utc(created),
                     last_seen_at=utc(created), acknowledged_at=ack and utc(ack), resolved_at=resolved and utc(resolved))
    db.session.add(found)
    if resolved:
        db.session.add(IncidentEvent(incident_id=n, at=utc(resolved), kind="resolved",
                                     api_call_id="c" * 36 if by_call else None))
    return found


def _page(n, user_id, channel, sent, k):
    db.session.add(Notification(delivery_id=f"d{k:035d}", incident_id=n, user_id=user_id, kind="page", channel=channel,
                                target="x", status="sent", queued_at=utc(sent), due_at=utc(sent), sent_at=utc(sent)))


@pytest.fixture
def history(app, setup):
    setup.services(ALERTMANAGER)
    with app.app_context():
        sid = db.session.query(Service.id).scalar()
        rule_id = db.session.query(Rule.id).filter(Rule.kind == "trigger").scalar()
        now = utc("2026-11-01T00:00:00")
        ken = User(email="ken@example.com", password_hash="x", role="responder", created_at=now, time_zone="Asia/Tokyo")
        ana = User(email="ana@example.com", password_hash="x", role="responder", created_at=now,
                   time_zone="Europe/Berlin", name="Ana")
        db.session.add_all([ken, ana])
        db.session.flush()
        _incident(sid, rule_id, 1, "2026-11-02T01:00:00", "2026-11-02T01:04:00", "2026-11-02T02:00:00",
                  priority="P1")  # P1's targets: 15 min to acknowledge, 240 to resolve: both met
        _incident(sid, rule_id, 2, "2026-11-03T01:00:00", None, "2026-11-03T01:03:00", by_call=True,
                  priority="P2")  # resolved unacknowledged: its acknowledge target missed
        _incident(sid, rule_id, 3, "2026-10-03T01:00:00", None, None)  # before the range
        _page(1, ken.id, "sms", "2026-11-02T01:00:10", 1)  # 10:00 Monday in Tokyo: business hours
        _page(1, ana.id, "voice", "2026-11-02T01:00:10", 2)  # 02:00 in Berlin: sleep
        _page(1, ana.id, "sms", "2026-11-02T01:00:40", 3)  # within 60 s: the same interruption
        _page(2, ana.id, "email", "2026-11-03T01:00:10", 4)  # email wakes nobody
        db.session.add(Schedule(name="ops", time_zone="Europe/Berlin", created_at=now, updated_at=now, layers=[
            {"name": "week", "users": [ana.id, ken.id], "start": "2026-10-26T00:00", "shift": {"unit": "weeks", "count": 1},
             "restrictions": []}]))
        db.session.commit()
        pay_rates.set_rate("ana@example.com", None, "10", "25", clock.now())
    return app


@pytest.fixture
def reader(history, client):
    _sign_in(client, *_add_user(history, "viewer@example.com", role="viewer"))
    return client


def test_the_page_shows_every_report_with_svg_charts_and_tables(reader):
    page = reader.get(f"/reports?{RANGE}&zone=UTC")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count("<svg class=\"report-chart\"") == 4
    assert "style=" not in html.split("<main", 1)[-1] and "<script>" not in html  # the CSP's rules
    assert "checkout-api" in html and "Ana" in html and "ken@example.com" in html
    assert 'name="rate"' not in html  # a viewer reads; only admins set rates


def test_the_api_gives_the_same_numbers(history, setup, client):
    headers = {"Authorization": f"Bearer {setup.token()}"}
    response = client.get(f"/v1/reports/response?{RANGE}", headers=headers).get_json()
    assert response["from"] == "2026-11-01T00:00:00.000000Z" and response["to"] == "2026-12-01T00:00:00.000000Z"
    [service] = response["groups"]["service"]
    assert (service["incidents"], service["ack_median"], service["resolve_median"], service["resolve_p90"]) == (
        2, 240.0, 180.0, 3600.0)
    assert (service["ack_within_target"], service["resolve_within_target"]) == (0.5, 1.0)
    assert [(g["key"], g["incidents"], g["ack_within_target"], g["resolve_within_target"])
            for g in response["groups"]["priority"]] == [("P1", 1, 1.0, 1.0), ("P2", 1, 0.0, 1.0)]
    people = client.get(f"/v1/reports/interruptions?{RANGE}", headers=headers).get_json()["people"]
    assert [(p["person"], p["total"], p["business"], p["sleep"], p["deliveries"]) for p in people] == [
        ("Ana", 1, 0, 1, 2), ("ken@example.com", 1, 1, 0, 1)]
    oncall = client.get(f"/v1/reports/oncall?{RANGE}&zone=Europe/Berlin&country=DE", headers=headers).get_json()
    [ops] = oncall["schedules"]
    assert ops["hours"] == 30 * 24 and ops["nobody_hours"] == 0
    assert sum(p["hours"] for p in ops["people"]) == 30 * 24
    ana = next(p for p in ops["people"] if p["person"] == "Ana")
    assert (ana["rate"], ana["holiday_rate"]) == (10.0, 25.0)
    assert ana["amount"] == round((ana["hours"] - ana["holiday_hours"]) * 10 + ana["holiday_hours"] * 25, 2)
    rules = client.get(f"/v1/reports/rules?{RANGE}", headers=headers).get_json()["rules"]
    assert [(r["incidents"], r["pages"], r["sleep_interruptions"], r["self_resolved"], r["fix"]) for r in rules] == [
        (2, 4, 1, 1, "low_urgency")]


@pytest.mark.parametrize("query, message", [
    ("from=2026-12-01&to=2026-11-01", "from must be before to"),
    ("from=2024-01-01&to=2026-11-01", "at most 366 days"),
    ("zone=Nowhere/Land", "IANA time zone"),
    ("from=soon", "from must be a date"),
    ("country=XX", "country must be a country code the holidays package knows"),
    ("country=%00", "country must be a country code"),
])
def test_bad_ranges_are_400_with_a_reason(history, setup, client, query, message):
    headers = {"Authorization": f"Bearer {setup.token()}"}
    answer = client.get(f"/v1/reports/oncall?{query}", headers=headers)
    assert answer.status_code == 400 and message in answer.get_json()["message"]


def test_a_service_token_is_refused(history, setup, client):
    token = setup.token("svc", service="checkout-api")
    answer = client.get("/v1/reports/response", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403 and "global token" in answer.get_json()["message"]


def test_a_bad_range_on_the_page_is_400_not_500(reader):
    answer = reader.get("/reports?from=2026-12-01&to=2026-11-01")
    assert answer.status_code == 400 and "from must be before to" in answer.get_data(as_text=True)


def test_csv_export_for_payroll(reader):
    answer = reader.get(f"/reports/oncall.csv?{RANGE}&zone=Europe/Berlin")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == "person,schedule,hours,holiday_hours,override_taken,override_given,rate,holiday_rate,amount"
    assert any(line.startswith("Ana,ops,") and line.endswith(",10.0,25.0," + line.rsplit(",", 1)[1]) for line in lines)
    assert reader.get(f"/reports/interruptions.csv?{RANGE}").get_data(as_text=True).splitlines()[1:] == [
        "Ana,Europe/Berlin,1,0,0,1,1.0,2", "ken@example.com,Asia/Tokyo,1,1,0,0,0.0,1"]


def test_empty_states(app, client):
    _sign_in(client, *_add_user(app))
    html = client.get("/reports").get_data(as_text=True)
    assert "No incident opened in this range." in html and "No schedule yet." in html
    assert "Nobody was paged through a waking channel in this range." in html


def test_an_admin_sets_and_removes_a_rate_and_it_is_audited(history, client):
    _sign_in(client, *_add_user(history))
    assert client.post("/reports/rates", data={"schedule": "ops", "rate": "12.5"}).status_code == 302
    assert "Rate saved." in client.get("/reports").get_data(as_text=True)
    client.post("/reports/rates", data={"schedule": "ops", "rate": "lots"})
    assert "A rate is a number from 0 to" in client.get("/reports").get_data(as_text=True)
    client.post("/reports/rates", data={"schedule": "ops", "rate": ""})
    with history.app_context():
        rows = db.session.execute(db.text("SELECT subject_kind, subject_name, action FROM audit_entries "
                                          "WHERE subject_kind = 'pay rate' ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("pay rate", "ana@example.com", "added"), ("pay rate", "ops", "added"),
                                        ("pay rate", "ops", "removed")]


def test_an_unknown_report_is_404(history, setup, client):
    answer = client.get("/v1/reports/nope", headers={"Authorization": f"Bearer {setup.token()}"})
    assert answer.status_code == 404 and answer.get_json()["message"] == "No such report for this token."


def test_try_the_fix_opens_the_rule_editor_with_low_urgency_over_the_ranges_calls(history, setup, client):
    from helpers import firing, post

    from callgoose.engine.rules import build_trigger
    from callgoose.services import catalog

    token = setup.token()
    for key in ("a", "b"):
        post(client, token, firing(key))
    _sign_in(client, *_add_user(history))
    html = client.get(f"/reports?{RANGE}&zone=UTC").get_data(as_text=True)
    start, end = int(utc("2026-11-01T00:00:00+00:00").timestamp()), int(utc("2026-12-01T00:00:00+00:00").timestamp())
    link = f"/services/1/rules/1?fix=low_urgency&amp;calls_from={start}&amp;calls_to={end}"
    assert link in html
    editor = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="low" selected' in editor or 'value="low" checked' in editor
    assert f'name="calls_from" value="{start}"' in editor and 'id="dry-run-range"' in editor
    with history.app_context():
        spec = build_trigger(ALERTMANAGER["trigger"][0], "rule")
        now = clock.now()
        assert catalog.dry_run(1, "trigger", 1, spec, between=(now - 60, now + 60)).calls == 2
        assert catalog.dry_run(1, "trigger", 1, spec, between=(start, end)).calls == 0


def test_the_seeded_month_fills_every_report(app, setup, add_user, sign_in, client):
    sign_in(client, *add_user(app))
    result = app.test_cli_runner().invoke(args=["seed-demo", "--calls", "1200", "--incidents", "300", "--days", "30"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get("/v1/reports/response", headers=headers).get_json()["groups"]
    assert len(response["service"]) > 5 and response["all"][0]["ack_median"] >= 60.0
    people = client.get("/v1/reports/interruptions", headers=headers).get_json()["people"]
    assert {p["person"] for p in people} == {"Ana", "Ben", "Kenji", "Sara"}
    assert all(p["sleep"] > 0 and p["business"] > 0 for p in people)
    assert {p["zone"] for p in people} == {"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/Lisbon"}
    oncall = client.get("/v1/reports/oncall", headers=headers).get_json()["schedules"]
    assert [s["schedule"] for s in oncall] == ["demo-primary", "demo-secondary"]
    for s in oncall:  # every hour of the range is someone's (or nobody's)
        assert round(sum(p["hours"] for p in s["people"]) + s["nobody_hours"], 2) == s["hours"]
    sara = next(p for p in oncall[0]["people"] if p["person"] == "Sara")
    assert sara["override_taken"] == 48.0 and sum(p["override_given"] for p in oncall[0]["people"]) <= 48.0
    rules = client.get("/v1/reports/rules", headers=headers).get_json()["rules"]
    assert rules[0]["pages"] > 0 and any(r["fix"] == "low_urgency" for r in rules)
    html = client.get("/reports").get_data(as_text=True)
    assert html.count('<svg class="report-chart"') == 5 and "fix=low_urgency" in html
