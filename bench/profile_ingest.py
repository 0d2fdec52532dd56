"""Where one new incident's time goes: the real app in-process, under cProfile, in buckets.

Each call is ``POST /v1/process`` of tests/sqlcount.py's ``new`` scenario (a firing payload
with a fresh id: 201), made as a WSGI call on the Flask app with an environ prepared beforehand
(werkzeug's EnvironBuilder, outside the timing), its answer read to the end. waitress, the
socket and the client are not in it: bench/ingest.py measures those, beside the bare route. The
app logs as ``serve`` does (INFO, to a file). First ``--warm-up`` calls, then ``--calls`` timed
without the profiler (the honest ms per call), then ``--calls`` more under cProfile, whose self
times are put in buckets.

Buckets, by the function that owns the time (first rule that matches wins; a function no rule
names, say ``json.loads`` or ``hashlib``, gives its time to its callers' buckets, in
proportion to the time each caller spent in it, so ``json.loads`` under the payload parser is
parsing and ``json.dumps`` under ``jsonify`` is the answer):

  commit          the driver's commit (sqlite3 ``Connection.commit``: SQLite's fsyncs)
  SQL             the driver's cursor (execute, executemany, fetch), callgoose/store/ (the
                  hot path's cursor, transactions, the write lock) and SQLAlchemy's engine and pool
  logging         the logging package and callgoose/logs.py
  JSON answer     flask/json (``jsonify``; not tag.py, the session's serializer), the answer's
                  reason (engine/outcome.reason) and body (``Flags.body``)
  parsing         reading the body (werkzeug's ``get_data`` and its LimitedStream) and
                  engine/payload.py's reading of it (``Payload.from_body``: decode, JSON, digest)
  authentication  services/tokens.py (token digest and lookup), web/bearer.py, and
                  ingestion.open_call/open_with (the token's one short read)
  rules           callgoose/engine/ (evaluate, match, the payload's lookups, maintenance, a page's facts),
                  services/catalog.py (the spec cache) and ingestion's _evaluate_* and body_limit
  writing         the Python around the statements: the rest of services/ingestion.py
                  (process_call, the API log's row, new_call_id), services/lifecycle.py,
                  services/paging.py and the rest of callgoose/services/
  WSGI and Flask  flask, werkzeug, flask_* extensions, babel, and callgoose/web/ and the
                  factory's hooks (request machinery, before/after hooks, the view's glue)
  other           what no caller claims (this script's loop)

cProfile adds a cost to every Python call, so Python-heavy buckets look larger than they are:
the unprofiled ms per call is printed beside the profiled one. Absolute figures from a busy
machine are noisy; the shares are what to read.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cProfile
import pstats

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import ROOT  # noqa: E402  (puts the project and tests/ on the path)
from sqlcount import OPENED_FIRST, SCENARIOS, prepare, request_for  # noqa: E402

BUCKETS = ("WSGI and Flask", "authentication", "parsing", "rules", "SQL", "commit", "writing", "logging",
           "JSON answer", "other")
PKG = str(ROOT / "callgoose") + os.sep
# engine/payload.py's reading of a body; its lookups (value, raw, present, split_key, _walk) are the rules'
READING = {"from_body", "from_text", "parse_json", "decode_body", "split_content_type", "is_text_type",
           "text_encoding", "_reject_constant", "depth_exceeds", "digest"}
BODY_READING = {"get_data", "_get_stream_for_parsing", "stream", "get_input_stream", "get_content_length",
                "readall", "readinto", "is_exhausted"}  # werkzeug's request body and its LimitedStream


def _in(path: str, *parts: str) -> bool:
    path = path.replace(os.sep, "/")
    return any(part in path for part in parts)


def bucket_of(func: tuple[str, int, str]) -> str | None:
    """The bucket that owns a function's time, or None: its callers decide."""
    path, _, name = func
    own = path.startswith(PKG)
    rel = path[len(PKG):].replace(os.sep, "/") if own else ""
    if path == "~":  # a built-in
        if "commit" in name and ("sqlite3" in name or "psycopg" in name):
            return "commit"
        if "sqlite3" in name or "psycopg" in name:
            return "SQL"
        return None
    if _in(path, "/psycopg/") and name == "commit":
        return "commit"
    if own and rel.startswith("store/") or _in(path, "/sqlalchemy/engine/", "/sqlalchemy/pool/", "/psycopg/"):
        return "SQL"
    if _in(path, "/logging/") or rel == "logs.py":
        return "logging"
    answer = _in(path, "/flask/json/") and not _in(path, "/flask/json/tag.py")  # tag.py: the session's
    if answer or (rel == "engine/outcome.py" and name == "reason") or (
            own and rel.startswith("engine/") and name == "body"):
        return "JSON answer"
    if rel == "engine/payload.py" and name in READING or _in(path, "/werkzeug/") and name in BODY_READING:
        return "parsing"
    if rel == "engine/payload.py" and name == "clean":
        return None  # the API log's row calls it too
    if rel in ("services/tokens.py", "web/bearer.py") or (rel == "services/ingestion.py" and name in (
            "open_call", "open_with", "read")):
        return "authentication"
    if rel.startswith("engine/") or rel == "services/catalog.py" or (rel == "services/ingestion.py" and name in (
            "_evaluate_all", "_evaluate_one", "_facts", "_found", "body_limit")):
        return "rules"
    if rel.startswith("services/"):
        return "writing"
    if own or _in(path, "/flask/", "/werkzeug/", "/flask_", "/babel/", "/jinja2/", "/itsdangerous/"):
        return "WSGI and Flask"
    return None


