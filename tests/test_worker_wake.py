"""Issue 22: the worker's cost to the hot path. A call wakes the worker only when it queued
work for it (a page, an escalation, a webhook event); a wake runs only the jobs that send,
without a lease renewal or timers; an idle tick writes nothing but its lease."""

from __future__ import annotations

import time

import pytest
from helpers import ALERTMANAGER, firing, post, resolved
from sqlcount import Counter
from test_paging import TWO_LEVELS, configure, notifications, people

from callgoose import clock
from callgoose.extensions import db
from callgoose.jobs import HURRIED, JOBS
from callgoose.worker import Worker

NOW = 1_900_000_000.0


class Wakes:
    """Stands in for the serving process's worker: counts the wakes a request gives."""

    def __init__(self):
        self.count = 0

    def wake(self):
        self.count += 1


@pytest.fixture
def wakes(paging_app):
    paging_app.extensions["callgoose_worker"] = found = Wakes()
    yield found
    paging_app.extensions.pop("callgoose_worker", None)


def test_a_call_that_queues_nothing_does_not_wake_the_worker(paging_app, setup_for, wakes):
    setup = setup_for(paging_app)
    setup.services(ALERTMANAGER)  # no policy, no webhook: nobody to page
    client, token = paging_app.test_client(), setup.token()
    assert post(client, token, firing("g1")).status_code == 201
    assert post(client, token, firing("g1", "again")).status_code == 208
    assert post(client, token, resolved("g1")).status_code == 200
    assert wakes.count == 0 and notifications(setup) == []


def test_a_call_that_queues_a_page_wakes_the_worker_once(paging_app, setup_for, wakes):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    client, token = paging_app.test_client(), setup.token()
    assert post(client, token, firing("g1")).status_code == 201
    assert wakes.count == 1 and [n[1] for n in notifications(setup)] == ["page"]
    assert post(client, token, firing("g1", "again")).status_code == 208  # a repeat pages nobody
    assert wakes.count == 1


def test_a_wake_sends_at_once_without_renewing_the_lease(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    worker = Worker(paging_app)
    now = clock.now()
    assert worker.tick(now) is True  # the leader, its lease renewed now
    assert post(paging_app.test_client(), setup.token(), firing("g1")).status_code == 201
    lease = setup.query("SELECT expires_at, heartbeat_at FROM worker_leases")
    assert worker.hurry(now + 0.5) is True
    assert len(smtp.mailbox.wait(1)) == 1  # the page went out on the wake, not a tick later
    deadline = time.monotonic() + 10  # its sender records the outcome on a connection of its own
    while [n[4] for n in notifications(setup)] != ["sent"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [n[4] for n in notifications(setup)] == ["sent"]
    assert setup.query("SELECT expires_at, heartbeat_at FROM worker_leases") == lease
    worker.stop()


def test_a_wake_does_nothing_without_a_fresh_lease(paging_app, setup_for):
    other, worker = Worker(paging_app), Worker(paging_app)
    now = clock.now()
    assert worker.hurry(now) is False  # never ticked: not the leader
    assert other.tick(now) is True and worker.tick(now) is False
    assert worker.hurry(now) is False  # another process leads
    assert other.hurry(now + paging_app.config["WORKER_LEASE_SECONDS"]) is False  # its lease is stale
    assert other.hurry(now) is True
    other.stop()
    worker.stop()


def test_the_hurried_jobs_are_jobs():
    assert set(HURRIED) <= set(JOBS) and "deliver" in HURRIED and "escalate" in HURRIED


def test_an_idle_tick_commits_only_its_lease(dbapp):
    """A guard, as tests/test_hot_path_budget.py is: each tick of an idle worker was ten write
    transactions (a timer read inside one per periodic job, and the outbox's two)."""
    with dbapp.app_context():
        engine = db.engine
    engine.dispose()
    counter = Counter()
    counter.attach(engine)
    worker = Worker(dbapp)
    assert worker.tick(NOW) is True  # the first: the timers' rows and their jobs' first runs
    for step in range(1, 4):
        counter.reset()
        assert worker.tick(NOW + step) is True
        assert counter.commits == 1, step  # the lease
        assert counter.statements <= 16, step  # 14 on both databases today
    worker.stop()
