"""The one path for every incident change, whoever makes it.

A call from a tool (the hot path), a person in the dashboard, a script through the API and
the deletion of a service all change incidents here, inside the caller's write
transaction: the status change, its timeline entry, the incident's ``version`` and the
change counter the live list polls are written together, and :meth:`Changes.finish`
writes what the changes mean for paging (the outbox rows, the escalation timer) through
:mod:`callgoose.services.paging`, in the same transaction.

The statements are built from :mod:`callgoose.engine.lifecycle`'s rules, so a status word
or an allowed transition is written once, there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from functools import lru_cache

from .. import clock
from ..engine.lifecycle import ACTIVE, ACTIVE_SQL, RULES, Action, Status, raises_urgency, transition
from ..engine.notes import Note, stored_words
from ..store.hotpath import Cursor, Sql
from . import audit, paging

COUNTER_SHARDS = 16  # writers pick one at random, so two seldom wait for one row
BUMP_COUNTER = Sql("""
    INSERT INTO change_counters (shard, value) VALUES (:shard, :n)
    ON CONFLICT (shard) DO UPDATE SET value = change_counters.value + excluded.value
""")
INSERT_EVENT = Sql("""
    INSERT INTO incident_events (incident_id, at, kind, api_call_id, user_id, actor, note, note_words)
    VALUES (:incident_id, :at, :kind, :api_call_id, :user_id, :actor, :note, :note_words)
""")
BUMP_VERSION = Sql("UPDATE incidents SET version = version + 1 WHERE id = :id")
STATUS_OF = Sql("SELECT status FROM incidents WHERE id = :id")
STATUS_OF_IN_SERVICE = Sql("SELECT status FROM incidents WHERE id = :id AND service_id = :sid")
# S26 as one statement: open the incident, or count a repeat on the active one. The
# conflict target is the partial unique index of active incidents, so the database makes
# the choice (a NULL mapping key never conflicts); ``duplicate_count`` comes back 0 for a
# new incident.
OPEN_OR_REPEAT = Sql(f"""
    INSERT INTO incidents (service_id, title, description, payload_digest, urgency, priority, status,
        mapping_value, mapping_key, duplicate_count, version, rule_id, created_by_call, created_at,
        last_seen_at, facts, shadow)
    VALUES (:service_id, :title, :description, :payload_digest, :urgency, :priority, '{RULES[Action.OPEN].to}',
        :mapping_value, :mapping_key, 0, 1, :rule_id, :created_by_call, :now, :now, :facts, :shadow)
    ON CONFLICT (service_id, mapping_key) WHERE {ACTIVE_SQL}
    DO UPDATE SET duplicate_count = incidents.duplicate_count + 1, version = incidents.version + 1,
        first_repeat_at = coalesce(incidents.first_repeat_at, excluded.last_seen_at),
        last_seen_at = excluded.last_seen_at
    RETURNING id, duplicate_count, urgency
""")
# A repeat that asks for a higher urgency (engine.lifecycle.raises_urgency); the status comes
# back for paging, nothing when another call raised it first.
RAISE_URGENCY = Sql(f"""
    UPDATE incidents SET urgency = :urgency, version = version + 1
    WHERE id = :id AND urgency = :was AND {ACTIVE_SQL}
    RETURNING status
