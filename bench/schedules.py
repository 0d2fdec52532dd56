"""What schedules cost (issue 9): the engine's who-is-on-call, next change and timelines, in one
process, for hourly, daily and weekly rotations with and without restrictions; and the
readiness check over 14 days for several schedules, as the front page runs it.

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


if __name__ == "__main__":
    main()
