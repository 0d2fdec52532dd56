"""The retention job: S33's deletes, in batches that hold the write lock about 50 ms each."""

from __future__ import annotations

from ..services import audit
from ..services.retention import prune


def run(engine, config, now: float, keep_alive=lambda: None) -> str:
    """Prune once; return a line for the log. ``keep_alive`` is called between batches (it renews
    the worker's lease, so a long prune never lets a second worker start)."""
    result = prune(engine, now, config["API_LOG_RETENTION_DAYS"], config["DUPLICATE_WINDOW_SECONDS"],
                   lambda _deleted: keep_alive())
    days = config["AUDIT_RETENTION_DAYS"]
    entries = audit.prune(engine, now, days) if days else 0
    return (f"deleted {result.calls} calls, {result.events} timeline entries and {result.markers} markers, "
            f"{result.notifications} old tests and codes, {entries} audit entries in {result.batches} batches "
            f"(longest {result.longest_batch_seconds * 1000:.0f} ms)")
