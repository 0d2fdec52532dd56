"""Two server processes against one: new incidents at 8 connections per process (issue 7, item 9).

On one SQLite file and on PostgreSQL, Callgoose runs as one ``serve`` process and as two
(each 8 threads, no worker: the bench measures ingestion), with one wrk per process. The
bare Flask route does the same, in the same run: its 2-process factor is the ceiling this
machine allows (wrk, the kernel and PostgreSQL share its cores). Cells are medians of
--repeat interleaved runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import (
    BARE,
    NEW,
    database,
    env_for,
    median,
    pg_reachable,
    prepare,
    serve,
    serve_bare,
    statuses_ok,
    stop,
    wrk_together,
)


def measure(kind: str, args) -> dict:
    instance = Path(tempfile.mkdtemp(prefix=f"callgoose-scale-{kind}-"))
    try:
        with database(kind, instance) as url:
            env = env_for(url, instance)
            token = prepare(env, instance)
            apps = [serve(env, instance, args.threads) for _ in range(2)]
            bares = [serve_bare(env, instance, args.threads) for _ in range(2)]
            try:
                app_ports, bare_ports = [p for _, p in apps], [p for _, p in bares]
                wrk_together(app_ports, token, NEW.replace("RUN", "warm"), 2, 1)
                wrk_together(bare_ports, token, BARE, 2, 1)
                cells: dict[str, list[dict]] = {}
                for repeat in range(args.repeat):
                    for name, ports, body in (("callgoose 1", app_ports[:1], NEW), ("callgoose 2", app_ports, NEW),
                                              ("bare 1", bare_ports[:1], BARE), ("bare 2", bare_ports, BARE)):
                        cells.setdefault(name, []).append(wrk_together(
                            ports, token, body.replace("RUN", f"{repeat}-{name[-1]}"), args.connections,
                            args.seconds))
            finally:
                stop(*(p for p, _ in apps + bares))
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per process")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per process")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does this)")
    print(f"\n1 vs 2 server processes, new incidents, {args.connections} connections per process, "
          f"{args.threads} threads each;\nmedian of {args.repeat} runs of {args.seconds:g}s per cell. "
          "'bare' is a bare Flask route under the same waitress settings (the ceiling).\n")
    print(f"{'database':<10}{'server':<13}{'req/s':>9}{'p99 ms':>9}{'2/1':>7}  statuses (all runs)")
    for kind in args.databases.split(","):
        if kind == "postgres" and not pg_reachable():
            print(f"{kind:<10}skipped: PostgreSQL is not reachable (set CALLGOOSE_BENCH_DATABASE_URL)")
            continue
        cells = measure(kind, args)
        rps = {name: median(r["rps"] for r in runs) for name, runs in cells.items()}
        for name, runs in cells.items():
            factor = f"{rps[name] / rps[name[:-1] + '1']:.2f}" if name.endswith("2") else ""
            print(f"{kind:<10}{name:<13}{rps[name]:>9.0f}{median(r['p99'] for r in runs):>9.1f}{factor:>7}  "
                  f"{statuses_ok(runs, 201 if name.startswith('callgoose') else 202)}")
        print(f"{kind:<10}{'':13}  callgoose 2-process factor {rps['callgoose 2'] / rps['callgoose 1']:.2f} "
              f"(target 1.5) beside the bare route's {rps['bare 2'] / rps['bare 1']:.2f} (the ceiling); "
              f"1 process at {rps['callgoose 1'] / rps['bare 1']:.2f} of the bare route")


if __name__ == "__main__":
    main()