def attribute(stats: dict) -> tuple[dict[str, float], list[tuple[float, str, tuple]]]:
    """Self time per bucket (seconds), and every function's self time with its bucket."""
    memo: dict = {}

    def shares(func, seen: frozenset) -> dict[str, float]:
        if func in memo:
            return memo[func]
        owner = bucket_of(func)
        if owner is not None:
            return memo.setdefault(func, {owner: 1.0})
        callers = stats[func][4]
        if not callers or func in seen:
            return {"other": 1.0}
        weights = {c: edge[3] or edge[1] for c, edge in callers.items()}
        total = sum(weights.values()) or 1
        mixed: dict[str, float] = defaultdict(float)
        for caller, weight in weights.items():
            for bucket, part in shares(caller, seen | {func}).items():
                mixed[bucket] += part * weight / total
        if not seen:
            memo[func] = dict(mixed)
        return mixed

    totals: dict[str, float] = defaultdict(float)
    functions = []
    for func, (_cc, _nc, tt, _ct, callers) in stats.items():
        owner = bucket_of(func)
        if owner is not None:
            totals[owner] += tt
            functions.append((tt, owner, func))
            continue
        if not callers:
            totals["other"] += tt
            functions.append((tt, "other", func))
            continue
        for caller, edge in callers.items():  # edge: (calls, primitive calls, self time, cumulative)
            for bucket, part in shares(caller, frozenset({func})).items():
                totals[bucket] += edge[2] * part
        functions.append((tt, "(callers')", func))
    return totals, functions


STEPS = (  # inclusive times, to read beside the buckets (which give a statement's time to SQL wherever it runs)
    ("flask/app.py", "wsgi_app", "the whole WSGI call"),
    ("web/ingest.py", "process", "the view"),
    ("services/ingestion.py", "open_call", "token lookup and the specs it reaches (one read)"),
    ("engine/payload.py", "from_body", "Payload.from_body"),
    ("services/ingestion.py", "_evaluate_all", "the rules, before the write"),
    ("store/transactions.py", "run_write", "the write transaction, commit included"),
    ("flask/sessions.py", "open_session", "Flask's session, opened"),
    ("flask/sessions.py", "save_session", "Flask's session, saved"),
)


def steps(stats: dict) -> list[tuple[str, float]]:
    """Cumulative seconds of each of STEPS (summed over the functions of that name and file)."""
    found = []
    for tail, name, label in STEPS:
        found.append((f"{label} ({Path(tail).name} {name})", sum(
            ct for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items()
            if func == name and path.replace(os.sep, "/").endswith(tail))))
    return found


