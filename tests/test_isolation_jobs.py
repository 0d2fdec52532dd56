"""Isolation of the jobs: no job computes inside a write transaction, and every job runs for
real, in `serve` and in `flask worker`, on both databases, without an error in the log."""

from __future__ import annotations

import time
import traceback
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from helpers import firing, rota_document
from servers import post, running_servers
from sqlalchemy import text

from callgoose import clock
from callgoose.extensions import db
from callgoose.jobs import JOBS
from callgoose.services.catalog import import_config
from callgoose.store import database
from callgoose.store.hotpath import Sql
from callgoose.store.transactions import run_read, run_write

BUDGET = 0.2  # seconds a writer may hold SQLite's write lock
MONDAY_0900 = datetime(2026, 11, 2, 9, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()  # handoffs just began


@pytest.fixture
def holds(monkeypatch):
    """Every write lock held longer than the budget in this process: (seconds, where)."""
    found = []

    def watch(seconds):
        if seconds > BUDGET:
            where = [f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})" for f in traceback.extract_stack()
                     if "/callgoose/" in f.filename][-6:]
            found.append((round(seconds, 3), where))
    monkeypatch.setattr(database, "HOLD_WATCHERS", [watch])
    return found


def test_no_job_or_request_holds_the_write_lock_past_the_budget_on_the_large_rota(make_app, sqlite_url, tmp_path,
                                                                                   setup_for, add_user, sign_in,
                                                                                   holds):
    """20 schedules of 20 hourly layers of 50 people: every job, run as the worker runs it (no
    application context), at a handoff, a minute later and a day later, and a few requests."""
    app = make_app(sqlite_url, tmp_path)
    with app.app_context():
        import_config(rota_document(), clock.now())
        engine = db.engine
    token = setup_for(app).token()
    holds.clear()  # the import itself is one big write, made once by a person
    for now in (MONDAY_0900, MONDAY_0900 + 60, MONDAY_0900 + 86400 + 60):
        for name, (job, _interval) in JOBS.items():
            job(engine, app.config, now, lambda: None)
            assert not holds, f"job {name} held the write lock past {BUDGET} s: {holds}"
    client = app.test_client()
    sign_in(client, *add_user(app))
    assert client.post("/v1/process", json=firing("rota-1"), headers={"Authorization": f"Bearer {token}"}
                       ).status_code == 201
    for path in ("/readiness", "/incidents", "/schedules"):
        assert client.get(path).status_code == 200, path
    assert not holds, f"a request held the write lock past {BUDGET} s: {holds}"


# ---- every job, for real --------------------------------------------------------------------------

RUNS = 3
TIMERS = Sql("SELECT name, last_run_at FROM job_timers")
BEAT = Sql("SELECT heartbeat_at FROM worker_leases")
SET_BACK = Sql("UPDATE job_timers SET next_run_at = :past WHERE name = :name")
HELD = Sql("SELECT s.name, n.status FROM notifications n JOIN incidents i ON i.id = n.incident_id "
           "JOIN services s ON s.id = i.service_id WHERE n.status = 'shadow'")


def _log_errors(instance) -> list[str]:
    lines = []
    for log in sorted(instance.glob("*.log")):
        lines += [f"{log.name}: {line}" for line in log.read_text(errors="replace").splitlines()
                  if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")]
    return lines


@pytest.mark.parametrize("layout", ["serve", "worker"])
def test_every_job_runs_several_times_in_real_processes_without_an_error(make_app, database_url, tmp_path,
                                                                        setup_for, layout):
    """The timers are rows: set back, every job is due again. Each job with an interval must have
    run ``RUNS`` times (its ``last_run_at`` moved), the tick jobs with ``RUNS`` + 1 ticks of the
    leader; and no process may log an error or a traceback."""
    app = make_app(database_url, tmp_path)
    doc = rota_document(schedules=2, layers=3, users=4)
    # Issue 18: a service in a shadow run beside it; the real worker holds what it would page.
    doc["services"].append({**doc["services"][0], "name": "rota-shadow", "shadow": True})
    with app.app_context():
        import_config(doc, clock.now())
    token = setup_for(app).token()
    timed = [name for name, (_job, interval) in JOBS.items() if interval > 0]
    with app.app_context():
        engine = db.engine  # the app's own reads and writes: writers queue on its write lock
    seen: dict[str, set] = {name: set() for name in timed}
    ticks: set = set()
    with running_servers(database_url, tmp_path, worker_process=(layout == "worker")) as ports:
        assert post(ports[0], token, firing("real-1"))[0] == 201  # an incident to escalate and deliver
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            rows, beat = run_read(engine, lambda c: (c.execute(TIMERS).fetchall(), c.execute(BEAT).fetchone()))
            ticks.add(beat and beat[0])
            for name, last in rows:
                if name in seen and last is not None and last not in seen[name]:
                    seen[name].add(last)
                    run_write(engine, lambda c: c.execute(SET_BACK, {"past": datetime(2000, 1, 1), "name": name}))
            if all(len(s) >= RUNS for s in seen.values()) and len(ticks - {None}) > RUNS and \
                    run_read(engine, lambda c: c.execute(HELD).fetchall()):
                break
            time.sleep(0.1)  # polling the rows, with the deadline above
    runs = {name: len(s) for name, s in seen.items()}
    assert all(n >= RUNS for n in runs.values()) and len(ticks - {None}) > RUNS, (runs, len(ticks), _log_errors(tmp_path))
    assert set(timed) <= set(runs)
    with app.app_context(), db.engine.connect() as conn:
        errors = conn.execute(text("SELECT name, last_error FROM job_timers WHERE last_error IS NOT NULL")).all()
    assert errors == []
    assert _log_errors(tmp_path) == []
    held = run_read(engine, lambda c: c.execute(HELD).fetchall())
    assert held and {service for service, _status in held} == {"rota-shadow"}, held  # only its pages are held
    sent_or_tried = run_read(engine, lambda c: c.execute(Sql(
        "SELECT s.name, n.status FROM notifications n JOIN incidents i ON i.id = n.incident_id "
        "JOIN services s ON s.id = i.service_id")).fetchall())
    assert {status for service, status in sent_or_tried if service == "rota-shadow"} == {"shadow"}
