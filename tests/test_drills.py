"""Issue 17, item 6: fire drills, with real parts on loopback (an SMTP server, a webhook
receiver) on both databases. The worker's jobs are called with ``now``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from helpers import ALERTMANAGER
from receivers import WebhookReceiver, links_in, text_of

from callgoose import clock
from callgoose.engine.drills import Report, build
from callgoose.extensions import db
from callgoose.jobs import JOBS, deliver, escalate
from callgoose.jobs import drills as drills_job
from callgoose.services import drills
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"


@pytest.fixture
def hook():
    with WebhookReceiver(statuses=[404]) as receiver:
        yield receiver


@pytest.fixture
def drill_app(make_app, database_url, tmp_path, smtp):
    return make_app(database_url, tmp_path, BASE_URL=BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                    MAIL_FROM="pager@callgoose.test", WEBHOOK_ALLOWED_HOSTS="127.0.0.1", DELIVERY_TIMEOUT_SECONDS=5)


def rota(hook_url: str) -> dict:
    """Ana on call in "ops" this week (Bo the next), Ana reached by mail and a webhook at 0
    minutes; Bo by mail, and also the only person of a real service's policy."""
    start = datetime.now(timezone.utc) - timedelta(days=1)
    return {
        "users": [
            {"email": "ana@example.com", "name": "Ana", "contact_methods": [
                {"name": "mail", "type": "email", "address": "ana@example.com"},
                {"name": "hook", "type": "webhook", "url": hook_url}],
             "notification_rules": [{"contact_method": "mail", "after_minutes": 0},
                                    {"contact_method": "hook", "after_minutes": 0}]},
            {"email": "bo@example.com", "name": "Bo", "contact_methods": [
                {"name": "mail", "type": "email", "address": "bo@example.com"}]},
            {"email": "admin@example.com", "role": "admin"}],
        "schedules": [{"name": "ops", "time_zone": "UTC", "layers": [
            {"name": "weekly", "users": ["ana@example.com", "bo@example.com"], "start": f"{start:%Y-%m-%dT%H:%M}",
             "shift": {"unit": "weeks", "count": 1}}]}],
        "escalation_policies": [{"name": "ops", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"schedule": "ops"}, {"user": "bo@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "ops"}],
    }


def ids(setup, sql: str, **params):
    return setup.query(sql, **params)


def schedule_drill(app, setup, target: str, due: float) -> int:
    """A drill "every first Monday at 14:00" for ``target``, then made due at ``due`` (as the
    worker finds it when its time has come)."""
    with app.app_context():
        drill = drills.add(target, "mon", "1", "14:00", "Europe/Berlin", None, clock.now())
        drill_id = drill.id
        db.session.execute(db.update(drills.Drill).where(drills.Drill.id == drill_id)
                           .values(next_at=clock.to_db(due)))
        db.session.commit()
    return drill_id


def jobs(app, now: float) -> None:
    """One worker tick's drill and paging work at ``now``."""
    with app.app_context():
        drills_job.run(db.engine, app.config, now)
        escalate.run(db.engine, app.config, now)
        deliver.run(db.engine, app.config, now)


def the_report(setup) -> Report:
    (doc,), = ids(setup, "SELECT report FROM drill_runs")
    return Report.from_json(doc if isinstance(doc, dict) else __import__("json").loads(doc))


def test_the_drills_job_is_a_timed_job():
    assert JOBS["drills"][1] > 0


def test_a_new_drill_runs_next_at_its_recurrence(drill_app, setup_for):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota("http://127.0.0.1:9/"), clock.now())
        schedule_id = ids(setup, "SELECT id FROM schedules")[0][0]
        before = clock.now()
        drills.add(f"schedule:{schedule_id}", "mon", "1", "14:00", "Europe/Berlin", None, before)
    (next_at,), = ids(setup, "SELECT next_at FROM drills")
    next_at = next_at if isinstance(next_at, datetime) else datetime.fromisoformat(next_at)
    assert clock.from_db(next_at) == pytest.approx(build("mon", "1", "14:00", "Europe/Berlin").next_after(before))


def test_a_drill_for_a_schedule_pages_only_the_on_call_person_and_the_mail_link_ends_it(drill_app, setup_for,
                                                                                         smtp, hook):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota(hook.url), clock.now())
    schedule_id = ids(setup, "SELECT id FROM schedules")[0][0]
    start = time.time()
    drill_id = schedule_drill(drill_app, setup, f"schedule:{schedule_id}", start - 1)
    jobs(drill_app, start)

    # One incident on the hidden drill service, paged to Ana alone, by her own rules.
    (incident_id, title, status, service), = ids(setup, "SELECT i.id, i.title, i.status, s.name FROM incidents i "
                                                        "JOIN services s ON s.id = i.service_id")
    assert (title, status, service) == ("Fire drill: please acknowledge", "triggered", "fire drill")
    pages = ids(setup, "SELECT target, channel FROM notifications WHERE kind = 'page' ORDER BY channel")
    assert pages == [("ana@example.com", "email"), (hook.url, "webhook")]
    mails = smtp.mailbox.wait(1)
    assert [m["To"] for m in mails] == ["ana@example.com"]
    assert "Fire drill: please acknowledge" in mails[0]["Subject"]
    # The drill service is nobody's: never live, so no list, export or call reaches it.
    assert ids(setup, "SELECT name FROM services WHERE deleted_at IS NULL") == [("checkout-api",)]
    assert ids(setup, "SELECT next_at FROM drills WHERE id = :id", id=drill_id)[0][0] is not None

    # Ana acknowledges from the mail's link: the next run of the job ends the drill.
    body = text_of(mails[0])
    ack = next(link for link in links_in(body) if "/l/" in link and "Acknowledge" in body.split(link)[0][-20:])
    client = drill_app.test_client()
    assert client.post(ack.removeprefix(BASE)).status_code == 200
    acked = time.time()
    jobs(drill_app, acked + 1)
    assert ids(setup, "SELECT status FROM incidents")[0][0] == "resolved"
    report = the_report(setup)
    assert report.paged and report.reached_by == "email"
    assert 0 <= report.acknowledged_after <= acked - start + 1
    assert report.failed == [["webhook", "the receiver answered HTTP 404"]]

    # Nothing more for anyone: Bo was never paged, and the escalation cannot reach him.
    jobs(drill_app, acked + 20 * 60)
    jobs(drill_app, acked + 40 * 60)
    assert not [m for m in smtp.mailbox.messages if m["To"] != "ana@example.com"]
    assert ids(setup, "SELECT count(*) FROM notifications WHERE user_id <> (SELECT id FROM users WHERE "
                      "email = 'ana@example.com')")[0][0] == 0


