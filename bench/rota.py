"""What a large rota costs ingestion (the isolation issue): 20 schedules of 20 hourly layers of
50 people, imported into a fresh SQLite database; a real ``serve`` with its worker; ingestion at a
steady rate while the handoff, gap and readiness jobs are made due again every few seconds.
Printed beside the same server without the rota and beside the bare route (bench/bare.py).

    python bench/rota.py [--seconds 60] [--rate 20]

Latencies are per call, new incident each, one client at a steady rate (a late call does not
delay the next one's start: each has its own thread).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import env_for, flask, median, percentile, prepare, serve, serve_bare, stop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import rota_document  # noqa: E402

DUE = ("handoffs", "gaps", "readiness")


def post_once(port: int, token: str, n: int, results: list) -> None:
    body = json.dumps({"status": "firing", "id": f"rota-{n}", "title": "CPU high on db1"}).encode()
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/v1/process", body=body, headers={"Authorization": f"Bearer {token}",
                                                                 "Content-Type": "application/json"})
        status = conn.getresponse().status
    except OSError:
        status = 0
    finally:
        conn.close()
    results.append((time.perf_counter() - started, status))


def keep_jobs_due(database: Path, stop_at: float) -> None:
    """Set the handoff, gap and readiness timers back every 3 s, so they run again and again."""
    while time.monotonic() < stop_at:
        try:
            with sqlite3.connect(database, timeout=60) as conn:
                conn.execute("UPDATE job_timers SET next_run_at = '2000-01-01 00:00:00.000000' WHERE name IN "
                             f"({', '.join('?' * len(DUE))})", DUE)
        except sqlite3.Error:
            pass
        time.sleep(3)


def drive(port: int, token: str, seconds: float, rate: float, database: Path | None) -> list:
    results: list = []
    stop_at = time.monotonic() + seconds
    if database is not None:
        threading.Thread(target=keep_jobs_due, args=(database, stop_at), daemon=True).start()
    threads, n, started = [], 0, time.monotonic()
    while time.monotonic() < stop_at:
        threads.append(threading.Thread(target=post_once, args=(port, token, n, results)))
        threads[-1].start()
        n += 1
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
    for t in threads:
        t.join(90)
    return results


def case(label: str, kind: str, seconds: float, rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        database = instance / "callgoose.sqlite"
        env = env_for(f"sqlite:///{database}", instance)
        token = prepare(env, instance)
        if kind == "rota":
            doc = rota_document()
            doc["services"] = []
            (instance / "rota.json").write_text(json.dumps(doc))
            flask(env, "import-config", str(instance / "rota.json"))
        if kind == "bare":
            proc, port = serve_bare(env, instance)
        else:
            proc, port = serve(env, instance, worker=True)
        try:
            results = drive(port, token, seconds, rate, None if kind == "bare" else database)
        finally:
            try:
                stop(proc)
            except subprocess.TimeoutExpired:  # stuck in a job: say so, and end it
                print(f"  (!) {label}: the server did not stop within 15 s of SIGTERM; killed")
                proc.kill()
                proc.wait()
        ms = [r[0] * 1000 for r in results]
        statuses: dict = {}
        for _, status in results:
            statuses[status] = statuses.get(status, 0) + 1
        print(f"{label:<30} n={len(ms):<5} p50 {median(ms):7.1f} ms  p99 {percentile(ms, 99):8.1f} ms  "
              f"max {max(ms):8.1f} ms  statuses {dict(sorted(statuses.items()))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--only", choices=["bare", "plain", "rota"])
    args = parser.parse_args()
    print(f"bench/rota.py: {args.rate:g} calls/s for {args.seconds:g} s, SQLite, serve with its worker")
    for label, kind in (("bare route", "bare"), ("callgoose, no rota", "plain"), ("callgoose, 20x20x50 rota", "rota")):
        if args.only in (None, kind):
            case(label, kind, args.seconds, args.rate)


if __name__ == "__main__":
    main()
