"""The escalation job's transactions: each due step in its own, through the one change path."""

from __future__ import annotations

from collections import Counter

from .. import clock
from ..store.transactions import run_read, run_write
from . import paging
from .lifecycle import Changes


def run_due(engine, now: float, keep_alive=lambda: None) -> Counter:
    """Take every escalation whose timer is due and do its next step; count what happened."""
    done: Counter = Counter()
    for incident_id in run_read(engine, lambda cursor: paging.due_escalations(cursor, now)):
        def work(cursor, incident_id=incident_id):
            changes = Changes(cursor, clock.to_db(now))
            what = paging.escalate_one(cursor, changes, incident_id)
            changes.finish()
            return what
        what = run_write(engine, work)
        if what:
            done[what] += 1
        keep_alive()
    return done
