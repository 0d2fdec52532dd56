"""Retention (S33): old API calls and expired replay markers go; incidents never do.

Deletes run in small batches, each its own short write transaction, so that ingestion
never waits long for the write lock: the batch size adapts to keep each transaction near
``BATCH_SECONDS`` (measured by ``bench/prune.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .. import clock
from ..engine.config import MAX_WINDOW_SECONDS
from ..store.hotpath import Sql
from ..store.transactions import run_write

DAY = 86400
BATCH_SECONDS = 0.05  # the longest a batch should hold the write lock
FIRST_BATCH, MIN_BATCH, MAX_BATCH = 500, 10, 20_000

DELETE_CALLS = Sql("""
    DELETE FROM api_calls WHERE id IN (
        SELECT id FROM api_calls WHERE received_at < :cutoff ORDER BY received_at LIMIT :n)
    RETURNING payload_digest, id, received_at, services
""")
DELETE_CALL_SERVICE = Sql("DELETE FROM api_call_services WHERE service_id = :service_id "
                          "AND received_at = :received_at AND call_id = :call_id")
# A payload goes with the last call or incident that points at it (checked in the same
# transaction as the calls' deletion, so a call stored meanwhile keeps it: the foreign key).
DELETE_ORPHAN_PAYLOAD = Sql("""
    DELETE FROM payloads WHERE digest = :digest
    AND NOT EXISTS (SELECT 1 FROM api_calls WHERE payload_digest = :digest)
    AND NOT EXISTS (SELECT 1 FROM incidents WHERE payload_digest = :digest)
""")
# The timeline entries a call made go with the calls; what they said stays on the incident
# row (created_at, resolved_at), and people's entries (acknowledge, comments) stay.
DELETE_CALL_EVENTS = Sql("""
    DELETE FROM incident_events WHERE id IN (
        SELECT id FROM incident_events WHERE at < :cutoff AND api_call_id IS NOT NULL ORDER BY at LIMIT :n)
""")
DELETE_MARKERS = Sql("""
    DELETE FROM replay_markers WHERE (service_id, subject_key) IN (
        SELECT service_id, subject_key FROM replay_markers WHERE seen_at < :cutoff LIMIT :n)
""")
# Tests and verification codes belong to no incident: they go with the calls. A used link's
# nonce is needed only while the link could still work (24 hours).
DELETE_LOOSE_NOTIFICATIONS = Sql("""
    DELETE FROM notifications WHERE id IN (
        SELECT id FROM notifications WHERE incident_id IS NULL AND queued_at < :cutoff
        AND status IN ('sent', 'failed', 'unknown', 'cancelled') ORDER BY id LIMIT :n)
""")
DELETE_USED_LINKS = Sql("""
    DELETE FROM used_links WHERE nonce IN (SELECT nonce FROM used_links WHERE used_at < :cutoff LIMIT :n)
""")
LINK_KEEP_SECONDS = 4 * DAY  # longer than any signed link lives (an invitation: 72 hours)
# Change events (issue 18) are kept as long as API calls.
DELETE_CHANGES = Sql("""
    DELETE FROM change_events WHERE id IN (
        SELECT id FROM change_events WHERE received_at < :cutoff ORDER BY received_at LIMIT :n)
""")


@dataclass
class PruneResult:
    calls: int = 0
    events: int = 0
    markers: int = 0
    notifications: int = 0
    changes: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0


def _delete_calls(cursor, params: dict) -> int:
    """Delete a batch of old calls, their rows in api_call_services, then the payloads nothing
    points at any more."""
    rows = cursor.execute(DELETE_CALLS, params).fetchall()
    links = [{"service_id": int(sid), "received_at": at, "call_id": call_id}
             for _, call_id, at, services in rows for sid in dict.fromkeys((services or "").split(","))
             if sid.isdigit()]
    if links:
        cursor.executemany(DELETE_CALL_SERVICE, links)
    digests = sorted({row[0] for row in rows if row[0] is not None})
    if digests:
        cursor.executemany(DELETE_ORPHAN_PAYLOAD, [{"digest": d} for d in digests])
    return len(rows)


def _delete_call_events(cursor, params: dict) -> int:
    return cursor.changed(DELETE_CALL_EVENTS, params)


def _delete_markers(cursor, params: dict) -> int:
    return cursor.changed(DELETE_MARKERS, params)


def _in_batches(engine, step, params: dict, result: PruneResult, progress) -> int:
    """Run ``step`` (a ``DELETE … LIMIT :n``) until it deletes fewer rows than asked."""
    size, total = FIRST_BATCH, 0
    while True:
        started = time.perf_counter()
        deleted = run_write(engine, lambda cursor: step(cursor, {**params, "n": size}))
        elapsed = time.perf_counter() - started
        total += deleted
        result.batches += 1
        result.longest_batch_seconds = max(result.longest_batch_seconds, elapsed)
        if progress:
            progress(total)
        if deleted < size:
            return total
        if elapsed > BATCH_SECONDS:
            size = max(MIN_BATCH, int(size * BATCH_SECONDS / elapsed * 0.8))
        elif elapsed < BATCH_SECONDS / 2:
            size = min(MAX_BATCH, size * 2)


def prune(engine, now: float, retention_days: int, default_window: int, progress=None) -> PruneResult:
    """Delete calls older than the retention (with their timeline entries and the change events
    of their age) and markers older than any window.

    Incidents keep their mapping value and status, so S26 never depends on a call;
    a marker older than the longest window can no longer make a replay (S27).
    """
    result = PruneResult()
    cutoff = {"cutoff": clock.to_db(now - retention_days * DAY)}
    result.calls = _in_batches(engine, _delete_calls, cutoff, result, progress)
    still = (lambda _events: progress(result.calls)) if progress else None  # a long prune stays alive
    result.events = _in_batches(engine, _delete_call_events, cutoff, result, still)
    longest = max(MAX_WINDOW_SECONDS, default_window)
    result.markers = _in_batches(engine, _delete_markers, {"cutoff": clock.to_db(now - longest)}, result, still)
    result.notifications = _in_batches(engine, lambda c, p: c.changed(DELETE_LOOSE_NOTIFICATIONS, p), cutoff,
                                       result, still)
    result.changes = _in_batches(engine, lambda c, p: c.changed(DELETE_CHANGES, p), cutoff, result, still)
    _in_batches(engine, lambda c, p: c.changed(DELETE_USED_LINKS, p),
                {"cutoff": clock.to_db(now - LINK_KEEP_SECONDS)}, result, still)
    return result
