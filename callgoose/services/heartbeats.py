"""Heartbeats (issue 10, item 8) in the database: the worker's check of the due ones, which
opens an incident for one that went down (through the one change path, so it pages as any
incident does), and the dashboard's pause, resume, add and delete.

A call that counts for a heartbeat is recorded by the ingestion pipeline (services.ingestion),
which also resolves the incident of a heartbeat that was down.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from .. import clock
from ..engine import mapping_key
from ..engine.config import build_heartbeats
from ..engine.heartbeat import DOWN, LATE, check, mapping_value
from ..extensions import db
from ..store.hotpath import Sql, to_datetime
from ..store.models import HeartbeatRow
from ..store.transactions import run_read, run_write, write
from .catalog import (
    SpecCache,
    bump_version,
    live_service,
    load_specs,
    save_heartbeats,
    service_rows,
)
from .lifecycle import By, Changes

BATCH = 100
MAINTENANCE_RETRY = 60  # seconds: a heartbeat that is due during maintenance is looked at again
DUE = Sql("SELECT id, service_id, name, state, last_ping_at, every_seconds, grace_seconds, due_at FROM heartbeats "
          "WHERE NOT paused AND due_at IS NOT NULL AND due_at <= :now ORDER BY due_at LIMIT :n")
MOVE = Sql("UPDATE heartbeats SET state = :state, due_at = :next WHERE id = :id AND due_at = :seen")
SET_INCIDENT = Sql("UPDATE heartbeats SET incident_id = :incident WHERE id = :id")
BY = By(actor="heartbeat")


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
    return write(work)

