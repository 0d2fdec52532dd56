"""A big database (issue 7, item 8): ingestion beside an empty one, page latencies, size per million calls.

For each database kind it makes two databases, an empty one and one filled by
``flask --app callgoose seed-demo`` (default 1,000,000 calls and 100,000 incidents), and
serves both at once (``serve --no-worker``, 8 threads), with the bare Flask route beside
them. New incidents at 8 connections go to the empty and the big database in turns, so
that machine noise hits both alike. Then, signed in, each dashboard page is fetched
--pages times one after another: p50 and p95, beside a bare page of the same size.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from common import (
    BARE,
    NEW,
    database,
    env_for,
    flask,
    median,
    percentile,
    pg_reachable,
    prepare,
    serve,
    serve_bare,
    statuses_ok,
    stop,
    wrk,
)

EMAIL, PASSWORD = "bench@example.com", "bench password"


def db_size(kind: str, url: str, instance: Path) -> int:
    if kind == "sqlite":
        return sum(p.stat().st_size for p in instance.glob("callgoose.sqlite*") if p.suffix != ".lock")
    import psycopg

    schema = urllib.parse.unquote(url).split("search_path=")[1].split("&")[0]
    with psycopg.connect(url.split("?")[0]) as conn:
        return conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                            "AND c.relkind IN ('r', 'm')", (schema,)).fetchone()[0]


class Browser:
    """A signed-in dashboard session over HTTP (cookies, the login form's CSRF token)."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def sign_in(self) -> None:
        _, page = self.get("/login")
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page)
        data = urllib.parse.urlencode({"csrf_token": csrf.group(1) if csrf else "", "email": EMAIL,
                                       "password": PASSWORD}).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=30) as response:
            if "/login" in response.url:
                raise RuntimeError("the bench could not sign in")

    def timed(self, paths: list[str], expect: int) -> list[float]:
        times = []
        for path in paths:
            started = time.perf_counter()
            status, _ = self.get(path)
            times.append((time.perf_counter() - started) * 1000)
            if status != expect:
                raise RuntimeError(f"GET {path} answered {status}, not {expect}")
        return times


