"""Issue 6 B and E: the server under faults, as real processes (idle clients, SIGTERM, SIGKILL,
a database that cannot be written), and retention in small batches."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import ALERTMANAGER, firing
from servers import free_port, post, start_server

from callgoose.extensions import db

pytestmark = pytest.mark.slow


def until(condition, timeout: float) -> bool:
    """Wait for ``condition()`` to hold, up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def accepts(port: int) -> bool:
    """Whether a new connection to ``port`` is taken (False: refused or reset)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.settimeout(0.2)
            try:
                sock.recv(1)
            except TimeoutError:
                pass
            return True
    except OSError:
        return False


def healthz(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    finally:
        conn.close()


def stop(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


# -- B6: idle connections do not stall the server ---------------------------------------------

def test_b6_a_thousand_idle_connections_do_not_stall_a_call(prepared, tmp_path):
    url, setup, token = prepared
    port = free_port()
    proc = start_server(url, tmp_path, port)
    idle = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        started = time.monotonic()
        status, _ = post(port, token, firing("through"))
        assert status == 201
        assert time.monotonic() - started < 10  # a bound on waiting, not a speed claim
    finally:
        for sock in idle:
            sock.close()
        stop(proc)


def test_b6_idle_clients_are_dropped_after_the_idle_timeout(prepared, tmp_path):
    url, setup, token = prepared
    port = free_port()
    proc = start_server(url, tmp_path, port, CALLGOOSE_IDLE_TIMEOUT_SECONDS="2")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            assert sock.recv(1) == b""  # the server closed the idle connection
    finally:
        stop(proc)


# -- B7: SIGTERM finishes the calls in flight ------------------------------------------------------

def test_b7_sigterm_lets_calls_in_flight_finish_then_exits_0(prepared, tmp_path):
    url, setup, token = prepared
    port = free_port()
    proc = start_server(url, tmp_path, port)
    bodies = [json.dumps(firing(f"inflight-{i}")).encode() for i in range(8)]
    conns = []
    for body in bodies:  # each call sends its headers and half its body, then waits
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"POST /v1/process HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                     + body[:10])
        conns.append(sock)
    # waitress accepts connections in order: once a later one is answered, the eight are its own
    assert healthz(port) == 200
    proc.send_signal(signal.SIGTERM)
    assert until(lambda: not accepts(port), 10), "new connections were still accepted after SIGTERM"
    statuses = []
    for sock, body in zip(conns, bodies):
        sock.sendall(body[10:])
        response = http.client.HTTPResponse(sock)
        response.begin()
        statuses.append(response.status)
        sock.close()
    assert statuses == [201] * 8
    assert proc.wait(15) == 0
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 8


# -- B8: a database that cannot be written, then can --------------------------------------------

def _immutable(path: Path, on: bool):
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)


def test_b8_unwritable_database_at_start_answers_500_then_heals(make_app, setup_for, sqlite_url, tmp_path):
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("needs root and chattr to make a file unwritable for this test's server")
    app = make_app(sqlite_url, tmp_path)
    setup = setup_for(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    with app.app_context():
        db.engine.dispose()
    database = tmp_path / "callgoose.sqlite"
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"callgoose.sqlite{suffix}").unlink(missing_ok=True)
    _immutable(database, True)
    port = free_port()
    proc = None
    try:
        proc = start_server(sqlite_url, tmp_path, port)
        status, body = post(port, token, firing("while-readonly"))
        assert status == 500 and body["error"] == "temporary"
        _immutable(database, False)
        deadline = time.monotonic() + 10
        while True:
            status, _ = post(port, token, firing("after"))
            if status == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 201
        assert post(port, token, firing("while-readonly"))[0] == 201  # the refused call, retried
    finally:
        _immutable(database, False)
        if proc:
            stop(proc)


# -- E: SIGKILL three times under a sender that retries like Alertmanager ---------------------

def test_sigkill_three_times_loses_nothing_and_doubles_nothing(prepared, tmp_path):
    url, setup, token = prepared
    port = free_port()
    proc = start_server(url, tmp_path, port)
    keys = [f"k{i}" for i in range(900)]
    acknowledged = Counter()
    sent = Counter()
    stop_sending = threading.Event()
    lock = threading.Lock()

    def sender(my_keys):
        for key in my_keys:
            delay = 0.05
            while not stop_sending.is_set():  # retry 5xx and connection errors, like Alertmanager
                with lock:
                    sent[key] += 1
                try:
                    status, _ = post(port, token, firing(key))
                except (OSError, http.client.HTTPException, json.JSONDecodeError):
                    status = None
                if status is not None and 200 <= status < 300:
                    with lock:
                        acknowledged[key] += 1
                    break
                time.sleep(delay)
                delay = min(delay * 1.5, 1)

    threads = [threading.Thread(target=sender, args=(keys[i::5],)) for i in range(5)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):  # each kill lands while calls are being answered
            before = sum(acknowledged.values())
            assert until(lambda: sum(acknowledged.values()) >= before + 20, 30), "no calls answered"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start_server(url, tmp_path, port)
        for thread in threads:
            thread.join(45)
    finally:
        stop_sending.set()
        stop(proc)
    assert set(acknowledged) == set(keys)
    rows = setup.query("SELECT mapping_value, count(*) FROM incidents GROUP BY mapping_value")
    found = dict(rows)
    lost = [k for k in keys if k not in found]
    doubled = [k for k, n in found.items() if n > 1]
    print(f"\nfault test: sent {sum(sent.values())}, acknowledged {sum(acknowledged.values())}, "
          f"found {len(found)}, lost {len(lost)}, doubled {len(doubled)}")
    assert lost == [] and doubled == []
    active = setup.query("SELECT service_id, mapping_key, count(*) FROM incidents WHERE status IN "
                         "('triggered', 'acknowledged') GROUP BY service_id, mapping_key HAVING count(*) > 1")
    assert active == []


# -- B9: retention in small batches -------------------------------------------------------------

def test_b9_prune_deletes_in_batches_while_ingestion_goes_on(setup_for, dbapp):
    from callgoose import clock
    from callgoose.services.retention import prune
    from callgoose.store.hotpath import write_cursor

    setup = setup_for(dbapp)
    setup.services(ALERTMANAGER)
    token = setup.token()
    old = clock.to_db(clock.now() - 40 * 86400)
    with dbapp.app_context():
        with write_cursor(db.engine) as cursor:
            from callgoose.services.ingestion import INSERT_CALL
            cursor.executemany(INSERT_CALL, [{"id": f"00000000-0000-7000-8000-{i:012d}", "received_at": old,
                                              "token_id": None, "token_name": "t", "source": None,
                                              "content_type": None, "size": 0, "payload_digest": None, "status": 202,
                                              "results": "[]", "services": ",", "error": None, "replay_of": None}
                                             for i in range(3000)])
    client = dbapp.test_client()
    assert client.post("/v1/process", json=firing(), headers={"Authorization": f"Bearer {token}"}).status_code == 201
    seen = []
    with dbapp.app_context():
        result = prune(db.engine, clock.now(), 30, 300, seen.append)
    assert result.calls == 3000 and result.batches >= 3
    assert seen == sorted(seen) and seen[-1] == 3000
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == 1


@pytest.mark.postgres
def test_lost_postgresql_connections_cost_no_call(setup_for, make_app, add_user, sign_in, pg_url, tmp_path):
    """A PostgreSQL restart (or a proxy) drops every pooled connection. The pool does not ping
    on each checkout (a round trip a call), so the first call after the loss meets dead
    connections: it must still be stored and answered, and so must a dashboard page."""
    import psycopg
    from helpers import post as post_json

    app = make_app(pg_url, tmp_path)
    setup = setup_for(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    client = app.test_client()
    sign_in(client, *add_user(app))
    for key in ("a", "b", "c"):  # several pooled connections, each used
        assert post_json(client, token, firing(key)).status_code == 201
    with app.app_context():
        raws = [db.engine.raw_connection() for _ in range(3)]
        pids = [raw.dbapi_connection.info.backend_pid for raw in raws]
        for raw in raws:
            raw.close()
    with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits until it is gone
    assert client.get("/incidents").status_code == 200  # a page, on the ORM's side of the pool
    assert post_json(client, token, firing("after")).status_code == 201
    assert post_json(client, token, firing("after")).status_code == 208
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 4
    assert client.get("/healthz").status_code == 200
