"""``make bench``: ingestion throughput, latency and cost against a bare Flask route, in one run.

Starts the real app under waitress (``flask --app callgoose serve``) on a temporary SQLite
file, and a bare Flask route (bench/bare.py) under the same waitress settings. wrk (a C
load generator, in its own process, one thread) drives both over loopback with
bench/request.lua. Every cell is the median of --repeat runs, interleaved so that machine
noise hits all scenarios alike; each run starts once the server is idle (bench/common.settle),
so what the last run left queued is not counted in the next. ``--only new,replay`` runs some
scenarios.

Scenarios (tests/sqlcount.py defines their bodies, shared with the guard test
tests/test_hot_path_budget.py): ``new`` opens an incident (201); ``replay`` repeats one
payload within the duplicate window (208); ``duplicate`` is another payload for the same open
incident (208, its repeat counted); ``no rule`` matches nothing (202); ``resolve`` resolves an
open incident (200); ``split`` is one Alertmanager POST of 50 alerts split on ``alerts[]``,
50 new incidents (201); ``pagerduty`` opens an incident through PagerDuty's Events API v2
(``/v2/enqueue``, a routing key in the body, 202).

Columns:
  req/s     answered calls per second (wrk's count over its duration)
  ratio     req/s against the bare route at the same concurrency, in the same run
  p50/p95/p99 latency in ms (wrk)
  CPU ms    the server process's CPU time (utime + stime in /proc/<pid>/stat, read before
            and after the cell) divided by the requests wrk counted: every thread of the
            process, its background worker included; 10 ms clock ticks, so short cells are coarse
  SQL       statements per call (BEGIN and COMMIT included), counted in this process through
            the real app on its own SQLite file (tests/sqlcount.py), not under load
  commits   COMMITs per call, counted the same way
  RSS MiB   the server's peak resident set during the cell (VmHWM, reset before each cell
            through /proc/<pid>/clear_refs; where that is refused, the peak so far)
  statuses  every status the runs saw; (!) when one is not the expected or a socket failed
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

from common import ROOT, cpu_ms, free_port, peak_rss_mb, settle, start, statuses_ok, wrk  # noqa: E402
from sqlcount import OPENED_FIRST, SCENARIOS, SERVICE, count_calls, request_for  # noqa: E402

BARE = '{"status":"firing","id":"bare-{n}","title":"CPU high on db1"}'


def prepare(instance: Path, open_incidents: int):
    """Create the database, the services, their tokens and incidents for the resolve runs."""
    os.environ["CALLGOOSE_INSTANCE_PATH"] = str(instance)
    from sqlalchemy import insert, select

    from callgoose import clock, create_app
    from callgoose.engine import mapping_key
    from callgoose.extensions import db
    from callgoose.store.models import Incident, Service
    from sqlcount import prepare as add_services

    app = create_app({"SECRET_KEY": "bench"})
    with app.app_context():
        db.create_all()
    tokens = add_services(app)
    with app.app_context():
        sid = db.session.execute(select(Service.id).where(Service.name == SERVICE["name"])).scalar_one()
        now = clock.to_db(clock.now())
        rows = [{"service_id": sid, "title": "t", "description": "d", "urgency": "high", "status": "triggered",
                 "mapping_value": f"open-{i}", "mapping_key": mapping_key(f"open-{i}"), "duplicate_count": 0,
                 "created_at": now, "last_seen_at": now} for i in range(1, open_incidents + 1)]
        for first in range(0, len(rows), 5000):
            db.session.execute(insert(Incident), rows[first:first + 5000])
        db.session.commit()
        db.engine.dispose()
    return tokens


def count_statements(instance: Path) -> dict:
    """Statements and commits per call for each scenario, through the real app in this process."""
    from callgoose import create_app
    from callgoose.extensions import db

    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{instance / 'count.sqlite'}"})
    with app.app_context():
        db.create_all()
    return count_calls(app)


def post(port: int, path: str, body: str, headers: dict) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=30) as answer:
        return answer.status


def reset_peak_rss(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # not ours to reset: the column then shows the peak so far


def measure(pid: int, port: int, token: str, body: str, level: int, seconds: float, start_at: int,
            path: str) -> dict:
    """One wrk run on an idle server, with the server's CPU per request and its peak RSS during the run."""
    settle(pid)
    reset_peak_rss(pid)
    before = cpu_ms(pid)
    result = wrk(port, token, body, level, seconds, start_at, path)
    result["cpu"] = (cpu_ms(pid) - before) / max(result["requests"], 1)
    result["rss"] = peak_rss_mb(pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is shown")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, both servers")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run (default: all)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does this)")
    args.seconds = max(1, round(args.seconds))  # what wrk runs (whole seconds, bench/common.py)
    levels = [int(c) for c in args.concurrency.split(",")]
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if only - set(SCENARIOS):
        sys.exit(f"unknown scenarios: {', '.join(sorted(only - set(SCENARIOS)))}; known: {', '.join(SCENARIOS)}")
    budget = int(args.seconds * 5000) + 1000  # open incidents per resolve run, more than it can use
    runs = len(levels) * args.repeat

    instance = Path(tempfile.mkdtemp(prefix="callgoose-bench-"))
    try:
        tokens = prepare(instance, budget * runs)
        counts = count_statements(instance)
        env = {**os.environ, "CALLGOOSE_INSTANCE_PATH": str(instance), "SECRET_KEY": "bench",
               "PYTHONPATH": str(ROOT)}
        app_port, bare_port = free_port(), free_port()
        app_proc = start([sys.executable, "-m", "flask", "--app", "callgoose", "serve", "--port", str(app_port),
                          "--threads", str(args.threads)], env, app_port, instance / "app.log")
        bare_proc = start([sys.executable, str(ROOT / "bench" / "bare.py"), "--port", str(bare_port),
                           "--threads", str(args.threads)], env, bare_port, instance / "bare.log")
        try:
            headers = request_for("new", tokens, 0)[2]
            for body in OPENED_FIRST:  # what replay and duplicate repeat
                post(app_port, "/v1/process", body, headers)
            for name in ("split", "pagerduty"):  # their services' rules into the cache
                post(app_port, *request_for(name, tokens, 0, "warm-up"))
            wrk(app_port, tokens.token, SCENARIOS["replay"][3], 1, 1, 0)  # warm up
            wrk(bare_port, tokens.token, BARE, 1, 1, 0)
            cells: dict[tuple[str, int], list[dict]] = {}
            resolve_run = 0
            for repeat in range(args.repeat):
                for level in levels:
                    cells.setdefault(("bare", level), []).append(
                        measure(bare_proc.pid, bare_port, tokens.token, BARE, level, args.seconds, 0, "/v1/process"))
                    for name, (path, kind, _, body, _) in SCENARIOS.items():
                        if only and name not in only:
                            continue
                        start_at = 0
                        if name == "resolve":
                            start_at, resolve_run = resolve_run * budget, resolve_run + 1
                        body = body.replace("RUN", f"{repeat}-{level}").replace("ROUTING", tokens.routing)
                        credential = tokens.token if kind == "routing" else tokens.credential(kind)
                        cells.setdefault((name, level), []).append(
                            measure(app_proc.pid, app_port, credential, body, level, args.seconds, start_at, path))
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
          f"ratio = requests/s against the bare Flask route at the same concurrency (columns: bench/ingest.py).\n")
    print(f"{'scenario':<10}{'conc':>5}{'req/s':>8}{'ratio':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'CPU ms':>8}{'SQL':>6}{'commits':>8}{'RSS MiB':>8}  statuses (all runs)")
    expected = {"bare": 202, **{name: s[2] for name, s in SCENARIOS.items() if not only or name in only}}
    for name in expected:
        for level in levels:
            runs_ = cells[(name, level)]
            med = {k: statistics.median(r[k] for r in runs_) for k in ("rps", "p50", "p95", "p99", "cpu")}
            bare = statistics.median(r["rps"] for r in cells[("bare", level)])
            count = counts.get(name)
            sql, commits = (f"{count.statements:.1f}", f"{count.commits:.1f}") if count else ("-", "-")
            print(f"{name:<10}{level:>5}{med['rps']:>8.0f}{med['rps'] / bare:>7.2f}{med['p50']:>8.2f}"
                  f"{med['p95']:>8.2f}{med['p99']:>8.2f}{med['cpu']:>8.2f}{sql:>6}{commits:>8}"
                  f"{max(r['rss'] for r in runs_):>8.0f}  {statuses_ok(runs_, expected[name])}")
    print(f"\npeak RSS over the whole run: callgoose server {rss:.0f} MiB, bare server {bare_rss:.0f} MiB")


if __name__ == "__main__":
    main()