def test_an_unanswered_drill_resolves_itself_and_says_which_methods_failed(drill_app, setup_for, smtp, hook):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota(hook.url), clock.now())
    ana = ids(setup, "SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    start = time.time()
    schedule_drill(drill_app, setup, f"user:{ana}", start - 1)
    jobs(drill_app, start)
    smtp.mailbox.wait(1)
    jobs(drill_app, start + 14 * 60)
    assert ids(setup, "SELECT status FROM incidents")[0][0] == "triggered"  # not yet
    jobs(drill_app, start + 15 * 60 + 1)
    assert ids(setup, "SELECT status FROM incidents")[0][0] == "resolved"
    report = the_report(setup)
    assert report.paged and not report.acknowledged and report.reached_by is None
    assert report.sent == ["email"] and report.failed == [["webhook", "the receiver answered HTTP 404"]]
    assert "Nobody acknowledged within 15 minutes." in report.words()
    assert ids(setup, "SELECT count(*) FROM notifications WHERE kind = 'page'")[0][0] == 2  # never escalated


def test_a_schedule_with_nobody_on_call_pages_nobody_and_says_so(drill_app, setup_for, smtp):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config({"schedules": [{"name": "empty", "time_zone": "UTC", "layers": []}], "services": []}, clock.now())
    start = time.time()
    schedule_drill(drill_app, setup, f"schedule:{ids(setup, 'SELECT id FROM schedules')[0][0]}", start - 1)
    jobs(drill_app, start)
    jobs(drill_app, start + 1)
    assert ids(setup, "SELECT count(*) FROM notifications")[0][0] == 0
    jobs(drill_app, start + 15 * 60 + 1)
    assert the_report(setup) == Report(paged=False)


def test_a_drill_missed_while_the_worker_was_down_is_skipped_not_run_late(drill_app, setup_for, smtp, hook):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota(hook.url), clock.now())
    ana = ids(setup, "SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    now = time.time()
    schedule_drill(drill_app, setup, f"user:{ana}", now - 2 * 3600)
    jobs(drill_app, now)
    assert ids(setup, "SELECT count(*) FROM drill_runs")[0][0] == 0
    (next_at,), = ids(setup, "SELECT next_at FROM drills")
    next_at = next_at if isinstance(next_at, datetime) else datetime.fromisoformat(next_at)
    assert clock.from_db(next_at) > now


# ---- the Drills page ------------------------------------------------------------------------------

def test_the_drills_page_adds_runs_and_deletes_a_drill(drill_app, setup_for, smtp, hook, add_user, sign_in):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota(hook.url), clock.now())
    schedule_id = ids(setup, "SELECT id FROM schedules")[0][0]
    client = drill_app.test_client()
    sign_in(client, *add_user(drill_app, email="boss@example.com"))
    page = client.get("/drills")
    assert page.status_code == 200 and b"No drills yet" in page.data
    assert f'value="schedule:{schedule_id}"'.encode() in page.data and b'value="user:' in page.data

    refused = client.post("/drills", data={"target": f"schedule:{schedule_id}", "week": "1", "weekday": "0",
                                           "time": "25:00", "time_zone": "Europe/Berlin"})
    assert refused.status_code == 422 and b"must be a time of day as HH:MM" in refused.data
    assert b'aria-invalid="true"' in refused.data and b'value="25:00"' in refused.data  # as typed
    assert ids(setup, "SELECT count(*) FROM drills")[0][0] == 0
    assert client.post("/drills", data={"target": "schedule:999", "week": "1", "weekday": "0", "time": "14:00",
                                        "time_zone": "Europe/Berlin"}).status_code == 422

    added = client.post("/drills", data={"target": f"schedule:{schedule_id}", "week": "1", "weekday": "0",
                                         "time": "14:00", "time_zone": "Europe/Berlin"})
    assert added.status_code == 302
    page = client.get("/drills").get_data(as_text=True)
    assert "every first Monday of the month at 14:00 (Europe/Berlin)" in page
    assert "whoever is on call in ops" in page and "no runs yet" in page
    drill_id = ids(setup, "SELECT id FROM drills")[0][0]

    ran = client.post(f"/drills/{drill_id}/run")
    assert ran.status_code == 302 and "/incidents/" in ran.location
    incident = client.get(ran.location).get_data(as_text=True)
    assert "This is a fire drill: nothing is wrong." in incident
    assert "<h1>Fire drill: please acknowledge</h1>" in incident
    with drill_app.app_context():
        deliver.run(db.engine, drill_app.config, time.time() + 1)
    assert [m["To"] for m in smtp.mailbox.wait(1)] == ["ana@example.com"]
    assert "running until" in client.get("/drills").get_data(as_text=True)

    # Deleting a drill whose run is open resolves that run's incident: nothing else would.
    gone = client.post(f"/drills/{drill_id}/delete")
    assert gone.status_code == 302
    assert ids(setup, "SELECT count(*) FROM drills")[0][0] == 0
    assert ids(setup, "SELECT status FROM incidents")[0][0] == "resolved"
    assert client.post(f"/drills/{drill_id}/delete").status_code == 404
    assert client.post(f"/drills/{drill_id}/run").status_code == 404


