"""A hint to this process's worker that notifications may be due now."""

from __future__ import annotations

from flask import current_app


def wake_worker() -> None:
    """Tick now rather than at the next interval: a call opened or resolved an incident and may
    have queued notifications (a hint only; the rows are durable and any process's worker finds
    them within a tick)."""
    worker = current_app.extensions.get("callgoose_worker")
    if worker is not None:
        worker.wake()
