"""The pager tells you when it is sick: /healthz reports each job's last error and the oldest
waiting page, admins see a banner on every dashboard page, and HEALTH_PING_URL is requested
while paging works (a dead-man's switch)."""

import signal
import time

import pytest

from callgoose.engine.languages import OFFERED
from receivers import WebhookReceiver
from servers import free_port, start_server, start_worker

from callgoose import clock
from callgoose.extensions import db
from callgoose.jobs import ping
from callgoose.services.paging import INSERT_NOTIFICATION, notification
from callgoose.store.hotpath import write_cursor
from callgoose.worker import Worker

LANGUAGES = tuple(code for code in OFFERED if code != "en")
PAGES = ("/incidents", "/services", "/schedules", "/policies", "/notifications", "/calls", "/settings")
BANNER = 'id="health-banner"'


def waiting_page(app, now: float, waited: float) -> None:
    """A page due ``waited`` seconds ago that nobody has sent."""
    with app.app_context(), write_cursor(db.engine) as cursor:
        cursor.execute(INSERT_NOTIFICATION, notification(clock.to_db(now - waited - 5), kind="page", channel="email",
                                                         target="oncall@example.com",
                                                         due_at=clock.to_db(now - waited)))


def tick(app, worker, at: float) -> bool:
    """One tick in an application context, as ``flask worker`` runs them."""
    with app.app_context():
        return worker.tick(at)


def test_healthz_and_the_admin_banner_report_a_failing_job_within_a_minute(dbapp, add_user, sign_in, now):
    dbapp.config["SMTP_PORT"] = "25x"  # a mistyped setting: the delivery job fails on every tick
    client = dbapp.test_client()
    sign_in(client, *add_user(dbapp))
    worker = Worker(dbapp)
    dbapp.extensions["callgoose_worker"] = worker
    assert tick(dbapp, worker, now.value)
    body = client.get("/healthz").get_json()
    assert {"status", "database", "worker", "version"} <= set(body)  # the existing fields stay
    assert body["status"] == "degraded"
    failed = body["jobs"]["deliver"]
    assert failed["last_error"].startswith("ValueError") and failed["last_run_at"].endswith("Z")
    assert body["jobs"]["escalate"]["last_error"] is None and body["jobs"]["retention"]["last_error"] is None
    assert body["outbox"] == {"oldest_pending_seconds": None}
    for path in PAGES:  # the banner is on every dashboard page
        page = client.get(path).get_data(as_text=True)
        assert BANNER in page and "deliver" in page and "ValueError" in page, path
    for language in LANGUAGES:  # and in the admin's language
        page = client.get("/incidents", headers={"Accept-Language": language}).get_data(as_text=True)
        assert f'lang="{language}"' in page and BANNER in page, language
        assert "Callgoose is not working properly" not in page and "The background job" not in page, language
        if language == "de":
            assert "Callgoose arbeitet nicht richtig" in page
    dbapp.config["SMTP_PORT"] = None  # fixed: the next tick clears the error and the banner
    now.set(1)
    tick(dbapp, worker, now.value)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["jobs"]["deliver"]["last_error"] is None
    assert BANNER not in client.get("/incidents").get_data(as_text=True)
    worker.stop()


def test_the_banner_shows_only_to_admins(dbapp, add_user, sign_in, now):
    dbapp.config["SMTP_PORT"] = "25x"
    add_user(dbapp)
    client = dbapp.test_client()
    sign_in(client, *add_user(dbapp, email="responder@example.com", admin=False))
    worker = Worker(dbapp)
    tick(dbapp, worker, now.value)
    assert client.get("/healthz").get_json()["status"] == "degraded"
    for path in PAGES:
        assert BANNER not in client.get(path).get_data(as_text=True), path
    worker.stop()


def test_healthz_and_the_banner_report_a_page_waiting_longer_than_a_minute(app, client, add_user, sign_in, now):
    sign_in(client, *add_user(app))
    Worker(app).tick(now.value - 1)  # the worker ticked a second ago; this page it did not send
    waiting_page(app, now.value, 30)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["outbox"]["oldest_pending_seconds"] == pytest.approx(30, abs=1)
    assert BANNER not in client.get("/incidents").get_data(as_text=True)
    waiting_page(app, now.value, 90)
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded" and body["outbox"]["oldest_pending_seconds"] == pytest.approx(90, abs=1)
    page = client.get("/services").get_data(as_text=True)
    assert BANNER in page and "waited 90 seconds" in page


