"""The snooze job: every tick, snoozed incidents whose time is up are triggered again (the
escalation job, next in the same tick, pages their policy's first level)."""

from __future__ import annotations

from ..services.snooze import wake_due


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    woke = wake_due(engine, now, keep_alive)
    return f"{woke} woke" if woke else None
