"""What the benchmarks share: databases to measure on, servers, wrk, and figures.

Every server is a real process (``flask --app callgoose serve`` or bench/bare.py) on a
loopback port; wrk drives it from its own process. PostgreSQL runs get a schema of their
own (dropped afterwards) in the database of ``CALLGOOSE_BENCH_DATABASE_URL`` (default: the
local test database).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import free_port, wait_for_port  # noqa: E402
from sqlcount import SERVICE  # noqa: E402

PG_URL = os.environ.get("CALLGOOSE_BENCH_DATABASE_URL") or os.environ.get(
    "CALLGOOSE_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
CONFIG = {"services": [SERVICE]}  # one service; bench/ingest.py adds a splitting one (tests/sqlcount.py)
NEW = '{"status":"firing","id":"new-RUN-{n}","title":"CPU high on db1"}'
BARE = '{"status":"firing","id":"bare-{n}","title":"CPU high on db1"}'


def pg_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


@contextmanager
def database(kind: str, instance: Path):
    """A fresh, empty database URL: a SQLite file in ``instance``, or a PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{instance / 'callgoose.sqlite'}"
        return
    import psycopg

    schema = "bench_" + secrets.token_hex(4)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def env_for(url: str, instance: Path) -> dict:
    return {**os.environ, "CALLGOOSE_INSTANCE_PATH": str(instance), "DATABASE_URL": url,
            "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT)}


def flask(env: dict, *args: str, check: bool = True) -> str:
    """Run a ``flask --app callgoose`` command; its standard output."""
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "callgoose", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    if check and out.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


def prepare(env: dict, instance: Path) -> str:
    """Upgrade the database, add the bench service, and return a new token scoped to it
    (other services, such as seed-demo's, do not see the bench's calls)."""
    flask(env, "init-db")
    path = instance / "bench-config.json"
    path.write_text(json.dumps(CONFIG))
    flask(env, "import-config", str(path))
    return flask(env, "create-token", f"bench-{secrets.token_hex(3)}", "--service", "bench").strip().splitlines()[-1]


def start(cmd: list[str], env: dict, port: int, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:  # a file: a pipe nobody reads would block the server
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(port, proc, log=log)
    return proc


def serve(env: dict, instance: Path, threads: int = 8, worker: bool = False) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "flask", "--app", "callgoose", "serve", "--port", str(port),
           "--threads", str(threads)] + ([] if worker else ["--no-worker"])
    return start(cmd, env, port, instance / f"serve-{port}.log"), port


def serve_bare(env: dict, instance: Path, threads: int = 8) -> tuple[subprocess.Popen, int]:
    port = free_port()
    return start([sys.executable, str(ROOT / "bench" / "bare.py"), "--port", str(port), "--threads", str(threads)],
                 env, port, instance / f"bare-{port}.log"), port


def cpu_ms(pid: int) -> float:
    """utime + stime of a process, all its threads, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * CLOCK_TICK_MS


def settle(pid: int, most_seconds: float = 10.0) -> None:
    """Wait until a server is idle (under a tenth of a core for 0.2 s): what the last wrk run
    left queued is answered before the next run starts, and not counted in it (measured: a
    PagerDuty run right after the split scenario's read p95 240 ms against 48 ms after a pause)."""
    deadline = time.monotonic() + most_seconds
    while time.monotonic() < deadline:
        before = cpu_ms(pid)
        time.sleep(0.2)
        if cpu_ms(pid) - before < 20:
            return


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=15)


def wrk_command(port: int, concurrency: int, seconds: float) -> list[str]:
    # wrk takes whole seconds only ("-d0.5s" is a usage error): shorter asks get one second
    return ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency",
            "-s", str(ROOT / "bench" / "request.lua"), f"http://127.0.0.1:{port}"]


def wrk_env(token: str, body: str, start_at: int, path: str = "/v1/process") -> dict:
    return {**os.environ, "CG_TOKEN": token, "CG_BODY": body, "CG_START": str(start_at), "CG_PATH": path}


def parse_wrk(stdout: str) -> dict:
    line = next(l for l in stdout.splitlines() if l.startswith("CGRESULT "))
    result = json.loads(line[len("CGRESULT "):])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def wrk(port: int, token: str, body: str, concurrency: int, seconds: float, start_at: int = 0,
        path: str = "/v1/process") -> dict:
    out = subprocess.run(wrk_command(port, concurrency, seconds), env=wrk_env(token, body, start_at, path),
                         capture_output=True, text=True, check=True)
    return parse_wrk(out.stdout)


def wrk_together(ports: list[int], token: str, body: str, concurrency: int, seconds: float) -> dict:
    """One wrk per port, all at once: the summed requests/s and every status seen."""
    procs = [subprocess.Popen(wrk_command(port, concurrency, seconds),
                              env=wrk_env(token, body.replace("{n}", f"p{i}-{{n}}"), 0),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, port in enumerate(ports)]
    results = [parse_wrk(p.communicate()[0]) for p in procs]
    return {"rps": sum(r["rps"] for r in results), "p99": max(r["p99"] for r in results),
            "statuses": merged_statuses(results), "errors": sum(r["errors"] for r in results)}


def merged_statuses(runs: list[dict]) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for r in runs:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return statuses


def median(values) -> float:
    return statistics.median(list(values))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def statuses_ok(runs: list[dict], expected: int) -> str:
    """Every status the runs saw, flagged (!) when one is not ``expected`` or a socket failed."""
    statuses, errors = merged_statuses(runs), sum(r["errors"] for r in runs)
    shown = ", ".join(f"{c}×{n}" for c, n in sorted(statuses.items()))
    return shown + ("" if set(statuses) == {str(expected)} and not errors else f"  (!) {errors} socket errors")
