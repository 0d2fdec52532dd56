"""The heartbeat job: every tick, heartbeats whose timer is due move on (up → late → down,
and down opens an incident). Their timers are rows (``heartbeats.due_at``)."""

from __future__ import annotations

from ..services.catalog import spec_cache
from ..services.heartbeats import run_due


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    done = run_due(engine, now, spec_cache(config))  # a heartbeat's incident in a shadow run pages nobody
    return ", ".join(f"{n} {what}" for what, n in sorted(done.items())) or None
