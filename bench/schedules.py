"""What schedules cost (issue 9): the engine's who-is-on-call, next change and timelines, in one
process, for hourly, daily and weekly rotations with and without restrictions; and the
readiness check over 14 days for several schedules; and what the front page pays for it with
the stored report (a real app on a temporary SQLite database) against checking on every load.

    python bench/schedules.py [--repeat 5]

Figures are medians of ``--repeat`` runs; compare them with each other, not across machines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime
from datetime import time as clocktime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callgoose.engine import schedules as engine  # noqa: E402
from callgoose.engine.paging import Level, Policy  # noqa: E402
from callgoose.engine.readiness import check  # noqa: E402
from callgoose.engine.schedules import Layer, Override, Schedule, Window  # noqa: E402

START = datetime(2026, 1, 5, 9, 0)
NOW = datetime(2026, 10, 20, 12, 0)  # ten months after the start: the boundaries are far from 0
WEEKDAYS = Window(frozenset(range(5)), clocktime(9), clocktime(17))


def schedule(unit: str, count: int, restricted: bool, zone: str = "Europe/Berlin") -> Schedule:
    base = Layer("base", ("a", "b", "c", "d"), START, unit, count)
    top = Layer("day", ("e", "f"), START, "days", 1, (WEEKDAYS,))
    layers = (base, top) if restricted else (base,)
    now = engine.instant(NOW, engine.zone(zone))
    return Schedule(f"{unit}x{count}", zone, layers, (Override("o", now + 3 * 86400, now + 4 * 86400),))


def timed(fn, runs: int) -> float:
    """Median seconds of one call of ``fn`` over ``runs`` runs (each run a fresh cache)."""
    times = []
    for _ in range(runs):
        engine._raw_boundary.cache_clear()
        engine._span.cache_clear()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    now = engine.instant(NOW, engine.zone("Europe/Berlin"))
    probes = [now + rng.uniform(0, 30 * 86400) for _ in range(200)]
    print("bench/schedules.py (median of %d runs; Europe/Berlin; cache cleared before each run)" % args.repeat)
    print(f"{'rotation':<22} {'on_call µs':>10} {'until µs':>10} {'14 days ms':>11} {'90 days ms':>11} {'shifts/90d':>11}")
    for unit, count in (("hours", 1), ("hours", 12), ("days", 1), ("weeks", 1)):
        for restricted in (False, True):
            sched = schedule(unit, count, restricted)
            label = f"{unit} x{count}" + (" + weekdays" if restricted else "")
            per_call = timed(lambda: [engine.on_call(sched, p) for p in probes], args.repeat) / len(probes) * 1e6
            per_until = timed(lambda: [engine.until(sched, p) for p in probes[:50]], args.repeat) / 50 * 1e6
            two_weeks = timed(lambda: engine.timeline(sched, now, now + 14 * 86400), args.repeat) * 1000
            quarter = timed(lambda: engine.timeline(sched, now, now + 90 * 86400), args.repeat) * 1000
            count_90 = len(engine.timeline(sched, now, now + 90 * 86400))
            print(f"{label:<22} {per_call:>10.1f} {per_until:>10.1f} {two_weeks:>11.1f} {quarter:>11.1f} {count_90:>11}")
    for n in (5, 20):
        scheds = {i: schedule(("hours", "days", "weeks")[i % 3], 1 + i % 2, i % 2 == 0) for i in range(n)}
        policies = [Policy(f"p{i}", 0, (Level(5, (), (i,)), Level(5, ("a",)))) for i in range(n)]
        seconds = timed(lambda: check(now, scheds, policies, {"a", "b"}, [("s", True)]), args.repeat)
        print(f"readiness, 14 days, {n} schedules: {seconds * 1000:.0f} ms")
    front_page_readiness(args.repeat)


def front_page_readiness(runs: int, n: int = 20) -> None:
    """services.readiness.report: a fresh check (and store) against reading the stored report."""
    import tempfile

    from callgoose import clock, create_app
    from callgoose.extensions import db
    from callgoose.services import readiness
    from callgoose.services.catalog import import_config

    emails = [f"p{i}@example.com" for i in range(6)]
    units = ("hours", "days", "weeks")
    doc = {"users": [{"email": e, "contact_methods": [{"name": "mail", "type": "email", "address": e}]}
                     for e in emails],
           "schedules": [{"name": f"s{i}", "time_zone": "Europe/Berlin", "layers": [
               {"name": "base", "users": emails[:4], "start": "2026-01-05T09:00",
                "shift": {"unit": units[i % 3], "count": 1 + i % 2}},
               *([{"name": "day", "users": emails[4:], "start": "2026-01-05T09:00", "shift": {"unit": "days", "count": 1},
                   "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]}]
                 if i % 2 == 0 else [])]} for i in range(n)],
           "escalation_policies": [{"name": f"p{i}", "levels": [{"escalate_after_minutes": 5,
                                                                 "targets": [{"schedule": f"s{i}"}]}]}
                                   for i in range(n)], "services": []}
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.sqlite", "SECRET_KEY": "bench"})
        with app.app_context():
            db.create_all()
            import_config(doc, clock.now())
            now = clock.now()
            fresh, stored = [], []
            for k in range(runs):
                at = now + k * (readiness.FRESH + 1)  # each run's first read is too old: a check
                started = time.perf_counter()
                readiness.report(at)
                fresh.append(time.perf_counter() - started)
                started = time.perf_counter()
                readiness.report(at + 1)
                stored.append(time.perf_counter() - started)
            db.engine.dispose()
    f, s_ = statistics.median(fresh) * 1000, statistics.median(stored) * 1000
    print(f"front page readiness, {n} schedules (SQLite): checked and stored {f:.1f} ms, "
          f"stored report read {s_:.2f} ms ({f / s_:.0f}x less)")


if __name__ == "__main__":
    main()
