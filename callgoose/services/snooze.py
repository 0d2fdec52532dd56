"""The snooze job's transactions (issue 20, item 3): a snoozed incident whose time is up becomes
triggered again, through the one change path, and its policy pages again from level 1.

Each wake-up is its own write transaction, and the statement itself checks that the incident is
still acknowledged and still due (engine.lifecycle's rule), so two workers, or a person resolving
it meanwhile, never wake it twice: on PostgreSQL the second UPDATE waits for the first's row lock,
then finds the time cleared and changes nothing.
"""

from __future__ import annotations

from .. import clock
from ..engine.lifecycle import Action, Status
from ..store.hotpath import Sql
from ..store.transactions import run_read, run_write
from .lifecycle import By, Changes

DUE_SNOOZES = Sql(f"""
    SELECT id FROM incidents
    WHERE snoozed_until <= :now AND status = '{Status.ACKNOWLEDGED.value}'
    ORDER BY snoozed_until LIMIT :limit
""")
WAKER = By(actor="Callgoose")


def due(cursor, now: float, limit: int = 200) -> list[int]:
    return [row[0] for row in cursor.execute(DUE_SNOOZES, {"now": clock.to_db(now), "limit": limit}).fetchall()]


def wake_due(engine, now: float, keep_alive=lambda: None) -> int:
    """Wake every incident whose snooze is over; return how many this process woke."""
    woke = 0
    for incident_id in run_read(engine, lambda cursor: due(cursor, now)):
        def work(cursor, incident_id=incident_id) -> int:
            changes = Changes(cursor, clock.to_db(now))
            done = len(changes.apply(Action.SNOOZE_ENDED, WAKER, incident_id=incident_id))
            changes.finish()
            return done
        woke += run_write(engine, work)
        keep_alive()
    return woke
