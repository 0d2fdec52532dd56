"""Issue 7 (item 5): one background worker across processes, chosen by the database; /healthz."""

import json
import signal
import time
import urllib.request

import pytest
from servers import free_port, start_server

from callgoose import clock, create_app
from callgoose.extensions import db
from callgoose.services.ingestion import INSERT_CALL
from callgoose.store.hotpath import write_cursor
from callgoose.worker import Worker

NOW = 1_900_000_000.0


def old_call(app, i: int, age_days: float = 40):
    with app.app_context():
        with write_cursor(db.engine) as cursor:
            cursor.execute(INSERT_CALL, {"id": f"00000000-0000-7000-8000-{i:012d}",
                                         "received_at": clock.to_db(NOW - age_days * 86400), "token_id": None,
                                         "token_name": "t", "source": None, "content_type": None, "size": 0,
                                         "payload_digest": None, "status": 202, "results": "[]",
                                         "services": ",", "error": None, "replay_of": None})


def calls(app) -> int:
    with app.app_context(), db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM api_calls").scalar_one()


def test_exactly_one_leader_and_a_takeover_after_the_lease(dbapp):
    first, second = Worker(dbapp), Worker(dbapp)
    lease = dbapp.config["WORKER_LEASE_SECONDS"]
    assert first.tick(NOW) is True
    for step in range(3):
        assert second.tick(NOW + step) is False and first.tick(NOW + step) is True
    first._drop_lock_connection()  # the leader dies: its process (and its connection) are gone
    if dbapp.config["DATABASE_URL"].startswith("postgresql"):
        # The advisory lock goes when the server has seen the connection close: within a tick.
        deadline = time.monotonic() + 5
        while not second.tick(NOW + 3) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.leader
    else:
        assert second.tick(NOW + 3 + lease / 2) is False  # the lease row still holds
    assert second.tick(NOW + 4 + lease) is True
    second.stop()


def test_a_stopped_leader_hands_over_at_once(dbapp):
    first, second = Worker(dbapp), Worker(dbapp)
    assert first.tick(NOW) and not second.tick(NOW)
    first.stop()
    assert second.tick(NOW + 1) is True
    second.stop()


def test_retention_runs_when_its_timer_is_due(setup_for, dbapp):
    worker = Worker(dbapp)
    old_call(dbapp, 1)
    assert worker.tick(NOW) and calls(dbapp) == 0
    old_call(dbapp, 2)
    worker.tick(NOW + 60)
    assert calls(dbapp) == 1  # not due yet: the timer is a row, an hour on
    worker.tick(NOW + 3601)
    assert calls(dbapp) == 0
    timer = setup_for(dbapp).query("SELECT last_error FROM job_timers WHERE name = 'retention'")
    assert timer == [(None,)]
    worker.stop()


def test_healthz_reports_database_and_worker(dbapp):
    client = dbapp.test_client()
    body = client.get("/healthz").get_json()
    assert set(body) == {"status", "database", "worker", "version", "jobs", "outbox"}
    assert body["database"] == "ok" and body["status"] == "degraded"  # no worker has ticked
    assert body["worker"] == {"leader": False, "last_tick_at": None}  # wsgi:app starts no worker
    worker = Worker(dbapp)
    dbapp.extensions["callgoose_worker"] = worker
    worker.tick()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["worker"]["leader"] is True, body
    assert body["worker"]["last_tick_at"].endswith("Z")
    worker.stop()


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "error"
    with app.app_context():
        db.engine.dispose()


def health(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_two_server_processes_one_leader_and_a_takeover_after_sigkill(prepared, tmp_path):
    url, _, _ = prepared
    env = {"CALLGOOSE_WORKER_TICK_SECONDS": "1", "CALLGOOSE_WORKER_LEASE_SECONDS": "3"}
    ports = [free_port(), free_port()]
    procs = [start_server(url, tmp_path, port, **env) for port in ports]
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            leaders = [health(p)["worker"]["leader"] for p in ports]
            if sum(leaders) == 1:
                break
            time.sleep(0.3)
        assert sum(leaders) == 1, leaders
        for _ in range(5):  # and it stays one
            time.sleep(0.5)
            assert sum(health(p)["worker"]["leader"] for p in ports) == 1
        leader = leaders.index(True)
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait(10)
        other = ports[1 - leader]
        started = time.monotonic()
        while not health(other)["worker"]["leader"]:
            assert time.monotonic() - started < 30, "no takeover within 30 s"
            time.sleep(0.3)
        assert health(other)["status"] == "ok"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_a_long_job_renews_the_lease(dbapp, monkeypatch):
    from callgoose import jobs

    leader, other = Worker(dbapp), Worker(dbapp)
    dbapp.config["WORKER_TICK_SECONDS"] = 1
    seen = []

    def long_job(engine, config, now, keep_alive):
        started = time.monotonic()
        for step in range(3):  # the job runs past the lease: its clock moves on
            elapsed = (step + 1) * (config["WORKER_LEASE_SECONDS"] - 1)
            monkeypatch.setattr("callgoose.worker.time.monotonic", lambda elapsed=elapsed: started + elapsed)
            keep_alive()
            seen.append(other.tick(NOW + elapsed))
        return "done"

    monkeypatch.setattr(jobs, "JOBS", {"long": (long_job, 3600)})
    monkeypatch.setattr("callgoose.worker.JOBS", {"long": (long_job, 3600)})
    assert leader.tick(NOW)
    assert seen == [False, False, False]  # the lease never lapsed, so no second worker started
    leader.stop()
    other.stop()


@pytest.mark.postgres
def test_two_installs_in_two_schemas_of_one_postgresql_database_each_have_a_leader(make_app, tmp_path):
    """The advisory lock is the install's, not the database's: two Callgoose installs (or two
    tests) in two schemas of one database each elect their own leader."""
    from conftest import pg_schema
    with pg_schema() as first, pg_schema() as second:
        apps = [make_app(url, tmp_path / str(i)) for i, url in enumerate((first, second))]
        workers = [Worker(app) for app in apps]
        try:
            assert [w.tick(NOW) for w in workers] == [True, True]
        finally:
            for worker, app in zip(workers, apps):
                worker._drop_lock_connection()
                with app.app_context():
                    db.engine.dispose()


def test_the_leader_hands_its_sender_pool_to_the_deliver_job(dbapp):
    """The deliver job gets the worker's long-lived senders even when wrapped (JOBS wraps the
    every-tick jobs to record their outcome): without them it sends inside the tick, and a
    dripping receiver holds every other page (a merge once broke this by comparing identities)."""
    worker = Worker(dbapp)
    try:
        assert worker.tick(NOW) is True
        assert worker._senders is not None
    finally:
        worker.stop()