def pages(port: int, bare_port: int, incidents: int, count: int) -> list[tuple[str, list[float], list[float]]]:
    browser = Browser(port)
    browser.sign_in()
    bare = Browser(bare_port)
    _, listing = browser.get("/incidents")
    marker = re.search(r'marker=(c\d+)', listing).group(1)
    log = browser.get("/calls")[1]
    services = dict((name, sid) for sid, name in re.findall(
        r'<option value="(\d+)" >([^<]+)</option>', log.split('name="service"')[1].split("</select>")[0]))
    tokens = re.findall(r'<option value="(\d+)" >', log.split('name="token"')[1].split("</select>")[0])
    step = max(1, incidents // count)
    plan = [
        ("incident list (open)", ["/incidents"] * count, 200),
        ("incident list (all)", ["/incidents?status=all"] * count, 200),
        ("incident list, page 20", ["/incidents?status=all&page=20"] * count, 200),
        ("incident detail", [f"/incidents/{1 + (i * step) % incidents}" for i in range(count)], 200),
        ("API log", ["/calls"] * count, 200),
        ("API log, status 201", ["/calls?status=201"] * count, 200),
        ("API log, one service", [f"/calls?service={services['demo-checkout']}"] * count, 200),
        ("API log, a service no call hit", [f"/calls?service={services['bench']}"] * count, 200),
        ("API log, one token", [f"/calls?token={tokens[0]}"] * count, 200),
        ("live list poll (no change)", [f"/incidents/rows?marker={marker}"] * count, 204),
    ]
    results = []
    for name, paths, expect in plan:
        browser.timed(paths[:3], expect)  # warm
        results.append((name, browser.timed(paths, expect), bare.timed(["/page"] * len(paths), 200)))
    return results


def measure(kind: str, args) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"callgoose-bigdb-{kind}-"))
    empty_dir, big_dir = root / "empty", root / "big"
    empty_dir.mkdir()
    big_dir.mkdir()
    out: dict = {}
    try:
        with database(kind, empty_dir) as empty_url, database(kind, big_dir) as big_url:
            empty_env, big_env = env_for(empty_url, empty_dir), env_for(big_url, big_dir)
            token_empty = prepare(empty_env, empty_dir)
            out["empty_size"] = db_size(kind, empty_url, empty_dir)
            started = time.monotonic()
            flask(big_env, "seed-demo", "--calls", str(args.calls), "--incidents", str(args.incidents))
            out["seed_seconds"] = time.monotonic() - started
            token_big = prepare(big_env, big_dir)
            flask(big_env, "create-user", EMAIL, "--admin", "--password", PASSWORD)
            out["big_size"] = db_size(kind, big_url, big_dir)
            servers = [serve(empty_env, empty_dir), serve(big_env, big_dir), serve_bare(big_env, big_dir)]
            (_, empty_port), (_, big_port), (_, bare_port) = servers
            try:
                out["pages"] = pages(big_port, bare_port, args.incidents, args.pages)  # the seeded data as it is
                for port, token in ((empty_port, token_empty), (big_port, token_big)):
                    wrk(port, token, NEW.replace("RUN", "warm"), 2, 1)
                runs: dict[str, list[dict]] = {"empty": [], "big": [], "bare": []}
                for repeat in range(args.repeat):
                    runs["empty"].append(wrk(empty_port, token_empty, NEW.replace("RUN", f"e{repeat}"), 8, args.seconds))
                    runs["big"].append(wrk(big_port, token_big, NEW.replace("RUN", f"b{repeat}"), 8, args.seconds))
                    runs["bare"].append(wrk(bare_port, token_big, BARE, 8, args.seconds))
                out["ingest"] = runs
            finally:
                stop(*(p for p, _ in servers))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pages", type=int, default=100, help="requests per page kind")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does this)")
    for kind in args.databases.split(","):
        if kind == "postgres" and not pg_reachable():
            print(f"\n{kind}: skipped, PostgreSQL is not reachable (set CALLGOOSE_BENCH_DATABASE_URL)")
            continue
        m = measure(kind, args)
        mib = 1024 * 1024
        per_million = (m["big_size"] - m["empty_size"]) / args.calls * 1_000_000 / mib
        print(f"\n== {kind}: seed-demo --calls {args.calls:,} --incidents {args.incidents:,} took "
              f"{m['seed_seconds']:.0f} s; database {m['big_size'] / mib:,.0f} MiB "
              f"(empty {m['empty_size'] / mib:.1f} MiB): {per_million:,.0f} MiB per million calls")
        rps = {name: median(r["rps"] for r in runs) for name, runs in m["ingest"].items()}
        print(f"new incidents at 8 connections, median of {args.repeat} interleaved runs of {args.seconds:g}s:")
        for name in ("empty", "big", "bare"):
            runs = m["ingest"][name]
            print(f"  {name + ' database' if name != 'bare' else 'bare route':<16}{rps[name]:>8.0f} req/s"
                  f"  p99 {median(r['p99'] for r in runs):6.1f} ms  "
                  f"{statuses_ok(runs, 202 if name == 'bare' else 201)}")
        print(f"  big / empty: {rps['big'] / rps['empty']:.2f} (target: within 10%, >= 0.90); "
              f"empty / bare route: {rps['empty'] / rps['bare']:.2f}")
        print(f"pages of the big database, {args.pages} requests each, one at a time (ms); "
              "bare = a bare Flask page in the same run:")
        print(f"  {'page':<32}{'p50':>8}{'p95':>8}{'bare p50':>10}{'bare p95':>10}")
        for name, times, bare in m["pages"]:
            print(f"  {name:<32}{percentile(times, 50):>8.1f}{percentile(times, 95):>8.1f}"
                  f"{percentile(bare, 50):>10.1f}{percentile(bare, 95):>10.1f}")


if __name__ == "__main__":
    main()
