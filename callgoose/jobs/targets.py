"""Response targets (issue 20): every 15 seconds, the targets open incidents missed (services.targets)."""

from __future__ import annotations

from ..services.targets import check


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    done = check(engine, now, keep_alive)
    return ", ".join(f"{n} {target} target(s) missed" for target, n in sorted(done.items())) or None