def test_the_ping_is_sent_once_a_minute_while_paging_works(app):
    with WebhookReceiver() as receiver:
        app.config["HEALTH_PING_URL"] = receiver.url + "?from=callgoose"
        worker = Worker(app)
        t = clock.now()
        worker.tick(t)
        first = receiver.wait(1)
        assert first[0]["method"] == "GET" and first[0]["path"] == "/hook?from=callgoose"
        worker.tick(t + 30)
        worker.tick(t + 59)
        assert len(receiver.requests) == 1  # once a minute, not once a tick
        worker.tick(t + 61)
        receiver.wait(2)
        worker.stop()


def test_no_ping_while_a_job_fails_or_a_page_waits(app):
    with WebhookReceiver() as receiver:
        app.config.update(HEALTH_PING_URL=receiver.url, SMTP_PORT="25x")
        worker = Worker(app)
        t = clock.now()
        worker.tick(t)  # the delivery job failed in this tick: no ping
        worker.tick(t + 61)
        assert receiver.requests == []
        app.config["SMTP_PORT"] = None
        worker.tick(t + 122)
        receiver.wait(1)
        waiting_page(app, t + 200, 90)
        said = ping.run(_engine(app), app.config, t + 200)
        assert "skipped" in said and len(receiver.requests) == 1
        worker.stop()


def _engine(app):
    with app.app_context():
        return db.engine


def test_a_ping_that_fails_is_reported_and_never_holds_the_tick(app):
    with WebhookReceiver(statuses=[503]) as receiver:
        app.config.update(HEALTH_PING_URL=receiver.url, DELIVERY_TIMEOUT_SECONDS=1)
        worker = Worker(app)
        t = clock.now()
        worker.tick(t)
        receiver.wait(1)
        body = app.test_client().get("/healthz").get_json()
        assert "503" in body["jobs"]["ping"]["last_error"] and body["status"] == "degraded"
        worker.tick(t + 61)  # its own failure does not stop the next ping
        receiver.wait(2)
        worker.stop()
    slow = WebhookReceiver()
    slow.drip = 0.4  # answers a byte every 0.4 s: 10 s for a status line
    with slow as receiver:
        app.config["HEALTH_PING_URL"] = receiver.url
        worker = Worker(app)
        started = time.monotonic()
        worker.tick(t + 200)
        assert time.monotonic() - started < 3  # bounded by the 1 s deadline, not by the receiver
        body = app.test_client().get("/healthz").get_json()
        assert "1 s" in body["jobs"]["ping"]["last_error"]
        worker.stop()


def test_a_ping_url_that_is_not_http_is_refused_at_start(make_app, sqlite_url, tmp_path):
    with pytest.raises(ValueError, match="HEALTH_PING_URL"):
        make_app(sqlite_url, tmp_path, HEALTH_PING_URL="ftp://example.com/ping")
    with pytest.raises(ValueError, match="HEALTH_PING_URL"):
        make_app(sqlite_url, tmp_path, HEALTH_PING_URL="http://example.com:port/ping")
    with pytest.raises(ValueError, match="HEALTH_PING_INTERVAL_SECONDS"):
        make_app(sqlite_url, tmp_path, HEALTH_PING_INTERVAL_SECONDS=0)


def _pings(receiver) -> int:
    with receiver.lock:
        return len(receiver.requests)


@pytest.mark.slow
def test_a_running_pager_pings_and_stops_when_killed(prepared, tmp_path):
    """docs/deploy.md's layout: ``serve --no-worker`` and one ``flask worker`` (the leader).
    (On this branch ``serve`` with its worker in a thread does not ping: its readiness job fails
    outside an application context, /healthz says so, and the ping is skipped, as it should be.
    With iso-jobs' readiness fix merged, this test passes with a plain ``serve`` too.)"""
    url, _, _ = prepared
    with WebhookReceiver() as receiver:
        env = {"CALLGOOSE_HEALTH_PING_URL": receiver.url, "CALLGOOSE_HEALTH_PING_INTERVAL_SECONDS": "1",
               "CALLGOOSE_WORKER_TICK_SECONDS": "1"}
        procs = [start_server(url, tmp_path, free_port(), 4, "--no-worker", **env), start_worker(url, tmp_path, **env)]
        try:
            receiver.wait(3, timeout=30)  # a ping a second while the pager pages
            for proc in procs:  # the whole server dies
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            after = _pings(receiver)
            deadline = time.monotonic() + 4  # four intervals: a live pager would have pinged
            while time.monotonic() < deadline:
                assert _pings(receiver) == after
                time.sleep(0.2)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