""")

# Issue 18: an alert API may change an incident's title or description (Opsgenie's message
# and description endpoints); the timeline keeps the new text.
EDITS = {"title": Sql("UPDATE incidents SET title = :value, version = version + 1 WHERE id = :id"),
         "description": Sql("UPDATE incidents SET description = :value, version = version + 1 WHERE id = :id")}
EDITED = {"title": "retitled", "description": "redescribed"}  # the timeline entry of each


def _status_test(statuses: tuple[str, ...]) -> str:
    # The active set is written as the partial index's own text (see engine.lifecycle).
    if tuple(statuses) == ACTIVE:
        return ACTIVE_SQL
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


@lru_cache(maxsize=None)
def statement(action: Action, by_mapping: bool) -> Sql:
    """The UPDATE that applies ``action`` to one incident (by id) or to the active incidents of
    one mapping value (by service and mapping key), returning the ids it changed."""
    rule = RULES[action]
    sets = [f"status = '{rule.to}'"] if rule.to else []
    if rule.sets:
        sets.append(f"{rule.sets} = :now")
    if rule.until:
        sets.append(f"{rule.until} = :until")
    sets += [f"{column} = NULL" for column in rule.clears]
    sets.append("version = version + 1")
    where = "service_id = :sid AND mapping_key = :mkey" if by_mapping else "id = :id"
    if rule.due:
        where += f" AND {rule.due} <= :now"
    return Sql(f"UPDATE incidents SET {', '.join(sets)} WHERE {where} AND {_status_test(rule.allowed)} "
               "RETURNING id")


@dataclass(frozen=True)
class By:
    """Who made a change: a call from a tool, or a person or token (``actor``)."""

    call_id: str | None = None
    actor: str | None = None
    user_id: int | None = None


class NotFound(LookupError):
    """No such incident (or none the caller may reach)."""


class Changes:
    """The incident changes of one write transaction; :meth:`finish` before it commits."""

    def __init__(self, cursor: Cursor, now_db):
        self.cursor = cursor
        self.now_db = now_db
        self.events: list[dict] = []
        self.changed = 0
        self.paging = paging.Pending([], [])
        self.queued = False  # whether paging queued work for the worker (a hint: wake it)

    def _record(self, incident_id: int, kind: str | None, by: By, note: str | None = None) -> None:
        self.changed += 1
        if kind is not None:
            self.events.append({"incident_id": incident_id, "at": self.now_db, "kind": kind,
                                "api_call_id": by.call_id, "user_id": by.user_id, "actor": by.actor,
                                "note": note, "note_words": stored_words(note)})

    def open_or_repeat(self, fields: dict, by: By, service_paging) -> tuple[int, bool]:
        """Open an incident, or count a repeat on the active one of its mapping value.

        ``service_paging``: what the service's new incident pages (engine.paging.ServicePaging,
        from its cached spec; a shadow run's incident is pinned as one, in the same statement).
        ``fields["facts"]``: engine.page.facts_of's, as JSON text (None: none)."""
        incident_id, repeats, urgency = self.cursor.execute(OPEN_OR_REPEAT, {
            "facts": None, "priority": None, **fields, "shadow": bool(service_paging.shadow),
            "created_by_call": by.call_id,
            "now": self.now_db}).fetchone()
        created = repeats == 0
        self._record(incident_id, RULES[Action.OPEN if created else Action.REPEAT].event, by)
        if created:
            self.paging.opened.append((incident_id, fields["urgency"], service_paging))
        elif raises_urgency(urgency, fields["urgency"]):
            self._raise(incident_id, urgency, fields["urgency"], by)
        return incident_id, created

    def _raise(self, incident_id: int, was: str, urgency: str, by: By) -> None:
        """Raise an open incident's urgency; paging writes its timeline entry (with what it paged)."""
        row = self.cursor.execute(RAISE_URGENCY, {"id": incident_id, "urgency": urgency, "was": was}).fetchone()
        if row is not None:
            self.changed += 1
            self.paging.raised.append((incident_id, row[0], was, urgency, by))

    def apply(self, action: Action, by: By, *, incident_id: int | None = None,
              service_id: int | None = None, mapping_key: str | None = None,
              note: str | None = None, service_paging=None, until=None) -> list[int]:
        """Apply ``action`` where its rule allows it (to one incident, or to the active ones of
        a mapping value); return the ids it changed. ``service_paging``: the service's cached
        paging, when the caller has it (then a service without webhooks reads none). ``until``:
        the time a snooze ends (database time)."""
        if incident_id is not None:
            params = {"id": incident_id, "now": self.now_db}
            if RULES[action].until:
                params["until"] = until
            rows = self.cursor.execute(statement(action, False), params)
        else:
            rows = self.cursor.execute(statement(action, True), {
                "sid": service_id, "mkey": mapping_key, "now": self.now_db})
        ids = [row[0] for row in rows.fetchall()]
        for changed in ids:
            self._record(changed, RULES[action].event, by, note)
            self.paging.acted.append((changed, action, by,
                                      service_paging.webhooks if service_paging is not None else None))
        return ids

    def act(self, action: Action, incident_id: int, by: By, *, service_id: int | None = None,
            note: str | None = None, until=None) -> bool:
        """A person's (or script's) action on one incident: whether it changed anything.
        ``until``: when a snooze ends (database time); its timeline note is that time in UTC.

        :raises NotFound: no such incident within ``service_id``.
        :raises TransitionRefused: the incident's status does not allow it.
        """
        params = {"id": incident_id} if service_id is None else {"id": incident_id, "sid": service_id}
        row = self.cursor.execute(STATUS_OF if service_id is None else STATUS_OF_IN_SERVICE, params).fetchone()
        if row is None:
            raise NotFound(incident_id)
        rule = transition(action, row[0])
        if rule is None:
            return False
        if rule.until:
            note = Note("snoozed_until", time=clock.iso(until))
        done = bool(self.apply(action, by, incident_id=incident_id, note=note, until=until))
        if done:
            self.audit(incident_id, action.value, [{"path": ["status"], "old": row[0], "new": rule.to}] if rule.to
                       else [{"path": [rule.until], "new": clock.iso(until)}] if rule.until
                       else [{"path": ["note"], "new": note}], by)
        return done

    def audit(self, incident_id: int, action: str, changes: list, by: By) -> None:
        """An audit entry for a person's, a token's or a link's action (a tool's call is in the API
        log already: nothing here on the ingestion path)."""
        if by.call_id is not None:
            return
        actor = audit.current_actor()
        if actor.id is None and by.user_id is not None:
            actor = replace(actor, id=by.user_id, name=by.actor)
        elif actor.name is None:
            actor = replace(actor, name=by.actor)
        audit.record("incident", incident_id, None, action, changes, now=clock.from_db(self.now_db),
                     cursor=self.cursor, actor=actor)

    def note(self, incident_id: int, kind: str, note: str, by: By = By(actor="Callgoose")) -> None:
        """A timeline entry that changes no status (escalation and paging say what they did)."""
        self.cursor.execute(BUMP_VERSION, {"id": incident_id})
        self._record(incident_id, kind, by, note)

    def edit(self, incident_id: int, field: str, value: str, by: By) -> None:
        """Set an incident's ``title`` or ``description`` (whatever its status), with a timeline entry."""
        self.cursor.execute(EDITS[field], {"id": incident_id, "value": value})
        self._record(incident_id, EDITED[field], by, value if field == "title" else None)

    def escalate_now(self, incident_id: int, by: By) -> bool:
        """Make the incident's next escalation level due now (the worker pages it)."""
        if not paging.escalate_now(self.cursor, self.now_db, incident_id):
            return False
        self.audit(incident_id, "escalate", [], by)
        self.note(incident_id, "comment", Note("escalation_requested"), by)
        return True

    def mark(self) -> tuple[int, ...]:
        """Where this unit stands, for :meth:`undo_to` after a savepoint is rolled back."""
        return (len(self.events), self.changed, len(self.paging.opened), len(self.paging.acted),
                len(self.paging.raised))

    def undo_to(self, mark: tuple[int, ...]) -> None:
        """Forget what was recorded since ``mark`` (its statements were rolled back)."""
        events, self.changed, opened, acted, raised = mark
        del self.events[events:]
        del self.paging.opened[opened:]
        del self.paging.acted[acted:]
        del self.paging.raised[raised:]

    def flush_paging(self) -> None:
        """Write the outbox rows and escalation timers of the changes so far (a savepoint's
        part of a call does this before it is released; :meth:`finish` does the rest)."""
        if self.paging.opened or self.paging.acted or self.paging.raised:
            pending, self.paging = self.paging, paging.Pending([], [])
            self.queued |= paging.after_changes(self.cursor, self, pending)

    def finish(self) -> None:
        """Write the paging rows, the timeline entries and count the changes, inside the same
        transaction."""
        self.flush_paging()
        if self.events:
            self.cursor.executemany(INSERT_EVENT, self.events)
            self.events = []
        if self.changed:
            self.cursor.execute(BUMP_COUNTER, {"shard": random.randrange(COUNTER_SHARDS), "n": self.changed})
            self.changed = 0


__all__ = ["Action", "By", "Changes", "NotFound", "Status", "statement"]
