"""Issue 22: on SQLite, calls that queue behind one write transaction share the next one
(store/batch.py). Each caller returns after the commit that holds its writes, gets its own
result, and a work that fails fails alone."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from helpers import ALERTMANAGER, firing, post

from callgoose.extensions import db
from callgoose.store.batch import GroupCommit
from callgoose.store.hotpath import Sql
from callgoose.store.transactions import run_shared, run_write

MAKE = Sql("CREATE TABLE IF NOT EXISTS shared (n INTEGER PRIMARY KEY, who TEXT NOT NULL)")
ADD = Sql("INSERT INTO shared (n, who) VALUES (:n, :who)")


@pytest.fixture
def engine(make_app, sqlite_url, tmp_path):
    app = make_app(sqlite_url, tmp_path)
    with app.app_context():
        found = db.engine
    run_write(found, lambda cursor: cursor.execute(MAKE))
    yield found
    found.dispose()


def committed(engine) -> list[tuple]:
    """What another connection sees: only committed rows."""
    with sqlite3.connect(engine.url.database) as conn:
        return conn.execute("SELECT n, who FROM shared ORDER BY n").fetchall()


def held_while(engine, works: list, start) -> list:
    """Run each work through ``run_shared`` in a thread of its own while this thread holds the
    write lock, so that they queue; let go; return each thread's result or error."""
    outcomes: list = [None] * len(works)

    def call(i, work):
        try:
            outcomes[i] = run_shared(engine, work)
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=call, args=(i, w)) for i, w in enumerate(works)]
    with engine.callgoose_write_lock:
        for thread in threads:
            thread.start()
        start()
        batch = engine.callgoose_batch
        deadline = time.monotonic() + 10
        while len(batch._queue) < len(works) - 1 and time.monotonic() < deadline:
            time.sleep(0.005)  # the first leads (and waits for the lock); the rest queue behind it
    for thread in threads:
        thread.join(10)
    return outcomes


def adds(n: int, who: str):
    def work(cursor):
        cursor.execute(ADD, {"n": n, "who": who})
        return (n, who)
    return work


def test_queued_writes_share_one_transaction_each_with_its_own_result(engine):
    batch: GroupCommit = engine.callgoose_batch
    before = (batch.batches, batch.works)
    outcomes = held_while(engine, [adds(n, f"caller {n}") for n in range(1, 11)], lambda: None)
    assert outcomes == [(n, f"caller {n}") for n in range(1, 11)]
    assert committed(engine) == [(n, f"caller {n}") for n in range(1, 11)]
    # the first alone (it took its batch before the lock was free), the nine behind it together
    assert (batch.batches - before[0], batch.works - before[1]) == (2, 10)


def test_a_failing_work_fails_alone_and_the_others_are_committed(engine):
    def broken(cursor):
        cursor.execute(ADD, {"n": 5, "who": "broken"})
        raise ValueError("this call's own bug")
    works = [adds(n, "ok") for n in range(1, 5)] + [broken] + [adds(n, "ok") for n in range(6, 9)]
    outcomes = held_while(engine, works, lambda: None)
    assert isinstance(outcomes[4], ValueError) and str(outcomes[4]) == "this call's own bug"
    assert [o for i, o in enumerate(outcomes) if i != 4] == [(n, "ok") for n in (1, 2, 3, 4, 6, 7, 8)]
    assert committed(engine) == [(n, "ok") for n in (1, 2, 3, 4, 6, 7, 8)]


def test_a_caller_returns_only_after_its_commit(engine):
    seen = []

    def work(cursor):
        cursor.execute(ADD, {"n": 1, "who": "me"})
        return "done"
    assert run_shared(engine, work) == "done"
    seen.append(committed(engine))
    assert seen == [[(1, "me")]]


def test_concurrent_calls_through_the_server_path_all_open_their_incident(make_app, sqlite_url, tmp_path):
    """The real path: threads POSTing at once, each answered 201 with its own incident, all
    committed, every transaction's calls counted (the batches are what the race gives)."""
    from conftest import Setup
    app = make_app(sqlite_url, tmp_path)
    setup = Setup(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    answers: dict[int, tuple] = {}

    def send(i):
        client = app.test_client()
        answer = post(client, token, firing(f"g{i}", f"alert {i}"))
        answers[i] = (answer.status_code, answer.get_json()["id"])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(s for s, _ in answers.values()) == [201] * 24
    calls = {i for _, i in answers.values()}
    assert {row[0] for row in setup.query("SELECT id FROM api_calls WHERE status = 201")} == calls
    assert sorted(row[0] for row in setup.query("SELECT title FROM incidents")) == sorted(
        f"alert {i}" for i in range(24))
    with app.app_context():
        batch = db.engine.callgoose_batch
        assert batch.works == 24 and 1 <= batch.batches <= 24
