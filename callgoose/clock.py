"""Time in one place: the engine counts epoch seconds, the database stores naive UTC."""

from __future__ import annotations

import time
from datetime import datetime, timezone


_offset = 0.0  # added to this process's clock to read the database server's (store.database.sync_clock)


def now() -> float:
    """Epoch seconds by the database's clock where it has one (PostgreSQL), so a timer one
    process writes and another compares means the same instant to both."""
    return time.time() + _offset


def set_offset(seconds: float) -> None:
    global _offset
    _offset = seconds


def to_db(epoch: float | None) -> datetime | None:
    """Epoch seconds to the naive UTC datetime the tables store."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


def from_db(value: datetime | None) -> float | None:
    """A stored datetime back to epoch seconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def iso(value: datetime | None) -> str | None:
    """A stored datetime as ISO 8601 UTC with a ``Z`` (S36)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"
