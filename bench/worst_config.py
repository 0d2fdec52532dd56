"""Issue 6 A4: the cost of evaluating the worst configurations S18 and the caps accept, on 1 MiB.

Prints, per scenario, the median of several runs of one call's engine work (read the body,
evaluate the rules, check maintenance), beside the cost of only reading the same body (the
floor no rule set can go below) and, where it finishes in reasonable time, the old way of
trying every item with ``in``. Run: ``.venv/bin/python bench/worst_config.py``.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callgoose.engine import (  # noqa: E402
    MaintenanceWindow,
    Payload,
    ServiceSpec,
    evaluate,
    in_maintenance,
)
from callgoose.engine.rules import build_trigger, check_rule  # noqa: E402

MIB = 1024 * 1024
RULES, CONDITIONS, ITEMS, CHARS = 50, 5, 20, 200


def spec_with(items_for, key_for=lambda r, c: "") -> ServiceSpec:
    rules = tuple(build_trigger({"conditions": [
        {"json_key": key_for(r, c), "contains": items_for(r, c), "mode": "any"} for c in range(CONDITIONS)]},
        f"r{r}") for r in range(RULES))
    return ServiceSpec(name="worst", trigger=rules)


def one_call(spec: ServiceSpec, body: bytes, now: float = 0.0):
    payload = Payload.from_body(body, "application/json")
    in_maintenance(spec, payload, now)
    return evaluate(spec, payload)


def plain_call(spec: ServiceSpec, body: bytes):
    payload = Payload.from_body(body, "application/json")
    for rule in spec.trigger:
        if check_rule(rule.conditions, payload) is None:
            return


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def random_text(n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789 ") -> str:
    rng = random.Random(7)
    return "".join(rng.choice(alphabet) for _ in range(n))


def main(runs: int = 5) -> None:
    rng = random.Random(1)
    random_body = json.dumps({"status": "firing", "text": random_text(MIB - 100)}).encode()
    repetitive_body = json.dumps({"status": "firing", "text": "a" * (MIB - 100)}).encode()
    nested: object = "a" * (MIB - 1000)
    for _ in range(60):
        nested = {"a": nested}
    nested_body = json.dumps(nested).encode()

    def rand_item(r, c):
        return ["".join(rng.choice("abcdefghij") for _ in range(CHARS)) for _ in range(ITEMS)]

    crafted = [("a" * k + "b" + "a" * (CHARS - 1 - k)) for k in range(CHARS)]
    scenarios = [
        ("5000 random 200-char items, whole payload", spec_with(rand_item), random_body, True),
        ("5000 items crafted against substring search, 'aaaa…' payload",
         spec_with(lambda r, c: [crafted[(r * CONDITIONS * ITEMS + c * ITEMS + i) % CHARS][:-1] + chr(97 + i % 3)
                                 for i in range(ITEMS)]), repetitive_body, True),
        ("250 conditions on 60 nested keys (each value ~1 MiB of JSON)",
         spec_with(rand_item, lambda r, c: ".".join(["a"] * (1 + (r * CONDITIONS + c) % 60))), nested_body, False),
        ("items that are suffixes of each other ('a'…'a'*200) + 4800 absent, 'aaaa…' payload",
         spec_with(lambda r, c: (["a" * (1 + i + ITEMS * (r * CONDITIONS + c)) for i in range(ITEMS)]
                                 if r * CONDITIONS + c < 10 else rand_item(r, c))), repetitive_body, False),
    ]
    windows = tuple(MaintenanceWindow(tags=tuple(tuple(random_text(CHARS)[:-3] + f"{w:03d}" for _ in range(10))
                                                 for _ in range(20))) for w in range(100))
    maintenance = ServiceSpec(name="maint", maintenance=windows)
    floor = timed(lambda: Payload.from_body(random_body, "application/json").digest, runs)
    print(f"{'scenario':<88} {'ms/call':>8} {'old ms':>8}")
    print(f"{'floor: read and hash the 1 MiB body, no rules':<88} {floor:8.1f} {'':>8}")
    for name, spec, body, compare in scenarios:
        started = time.perf_counter()
        spec.matchers  # built once per rule change and cached; reported separately
        build = (time.perf_counter() - started) * 1000
        ms = timed(lambda: one_call(spec, body), runs)
        old = f"{timed(lambda: plain_call(spec, body), 1):8.0f}" if compare else "    n/a"
        print(f"{name:<88} {ms:8.1f} {old}   (matchers built once: {build:.0f} ms)")
    maintenance.tag_matcher
    ms = timed(lambda: in_maintenance(maintenance, Payload.from_body(random_body, 'application/json'), 0), runs)
    print(f"{'100 maintenance windows x 20 tag sets x 10 tags, all active, 1 MiB payload':<88} {ms:8.1f}")


if __name__ == "__main__":
    main()
