"""The escalation job: every tick, the levels whose timer is due are paged (timers are rows)."""

from __future__ import annotations

from ..services.escalation import run_due


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    done = run_due(engine, now, keep_alive)
    return ", ".join(f"{n} {what}" for what, n in sorted(done.items())) or None