def filesystem(path: Path) -> str:
    """The type of the filesystem that holds ``path`` (the commit's fsync depends on it)."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _dev, mount, fstype, *_ = line.split()
        if str(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="new", choices=list(SCENARIOS),
                        help="which of bench/ingest.py's calls (tests/sqlcount.py)")
    parser.add_argument("--calls", type=int, default=1000, help="calls timed, and as many profiled")
    parser.add_argument("--warm-up", type=int, default=100)
    parser.add_argument("--top", type=int, default=15, help="functions with the most self time to list")
    parser.add_argument("--save", default=None, help="also write the raw profile here (for pstats, snakeviz)")
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (default: a temporary directory)")
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)

    from werkzeug.test import EnvironBuilder

    from callgoose import create_app
    from callgoose.extensions import db

    instance = Path(tempfile.mkdtemp(prefix="callgoose-profile-", dir=args.dir))
    os.environ["CALLGOOSE_INSTANCE_PATH"] = str(instance)
    # As ``flask --app callgoose serve`` logs (callgoose/cli.py), into a file as bench/ingest.py's server does
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        filename=instance / "serve.log")
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{instance / 'profile.sqlite'}"})
    with app.app_context():
        db.create_all()
    tokens = prepare(app)
    total = args.warm_up + 2 * args.calls
    environs = []
    for n in range(-len(OPENED_FIRST), total):  # first what replay and duplicate repeat
        path, body, headers = (request_for(args.scenario, tokens, n, "profile") if n >= 0 else
                               ("/v1/process", OPENED_FIRST[n], request_for("new", tokens, 0)[2]))
        environs.append(EnvironBuilder(path=path, method="POST", data=body, headers=headers,
                                       base_url="http://127.0.0.1:8000").get_environ())
    statuses: dict[str, int] = defaultdict(int)

    def start_response(status, _headers, _exc_info=None):
        statuses[status.split()[0]] += 1

    def call(environ) -> None:
        answer = app(environ, start_response)
        try:
            b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()

    collecting = {"since": 0.0, "total": 0.0, "runs": [0, 0, 0]}

    def collector(phase, info):  # the garbage collector runs inside whichever function allocated
        if phase == "start":
            collecting["since"] = time.perf_counter()
        else:
            collecting["total"] += time.perf_counter() - collecting["since"]
            collecting["runs"][info["generation"]] += 1

    calls = iter(environs)
    for _ in range(args.warm_up):
        call(next(calls))
    gc.callbacks.append(collector)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(args.calls):
        call(next(calls))
    plain = (time.perf_counter() - started) * 1000 / args.calls
    plain_cpu = (time.process_time() - cpu_started) * 1000 / args.calls
    plain_gc, plain_runs = collecting["total"] * 1000 / args.calls, list(collecting["runs"])
    profiler = cProfile.Profile()
    collecting.update(total=0.0, runs=[0, 0, 0])
    started = time.perf_counter()
    profiler.enable()
    for _ in range(args.calls):
        call(next(calls))
    profiler.disable()
    profiled = (time.perf_counter() - started) * 1000 / args.calls
    gc.callbacks.remove(collector)
    profiled_gc = collecting["total"] * 1000 / args.calls
    with app.app_context():
        db.engine.dispose()

    if args.save:
        profiler.dump_stats(args.save)
    stats = pstats.Stats(profiler).stats
    totals, functions = attribute(stats)
    seen = sum(totals.values())
    path, _, status, _, _ = SCENARIOS[args.scenario]
    print(f"bench/profile_ingest.py: the {args.scenario} scenario (POST {path}, {status}) as a WSGI call on the real app, "
          f"SQLite file on {filesystem(instance)};\n{args.calls} calls after {args.warm_up} to warm up; "
          f"answers: {', '.join(f'{s}x{n}' for s, n in sorted(statuses.items()))}\n")
    print(f"without the profiler {plain:.2f} ms per call ({plain_cpu:.2f} ms of CPU: the rest waits, mostly on the "
          f"commit's fsync); under cProfile {profiled:.2f} ms per call "
          f"(the buckets share the latter);\nof which the garbage collector {plain_gc:.2f} and {profiled_gc:.2f} ms "
          f"(collections of generation 0/1/2: {'/'.join(map(str, plain_runs))}), counted in whichever "
          f"bucket's function allocated when it ran\n")
    by_file: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for tt, bucket, (path, _line, name) in functions:
        by_file[bucket][name if path == "~" else f"{Path(path).parent.name}/{Path(path).name}"] += tt
    print(f"{'bucket':<16}{'ms/call':>9}{'share':>8}  its own code with the most self time (ms per call)")
    for bucket in sorted(BUCKETS, key=lambda b: -totals.get(b, 0)):
        ms = totals.get(bucket, 0) * 1000 / args.calls
        top = sorted(by_file[bucket].items(), key=lambda item: -item[1])[:3]
        print(f"{bucket:<16}{ms:>9.3f}{totals.get(bucket, 0) / seen:>8.1%}  "
              + ", ".join(f"{where} {tt * 1000 / args.calls:.3f}" for where, tt in top))
    print(f"{'total':<16}{seen * 1000 / args.calls:>9.3f}{1:>8.0%}")
    print("\ninclusive, ms per call (under cProfile):")
    for label, seconds in steps(stats):
        print(f"{seconds * 1000 / args.calls:>8.3f}  {label}")
    if args.top:
        print(f"\nthe {args.top} functions with the most self time (ms per call, bucket):")
        for tt, bucket, (path, line, name) in sorted(functions, reverse=True)[:args.top]:
            where = name if path == "~" else f"{Path(path).parent.name}/{Path(path).name}:{line} {name}"
            print(f"{tt * 1000 / args.calls:>8.3f}  {bucket:<16}{where}")
    import shutil
    shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
