"""One clock for timers (issue 16, low): a timer written by one process is compared, by another,
with the database's clock, not with that other process's own. A ``flask worker`` whose system
clock runs ten minutes ahead (libfaketime) must not escalate a level due in five minutes."""

from __future__ import annotations

import shutil
import time

import pytest
from helpers import firing, post
from servers import start_worker
from test_paging import TWO_LEVELS, configure, people

from callgoose.extensions import db

FAKETIME = shutil.which("faketime")
LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(FAKETIME is None, reason="needs libfaketime (Debian's faketime; .ci/run installs it)")
def test_a_worker_whose_clock_runs_ahead_escalates_by_the_database_s_clock(make_app, pg_url, setup_for, tmp_path):
    app = make_app(pg_url, tmp_path, WORKER_TICK_SECONDS=1)
    setup = setup_for(app)
    configure(app, people(TWO_LEVELS))  # level 2 is due five minutes after level 1
    assert post(app.test_client(), setup.token(), firing("g1")).status_code == 201
    lib = next(iter(sorted(__import__("glob").glob("/usr/lib/*/faketime/libfaketime.so.1"))), LIB)
    worker = start_worker(pg_url, tmp_path, CALLGOOSE_WORKER_TICK_SECONDS="1", LD_PRELOAD=lib,
                          FAKETIME="+600", FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_NO_CACHE="1")
    try:
        deadline = time.monotonic() + 30
        ticks = 0
        while time.monotonic() < deadline and ticks < 4:  # the worker's heartbeat moved four times
            beat = setup.query("SELECT heartbeat_at FROM worker_leases WHERE name = 'worker'")
            if beat and beat[0][0] is not None:
                ticks += 1
                seen = beat[0][0]
                while time.monotonic() < deadline and setup.query(
                        "SELECT heartbeat_at FROM worker_leases WHERE name = 'worker'")[0][0] == seen:
                    time.sleep(0.1)
            else:
                time.sleep(0.1)
        assert ticks == 4, (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        worker.terminate()
        worker.wait(15)
    levels = setup.query("SELECT DISTINCT level FROM notifications WHERE kind = 'page'")
    assert levels == [(0,)], "the worker escalated by its own clock, ten minutes ahead of the database's"
    with app.app_context():
        db.engine.dispose()
