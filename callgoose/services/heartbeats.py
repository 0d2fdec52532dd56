"""Heartbeats (issue 10, item 8) in the database: the worker's check of the due ones, which
opens an incident for one that went down (through the one change path, so it pages as any
incident does), and the dashboard's pause, resume, add and delete.

A call that counts for a heartbeat is recorded here (:func:`record_ping`), inside the caller's
write transaction: the ingestion pipeline's (services.ingestion) for a call that matches a
heartbeat's conditions, and Opsgenie's heartbeat ping (services.opsgenie, issue 18), which
also creates the heartbeat it names on its first ping (:func:`ensure_pinged`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select

from .. import clock
from ..engine import mapping_key
from ..engine.config import build_heartbeats
from ..engine.heartbeat import DOWN, LATE, MAX_HEARTBEATS, NEW, Heartbeat, after_ping, check, mapping_value
from ..extensions import db
from ..store.hotpath import Sql, to_datetime
from ..store.models import HeartbeatRow
from ..store.transactions import run_read, run_write, write
from . import audit
from .catalog import (
    SpecCache,
    bump_version,
    live_service,
    load_specs,
    save_heartbeats,
    service_rows,
)
from .lifecycle import Action, By, Changes

BATCH = 100
MAINTENANCE_RETRY = 60  # seconds: a heartbeat that is due during maintenance is looked at again
DUE = Sql("SELECT id, service_id, name, state, last_ping_at, every_seconds, grace_seconds, due_at FROM heartbeats "
          "WHERE NOT paused AND due_at IS NOT NULL AND due_at <= :now ORDER BY due_at LIMIT :n")
MOVE = Sql("UPDATE heartbeats SET state = :state, due_at = :next WHERE id = :id AND due_at = :seen")
SET_INCIDENT = Sql("UPDATE heartbeats SET incident_id = :incident WHERE id = :id")
BY = By(actor="heartbeat")
HEARTBEAT_OF = Sql("SELECT id, state, incident_id, paused FROM heartbeats WHERE service_id = :sid AND name = :name")
PING = Sql("UPDATE heartbeats SET state = :state, last_ping_at = :now, due_at = :due, incident_id = NULL "
           "WHERE id = :id")
PING_PAUSED = Sql("UPDATE heartbeats SET last_ping_at = :now WHERE id = :id")
COUNT = Sql("SELECT count(*) FROM heartbeats WHERE service_id = :sid")
CREATE = Sql("INSERT INTO heartbeats (service_id, name, conditions, every_seconds, grace_seconds, paused, state, "
             "created_at) VALUES (:sid, :name, :conditions, :every, :grace, :paused, :state, :now) "
             "ON CONFLICT (service_id, name) DO NOTHING RETURNING id")
BUMP_SERVICE = Sql("UPDATE services SET version = version + 1 WHERE id = :sid")


def record_ping(cursor, changes: Changes, by: By, service_id: int, beat: Heartbeat, now: float,
                service_paging) -> list[int]:
    """Record a call for ``beat`` in the caller's transaction; a heartbeat that was down is up
    again and its incident resolved (returned). A paused one only notes the time."""
    row = cursor.execute(HEARTBEAT_OF, {"sid": service_id, "name": beat.name}).fetchone()
    if row is None:
        return []
    beat_id, state, incident_id, paused = row
    now_db = clock.to_db(now)
    if paused:
        cursor.execute(PING_PAUSED, {"id": beat_id, "now": now_db})
        return []
    state, due = after_ping(beat, now)
    cursor.execute(PING, {"id": beat_id, "state": state, "now": now_db, "due": clock.to_db(due)})
    if incident_id is None:
        return []
    return changes.apply(Action.RESOLVE, by, incident_id=incident_id, service_paging=service_paging)


def ensure_pinged(cursor, spec, beat: Heartbeat, now: float) -> bool | None:
    """Create ``beat`` on its service unless a heartbeat of its name exists (the first ping of
    an Opsgenie heartbeat creates it, issue 18), in the caller's transaction. True: created;
    False: it existed; None: the service has :data:`MAX_HEARTBEATS` already."""
    if any(h.name == beat.name for h in spec.heartbeats):
        return False
    if cursor.execute(COUNT, {"sid": spec.service_id}).fetchone()[0] >= MAX_HEARTBEATS:
        return None
    row = cursor.execute(CREATE, {
        "sid": spec.service_id, "name": beat.name, "conditions": json.dumps([c.as_dict() for c in beat.conditions]),
        "every": beat.every_seconds, "grace": beat.grace_seconds, "paused": False, "state": NEW,
        "now": clock.to_db(now)}).fetchone()
    if row is None:
        return False  # created meanwhile (or before this process's spec was read)
    cursor.execute(BUMP_SERVICE, {"sid": spec.service_id})  # every process reloads the service
    return True


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _quiet(spec, now: float) -> bool:
    """A disabled service, or one in a maintenance window for every call, opens nothing."""
    return not spec.enabled or any(w.active_at(now) and not w.tags for w in spec.maintenance)


def run_due(engine, now: float, cache: SpecCache | None = None) -> dict:
    """Move each due heartbeat on: up → late → down; a heartbeat that goes down opens an incident."""
    cache = cache or SpecCache()
    rows = run_read(engine, lambda cursor: cursor.execute(DUE, {"now": clock.to_db(now), "n": BATCH}).fetchall())
    done = {"late": 0, "down": 0}
    for beat_id, service_id, name, state, last, every, grace, seen in rows:
        last, seen = clock.from_db(to_datetime(last)), to_datetime(seen)
        specs = load_specs(engine, cache, run_read(engine, lambda c: service_rows(c, service_id)))
        spec = specs[0] if specs and not isinstance(specs[0], Exception) else None
        new_state, next_at = check(state, last, every, grace, now)
        if new_state == DOWN and (spec is None or _quiet(spec, now)):
            new_state, next_at = LATE, now + MAINTENANCE_RETRY  # not while nobody should be paged

        def work(cursor, beat_id=beat_id, seen=seen, new_state=new_state, next_at=next_at, name=name,
                 last=last, every=every, grace=grace):
            moved = cursor.changed(MOVE, {"id": beat_id, "state": new_state, "next": clock.to_db(next_at),
                                          "seen": seen})
            if not moved or new_state != DOWN:
                return bool(moved)  # a call came meanwhile: it is up again
            changes = Changes(cursor, clock.to_db(now))
            value = mapping_value(name)
            incident, _ = changes.open_or_repeat({
                "service_id": service_id, "title": f"Heartbeat {name}: no call since {_utc(last)}",
                "description": (f"{spec.name} expects a call for heartbeat {name} every {every // 60} min "
                                f"(grace {grace // 60} min); the last came at {_utc(last)}. The next such call "
                                "resolves this incident."),
                "payload_digest": None, "urgency": "high", "mapping_value": value, "mapping_key": mapping_key(value),
                "rule_id": None}, BY, spec.paging)
            cursor.execute(SET_INCIDENT, {"incident": incident, "id": beat_id})
            changes.finish()
            return True
        if run_write(engine, work) and new_state in (LATE, DOWN):
            done[new_state] += 1
    return {k: v for k, v in done.items() if v}


def _all(service_id: int):
    service = live_service(service_id)
    if service is None:
        return None, []
    rows = db.session.execute(select(HeartbeatRow).where(HeartbeatRow.service_id == service_id)
                              .order_by(HeartbeatRow.id)).scalars()
    return service, [{"name": r.name, "conditions": r.conditions, "every_minutes": r.every_seconds // 60,
                      "grace_minutes": r.grace_seconds // 60, "paused": r.paused} for r in rows]


def change(service_id: int, now: float, *, add: dict | None = None, remove: str | None = None,
           pause: str | None = None, resume: str | None = None) -> str | None:
    """Add, delete, pause or resume one heartbeat of a service, checked as the configuration
    document is; return the service's name (None: no such service).

    :raises SpecError: the fault, e.g. a name that exists already."""
    def work():
        service, docs = _all(service_id)
        if service is None:
            return None
        if add is not None:
            docs.append(add)
        docs = [d for d in docs if d["name"] != remove]
        for doc in docs:
            if doc["name"] in (pause, resume):
                doc["paused"] = doc["name"] == pause
        save_heartbeats(service, build_heartbeats(docs, "heartbeats"), now)
        bump_version(service.id)
        return service.name
    return write(audit.tracking("service", service_id, work))

