"""S28: exactly once under concurrency, on real servers, SQLite and PostgreSQL, 1 or 2 processes."""

import threading
from collections import Counter

import pytest
from helpers import ALERTMANAGER, firing
from servers import post, running_servers
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from callgoose.extensions import db

N = 50


def fire_together(ports, token, bodies):
    """Send every body at the same moment from its own thread, spread over the servers."""
    barrier = threading.Barrier(len(bodies))
    results = [None] * len(bodies)

    def send(i):
        barrier.wait()
        results[i] = post(ports[i % len(ports)], token, bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_s28_identical_requests_at_once_give_one_call_and_the_rest_duplicates(prepared, tmp_path, processes):
    url, setup, token = prepared
    with running_servers(url, tmp_path, count=processes, threads=8) as ports:
        results = fire_together(ports, token, [firing()] * N)
    assert Counter(status for status, _ in results) == {201: 1, 208: N - 1}
    assert setup.query("SELECT count(*), sum(duplicate_count) FROM incidents")[0] == (1, 0)
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == N
    assert len({body["id"] for _, body in results}) == N


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_s28_different_payloads_with_one_mapping_value_give_one_active_incident(prepared, tmp_path, processes):
    url, setup, token = prepared
    with running_servers(url, tmp_path, count=processes, threads=8) as ports:
        results = fire_together(ports, token, [firing(summary=f"variant {i}") for i in range(N)])
    assert Counter(status for status, _ in results) == {201: 1, 208: N - 1}
    assert setup.query("SELECT count(*), sum(duplicate_count) FROM incidents")[0] == (1, N - 1)
    # Repeats are counted on the incident, not written to the timeline (issue 7, item 8);
    # each of the N calls changed the incident once, and the change counter saw every one.
    assert setup.query("SELECT kind FROM incident_events") == [("created",)]
    assert setup.query("SELECT version FROM incidents")[0][0] == N
    assert setup.query("SELECT sum(value) FROM change_counters")[0][0] == N


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_s28_identical_repeats_of_an_open_incident_count_one_duplicate(prepared, tmp_path, processes):
    """The subject's marker exists already: only one of the N may be processed (S26), N-1 are replays."""
    url, setup, token = prepared
    with running_servers(url, tmp_path, count=processes, threads=8) as ports:
        assert post(ports[0], token, firing(summary="first"))[0] == 201
        results = fire_together(ports, token, [firing(summary="again")] * N)
    assert Counter(status for status, _ in results) == {208: N}
    assert setup.query("SELECT count(*), sum(duplicate_count) FROM incidents")[0] == (1, 1)
    assert setup.query("SELECT version, first_repeat_at IS NOT NULL FROM incidents")[0] == (2, True)


@pytest.mark.slow
def test_s28_two_servers_and_a_worker_process_as_deployed(prepared, tmp_path):
    """docs/deploy.md's layout: two servers with --no-worker and one worker process."""
    import json
    import time
    import urllib.request

    url, setup, token = prepared
    with running_servers(url, tmp_path, count=2, threads=8, worker_process=True) as ports:
        results = fire_together(ports, token, [firing("same")] * N)
        variants = fire_together(ports, token, [firing("variants", summary=f"v{i}") for i in range(N)])
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/healthz", timeout=5) as response:
                health = json.loads(response.read())
            if health["status"] == "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert Counter(status for status, _ in results) == {201: 1, 208: N - 1}
    assert Counter(status for status, _ in variants) == {201: 1, 208: N - 1}
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 2
    assert health["status"] == "ok" and health["worker"]["leader"] is False  # the worker process leads
    assert setup.query("SELECT count(*) FROM worker_leases WHERE heartbeat_at IS NOT NULL")[0][0] == 1


def test_s28_the_database_refuses_a_second_active_incident_per_mapping(make_app, setup_for, database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    setup_for(app).services(ALERTMANAGER)
    insert = text("INSERT INTO incidents (service_id, title, description, urgency, status, mapping_value, "
                  "mapping_key, duplicate_count, created_at, last_seen_at) VALUES (1, 't', 'd', 'high', "
                  ":status, 'm', 'k', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(insert, {"status": "resolved"})
            conn.execute(insert, {"status": "resolved"})  # resolved ones may repeat
            conn.execute(insert, {"status": "triggered"})
        with pytest.raises(IntegrityError):
            with db.engine.begin() as conn:
                conn.execute(insert, {"status": "acknowledged"})
        db.engine.dispose()
