"""Applying an alert API's event (issue 18: PagerDuty's Events API v2, Opsgenie's Alert API).

The one path for every such API: the caller (a view) has authenticated the token and parsed
the request into an :class:`~callgoose.engine.events.Event`; this module decides maintenance
outside the write lock, then opens, acknowledges, resolves, notes or edits the incident through
:class:`~callgoose.services.lifecycle.Changes` (so paging, webhooks and the outbox follow as for
``/v1/process``), and stores the API call record with its outcome in the same transaction: an
answer is only ever sent for a committed event (S32).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from .. import clock
from ..engine import Flags, Payload, ServiceSpec, clean, in_maintenance, mapping_key
from ..engine.events import Act, Event
from ..engine.lifecycle import Action, TransitionRefused
from ..engine.outcome import ServiceOutcome, reason, short
from ..store.hotpath import Sql
from ..store.transactions import run_shared, run_write, transient_errors
from .ingestion import INSERT_CALL, INSERT_CALL_SERVICES, STORE_PAYLOAD, call_row, call_services, new_call_id, touch_token
from .lifecycle import By, Changes, NotFound
from .tokens import TokenInfo

log = logging.getLogger(__name__)

ACTIONS = {Act.ACKNOWLEDGE: Action.ACKNOWLEDGE, Act.RESOLVE: Action.RESOLVE}
# The incident a key names for the acts that do not open one: its active incident, else its
# latest (Opsgenie adds a note to a closed alert of an alias as well).
BY_KEY = Sql("""
    SELECT id FROM incidents WHERE service_id = :sid AND mapping_key = :mkey
    ORDER BY CASE WHEN status IN ('triggered', 'acknowledged') THEN 0 ELSE 1 END, id DESC LIMIT 1
""")
BY_ID = Sql("SELECT id FROM incidents WHERE id = :id AND service_id = :sid")


@dataclass(frozen=True)
class EventResult:
    call_id: str
    status: int  # this event's S31 status on its service (201 opened, 200 resolved, 208 duplicate, 202)
    outcome: ServiceOutcome
    reason: str | None = None  # why it changed nothing (engine.outcome.reason), as a Say
    queued: bool = False  # whether it queued work for the worker (a page, an escalation): wake it

    @property
    def incident_id(self) -> int | None:
        return self.outcome.incident or next(iter(self.outcome.resolved_incidents), None)

    @property
    def found(self) -> bool:
        """Whether the incident the event named exists on its service (an OPEN always finds one)."""
        return self.outcome.incident is not None or bool(self.outcome.resolved_incidents)


def _note(spec: ServiceSpec, payload: Payload, now: float) -> str | None:
    """Why the service skips the event (S29: maintenance skips every act; a disabled service
    ignores everything), decided before the write transaction; None: it applies."""
    if not spec.enabled:
        return "disabled"
    try:
        return "maintenance" if in_maintenance(spec, payload, now) else None
    except Exception as exc:  # never worth losing the call over (S32)
        log.exception("maintenance of %s cannot be evaluated", spec.name)
        return clean(f"error: {type(exc).__name__}: {exc}")[:500]


class _Apply:
    def __init__(self, cursor, spec: ServiceSpec, event: Event, payload: Payload, call_id: str, now_db):
        self.cursor, self.spec, self.event, self.payload = cursor, spec, event, payload
        self.by = By(call_id=call_id, actor=event.actor)
        self.changes = Changes(cursor, now_db)

    def run(self) -> tuple[Flags, dict]:
        event = self.event
        if event.act is Act.OPEN:
            return self._open()
        target = self._target()
        if target is None:
            return Flags(), {}
        flags, done = Flags(), {"incident": target}
        if event.act in ACTIONS:
            try:
                changed = self.changes.act(ACTIONS[event.act], target, self.by, service_id=self.spec.service_id)
            except (NotFound, TransitionRefused):
                changed = False
            if event.act is Act.RESOLVE and changed:
                flags.resolved = True
                done = {"resolved_incidents": (target,)}
        elif event.act is Act.RETITLE:
            self.changes.edit(target, "title", event.title, self.by)
        elif event.act is Act.REDESCRIBE:
            self.changes.edit(target, "description", event.description or "", self.by)
        if event.note:
            self.changes.note(target, "comment", event.note, self.by)
        return flags, done

    def _open(self) -> tuple[Flags, dict]:
        event, spec = self.event, self.spec
        incident, created = self.changes.open_or_repeat({
            "service_id": spec.service_id, "title": event.title, "description": event.description,
            "payload_digest": self.payload.digest if self.payload.text else None, "urgency": event.urgency,
            "priority": event.priority, "mapping_value": event.key,
            "mapping_key": mapping_key(event.key) if event.key is not None else None,
            "rule_id": None, "facts": json.dumps(event.facts, ensure_ascii=False) if event.facts else None},
            self.by, spec.paging)
        if event.note:
            self.changes.note(incident, "comment", event.note, self.by)
        flags = Flags(created=created, trigger_duplicate=not created)
        return flags, {"incident": incident, "created": created}

    def _target(self) -> int | None:
        event = self.event
        if event.incident_id is not None:
            row = self.cursor.execute(BY_ID, {"id": event.incident_id, "sid": self.spec.service_id}).fetchone()
        elif event.key is not None:
            row = self.cursor.execute(BY_KEY, {"sid": self.spec.service_id, "mkey": mapping_key(event.key)}).fetchone()
        else:
            row = None
        return row[0] if row is not None else None


def process_event(engine, token: TokenInfo, spec: ServiceSpec, event: Event, raw: bytes, content_type: str | None,
                  source: str | None, now: float, sent: int) -> EventResult:
    """Apply one event on its service and store the call (answered ``sent``: each API answers
    its own way, PagerDuty and Opsgenie 202 for every accepted event) in one transaction."""
    payload = Payload.from_body(raw, content_type)
    source = clean(source) if source else None
    skip = _note(spec, payload, now)
    call_id = new_call_id(now)
    base = ServiceOutcome(spec.name, spec.service_id, 202, note=skip, event=event.label, key=short(event.key))

    def work(cursor, broken: str | None = None):
        now_db = clock.to_db(now)
        if payload.text:
            cursor.execute(STORE_PAYLOAD, {"digest": payload.digest, "text": payload.text})
        flags, done = Flags(), {}
        apply = _Apply(cursor, spec, event, payload, call_id, now_db)
        if skip is None and broken is None:
            flags, done = apply.run()
        error = broken or (skip if skip and skip.startswith("error") else None)
        outcome = replace(base, status=flags.status, note=error or skip, **done)
        cursor.execute(INSERT_CALL, call_row(call_id, token, now_db, source, content_type, len(raw),
                                            payload.digest if payload.text else None, sent, [outcome], error))
        cursor.executemany(INSERT_CALL_SERVICES, call_services(call_id, now_db, [spec.service_id]))
        apply.changes.finish()
        touch_token(cursor, token, now)
        return outcome, apply.changes.queued

    try:
        outcome, queued = run_shared(engine, work)
    except transient_errors(engine):
        raise
    except Exception as exc:
        # A change the database refuses (a bug, a value it cannot store) must not lose the call:
        # it is kept with the error and changes nothing (S32), like a rule that cannot be evaluated.
        log.exception("event %s (%s) failed; keeping the call without its changes", call_id, event.label)
        broken = clean(f"error: the outcome cannot be recorded: {type(exc).__name__}: {exc}")[:500]
        outcome, queued = run_write(engine, lambda cursor: work(cursor, broken))
    return EventResult(call_id, outcome.status, outcome, reason([outcome], outcome.status), queued)
