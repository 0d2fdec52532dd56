"""The drills job: drills whose time has come page their person; runs that were acknowledged
or whose time is up resolve themselves with their report (issue 17, item 6)."""

from __future__ import annotations

from ..services.drills import run_due


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    done = run_due(engine, now, keep_alive)
    return ", ".join(f"{n} drill runs {what}" for what, n in sorted(done.items())) or None
