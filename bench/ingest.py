"""``make bench``: ingestion throughput and latency against a bare Flask route, in one run.

Starts the real app under waitress (``flask --app callgoose serve``) on a temporary SQLite
file, and a bare Flask route (bench/bare.py) under the same waitress settings. wrk (a C
load generator, in its own process, one thread) drives both over loopback with
bench/request.lua. Every cell is the median of --repeat runs, interleaved so that
machine noise hits all scenarios alike; ratios are against the bare route at the same
concurrency. It also counts SQL statements per call, and reads the server's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import CONFIG, ROOT, free_port, peak_rss_mb, start, statuses_ok, wrk  # noqa: E402

SCENARIOS = {  # name: (expected status, body template; {n} is a per-request counter)
    "bare": (202, '{"status":"firing","id":"bare-{n}","title":"CPU high on db1"}'),
    "new": (201, '{"status":"firing","id":"new-RUN-{n}","title":"CPU high on db1"}'),
    "replay": (208, '{"status":"firing","id":"replay","title":"CPU high on db1"}'),
    "no rule": (202, '{"status":"pending","id":"x-{n}","title":"CPU high on db1"}'),
    "resolve": (200, '{"status":"resolved","id":"open-{n}"}'),
    # Issue 18: the same new incident through PagerDuty's Events API v2 (a routing key in the body)
    "pagerduty": (202, '{"routing_key":"ROUTING","event_action":"trigger","dedup_key":"pd-RUN-{n}",'
                       '"payload":{"summary":"CPU high on db1","source":"db1","severity":"critical"}}'),
}
PATHS = {"pagerduty": "/v2/enqueue"}  # the rest go to /v1/process


def prepare(instance: Path, open_incidents: int) -> str:
    """Create the database, the service, a token and incidents for the resolve runs."""
    os.environ["CALLGOOSE_INSTANCE_PATH"] = str(instance)
    from sqlalchemy import insert

    from callgoose import clock, create_app
    from callgoose.engine import mapping_key
    from callgoose.extensions import db
    from callgoose.services.catalog import import_config
    from callgoose.services.tokens import ROUTING_KEY, create_token
    from callgoose.store.models import Incident

    app = create_app({"SECRET_KEY": "bench"})
    with app.app_context():
        db.create_all()
        import_config(CONFIG, clock.now())
        _, token = create_token("bench", None, clock.now())
        _, routing = create_token("bench-pagerduty", 1, clock.now(), ROUTING_KEY)
        db.session.commit()
        now = clock.to_db(clock.now())
        rows = [{"service_id": 1, "title": "t", "description": "d", "urgency": "high", "status": "triggered",
                 "mapping_value": f"open-{i}", "mapping_key": mapping_key(f"open-{i}"), "duplicate_count": 0,
                 "created_at": now, "last_seen_at": now} for i in range(1, open_incidents + 1)]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Incident), rows[start:start + 5000])
        db.session.commit()
        db.engine.dispose()
    return token, routing


def count_statements(instance: Path) -> dict[str, float]:
    """SQL statements per call for each scenario, through the real app in this process."""
    from sqlalchemy import event

    from callgoose import clock, create_app
    from callgoose.extensions import db
    from callgoose.services.tokens import ROUTING_KEY, create_token

    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{instance / 'count.sqlite'}"})
    counts = {"n": 0}
    with app.app_context():
        db.create_all()
        from callgoose.services.catalog import import_config
        import_config(CONFIG, clock.now())
        _, token = create_token("count", None, clock.now())
        _, routing = create_token("count-pagerduty", 1, clock.now(), ROUTING_KEY)
        db.session.commit()
        db.engine.dispose()  # new connections get the trace callback: it sees raw-cursor SQL too

        @event.listens_for(db.engine, "connect")
        def trace(dbapi_conn, _record):
            dbapi_conn.set_trace_callback(lambda sql: counts.__setitem__("n", counts["n"] + 1))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    per_call = {}
    plan = [("new", [f'{{"status":"firing","id":"c{i}","title":"t"}}' for i in range(20)]),
            ("replay", ['{"status":"firing","id":"c0","title":"t"}'] * 20),
            ("no rule", ['{"status":"pending"}'] * 20),
            ("resolve", [f'{{"status":"resolved","id":"c{i}"}}' for i in range(1, 20)])]
    for name, bodies in plan:
        counts["n"] = 0
        for body in bodies:
            client.post("/v1/process", data=body, headers=headers)
        per_call[name] = counts["n"] / len(bodies)  # every statement SQLite ran, BEGIN and COMMIT too
    counts["n"] = 0
    for i in range(20):
        client.post("/v2/enqueue", data=SCENARIOS["pagerduty"][1].replace("ROUTING", routing).replace(
            "RUN-{n}", f"c{i}"), headers={"Content-Type": "application/json"})
    per_call["pagerduty"] = counts["n"] / 20
    with app.app_context():
        db.engine.dispose()
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is shown")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, both servers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does this)")
    levels = [int(c) for c in args.concurrency.split(",")]
    budget = int(args.seconds * 5000) + 1000  # open incidents per resolve run, more than it can use
    runs = len(levels) * args.repeat

    instance = Path(tempfile.mkdtemp(prefix="callgoose-bench-"))
    try:
        token, routing = prepare(instance, budget * runs)
        statements = count_statements(instance)
        env = {**os.environ, "CALLGOOSE_INSTANCE_PATH": str(instance), "SECRET_KEY": "bench",
               "PYTHONPATH": str(ROOT)}
        app_port, bare_port = free_port(), free_port()
        app_proc = start([sys.executable, "-m", "flask", "--app", "callgoose", "serve", "--port", str(app_port),
                          "--threads", str(args.threads)], env, app_port, instance / "app.log")
        bare_proc = start([sys.executable, str(ROOT / "bench" / "bare.py"), "--port", str(bare_port),
                           "--threads", str(args.threads)], env, bare_port, instance / "bare.log")
        try:
            wrk(app_port, token, SCENARIOS["replay"][1], 1, 1, 0)  # warm up; opens the replayed incident
            wrk(bare_port, token, SCENARIOS["bare"][1], 1, 1, 0)
            cells: dict[tuple[str, int], list[dict]] = {}
            resolve_run = 0
            for repeat in range(args.repeat):
                for level in levels:
                    for name, (_, body) in SCENARIOS.items():
                        port = bare_port if name == "bare" else app_port
                        start_at = 0
                        if name == "resolve":
                            start_at, resolve_run = resolve_run * budget, resolve_run + 1
                        body = body.replace("RUN", f"{repeat}-{level}").replace("ROUTING", routing)
                        cells.setdefault((name, level), []).append(
                            wrk(port, token, body, level, args.seconds, start_at, PATHS.get(name, "/v1/process")))
            rss = peak_rss_mb(app_proc.pid)
            bare_rss = peak_rss_mb(bare_proc.pid)
        finally:
            for proc in (app_proc, bare_proc):
                proc.terminate()
                proc.wait(timeout=10)
    finally:
        shutil.rmtree(instance, ignore_errors=True)

    print(f"\nCallgoose ingest benchmark: SQLite file, one waitress process with {args.threads} threads, "
          f"wrk -t1 over loopback;\nmedian of {args.repeat} runs of {args.seconds:g}s per cell; "
          f"ratio = requests/s against the bare Flask route at the same concurrency.\n")
    print(f"{'scenario':<10}{'conc':>5}{'req/s':>9}{'ratio':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"  {'statuses (all runs)':<24}{'SQL/call':>9}")
    for name, (expected, _) in SCENARIOS.items():
        for level in levels:
            runs_ = cells[(name, level)]
            med = {k: statistics.median(r[k] for r in runs_) for k in ("rps", "p50", "p95", "p99")}
            bare = statistics.median(r["rps"] for r in cells[("bare", level)])
            sql = f"{statements[name]:.1f}" if name in statements else "-"
            print(f"{name:<10}{level:>5}{med['rps']:>9.0f}{med['rps'] / bare:>8.2f}{med['p50']:>9.2f}"
                  f"{med['p95']:>9.2f}{med['p99']:>9.2f}  {statuses_ok(runs_, expected):<24}{sql:>9}")
    print(f"\npeak RSS: callgoose server {rss:.0f} MiB, bare server {bare_rss:.0f} MiB")


if __name__ == "__main__":
    main()
