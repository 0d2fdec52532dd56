"""Retention (S33): old API calls and expired replay markers go; incidents never do."""

from __future__ import annotations

from sqlalchemy import delete

from . import clock
from .database import begin_session_write
from .engine.config import MAX_WINDOW_SECONDS
from .extensions import db
from .models import ApiCall, ReplayMarker

DAY = 86400


def prune(now: float, retention_days: int, default_window: int) -> tuple[int, int]:
    """Delete calls older than the retention and markers older than any window. Commits.

    Incidents keep their mapping value and status, so S26 never depends on a call;
    a marker older than the longest window can no longer make a replay (S27).
    """
    begin_session_write()
    calls = db.session.execute(delete(ApiCall).where(
        ApiCall.received_at < clock.to_db(now - retention_days * DAY))).rowcount
    longest = max(MAX_WINDOW_SECONDS, default_window)
    markers = db.session.execute(delete(ReplayMarker).where(
        ReplayMarker.seen_at < clock.to_db(now - longest))).rowcount
    db.session.commit()
    return calls, markers
