"""Schedule notices: a gap in a schedule told a day ahead (daily), a shift's start told to
the person whose shift it is (every minute)."""

from __future__ import annotations

from ..services.readiness import notify_gaps, notify_handoffs, refresh


def gaps(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    queued = notify_gaps(engine, now)
    return f"{queued} gap notices queued" if queued else None


def handoffs(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    queued = notify_handoffs(engine, now)
    return f"{queued} handoff notices queued" if queued else None


def readiness(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    """Check readiness again and store the result, so the front page reads it."""
    refresh(engine, now)
    return None
