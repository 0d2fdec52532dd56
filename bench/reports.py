"""The Reports page on a seeded month (issue 20): p50 and p95 of the page and of each report's
JSON API, beside a bare Flask page in the same run.

For each database kind it fills a database with ``flask --app callgoose seed-demo --days 30``
(default 1,000,000 calls and 30,000 incidents), serves it (``serve --no-worker``, 8 threads)
with the bare route beside it, signs in and fetches each path --pages times, one at a time.
Run the million-call default once; a smaller ``--calls`` for checks.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from bigdb import EMAIL, PASSWORD, Browser
from common import database, env_for, flask, percentile, pg_reachable, serve, serve_bare, stop

REPORTS = ("response", "interruptions", "oncall", "rules")


def timed_api(port: int, token: str, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(kind: str, args) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"callgoose-reports-{kind}-"))
    out: dict = {}
    try:
        with database(kind, root) as url:
            env = env_for(url, root)
            started = time.monotonic()
            token = flask(env, "seed-demo", "--calls", str(args.calls), "--incidents", str(args.incidents),
                          "--days", "30").strip().splitlines()[-1]
            out["seed_seconds"] = time.monotonic() - started
            flask(env, "create-user", EMAIL, "--admin", "--password", PASSWORD)
            servers = [serve(env, root), serve_bare(env, root)]
            (_, port), (_, bare_port) = servers
            try:
                browser, bare = Browser(port), Browser(bare_port)
                browser.sign_in()
                plan = [("Reports page", lambda n: browser.timed(["/reports"] * n, 200)),
                        ("Reports page, oncall with holidays", lambda n: browser.timed(
                            ["/reports?country=DE"] * n, 200))]
                plan += [(f"API {name}", lambda n, name=name: timed_api(port, token, f"/v1/reports/{name}", n))
                         for name in REPORTS]
                out["rows"] = []
                for name, run in plan:
                    run(2)  # warm
                    out["rows"].append((name, run(args.pages), bare.timed(["/page"] * args.pages, 200)))
            finally:
                stop(*(p for p, _ in servers))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=30_000)
    parser.add_argument("--pages", type=int, default=20, help="requests per path")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        if kind == "postgres" and not pg_reachable():
            print(f"\n{kind}: skipped, PostgreSQL is not reachable (set CALLGOOSE_BENCH_DATABASE_URL)")
            continue
        m = measure(kind, args)
        print(f"\n== {kind}: seed-demo --calls {args.calls:,} --incidents {args.incidents:,} --days 30 took "
              f"{m['seed_seconds']:.0f} s; {args.pages} requests each, one at a time (ms), the last 30 days; "
              "bare = a bare Flask page in the same run:")
        print(f"  {'path':<38}{'p50':>8}{'p95':>8}{'bare p50':>10}{'bare p95':>10}")
        for name, times, bare in m["rows"]:
            print(f"  {name:<38}{percentile(times, 50):>8.1f}{percentile(times, 95):>8.1f}"
                  f"{percentile(bare, 50):>10.1f}{percentile(bare, 95):>10.1f}")


if __name__ == "__main__":
    main()