def test_the_drills_page_shows_a_finished_run_s_report_in_german(drill_app, setup_for, smtp, hook, add_user,
                                                                  sign_in):
    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota(hook.url), clock.now())
    ana = ids(setup, "SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    start = time.time()
    schedule_drill(drill_app, setup, f"user:{ana}", start - 1)
    jobs(drill_app, start)
    jobs(drill_app, start + 15 * 60 + 1)
    client = drill_app.test_client()
    sign_in(client, *add_user(drill_app, email="boss@example.com"))
    page = client.get("/drills").get_data(as_text=True)
    assert "Nobody acknowledged within 15 minutes." in page and "the receiver answered HTTP 404" in page
    german = client.get("/drills", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Nobody acknowledged" not in german and "15 Minuten" in german


def test_only_admins_reach_drills(drill_app, add_user, sign_in):
    client = drill_app.test_client()
    sign_in(client, *add_user(drill_app, email="r@example.com", admin=False))
    assert client.get("/drills").status_code == 403
    assert client.post("/drills", data={}).status_code == 403
    assert client.post("/drills/1/run").status_code == 403
    assert b'href="/drills"' not in client.get("/settings").data


def test_a_real_worker_process_starts_a_due_drill_and_its_page_arrives(drill_app, database_url, tmp_path, setup_for,
                                                                       smtp, hook):
    """The job as the worker runs it, in a `flask worker` process: the drill starts, its page
    reaches Ana's mailbox, and the worker's log has no error."""
    from servers import start_worker

    setup = setup_for(drill_app)
    with drill_app.app_context():
        import_config(rota(hook.url), clock.now())
    ana = ids(setup, "SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    schedule_drill(drill_app, setup, f"user:{ana}", time.time() - 1)
    worker = start_worker(database_url, tmp_path, CALLGOOSE_SMTP_HOST="127.0.0.1",
                          CALLGOOSE_SMTP_PORT=str(smtp.port), CALLGOOSE_BASE_URL=BASE,
                          CALLGOOSE_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    try:
        mails = smtp.mailbox.wait(1, timeout=60)
    finally:
        worker.terminate()
        assert worker.wait(15) == 0
    assert [m["To"] for m in mails] == ["ana@example.com"]
    assert "Fire drill: please acknowledge" in mails[0]["Subject"]
    assert ids(setup, "SELECT count(*) FROM drill_runs")[0][0] == 1
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert " ERROR " not in log and "Traceback" not in log, log[-2000:]
