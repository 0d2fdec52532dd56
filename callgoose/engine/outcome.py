"""What one call did on one service, as one typed record with a version (S33).

The pipeline makes a :class:`ServiceOutcome` per service and stores it as JSON in
``api_calls.results``; the API log, the test form and the explanations read it back here,
and only here. :meth:`ServiceOutcome.from_json` reads every stored version: version 1 rows
(release 0.1 and issue 6, no ``"v"`` key) lack ``created``, which their status says.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .words import Joined, Plural, Say, from_data, to_data

VERSION = 2
VALUE_CHARS = 200  # a value kept in the record is cut to this many characters


def short(value: str | None) -> str | None:
    """A value cut to VALUE_CHARS; a :class:`Say` keeps its message id, its values cut."""
    if isinstance(value, Say) and not isinstance(value, Plural):
        return Say(value.msgid, **{name: short(part) if isinstance(part, str) else part
                                   for name, part in value.values.items()})
    if value is None or len(value) <= VALUE_CHARS:
        return value
    return value[:VALUE_CHARS] + "…"


@dataclass(frozen=True)
class TriggerHit:
    rule: int  # position among the service's trigger rules
    rule_id: int | None = None
    mapping_value: str | None = None


@dataclass(frozen=True)
class ResolveHit:
    rule: int
    rule_id: int | None = None
    value: str | None = None  # the mapping value it resolves


@dataclass(frozen=True)
class Miss:
    """A rule that did not hold, and the first condition that failed (-1: its mapping key)."""

    kind: str  # trigger | resolve
    rule: int
    condition: int
    json_key: str | None
    reason: str | None  # a Say (stored as its message id and values); a record before issue 21: English
    need: str | None = None  # 'status to contain "firing"' (records before issue 10: None)
    value: str | None = None  # the key's value in the payload, cut (None: absent)


@dataclass(frozen=True)
class ServiceOutcome:
    service: str | None  # None when the service's rules could not be loaded
    service_id: int | None
    status: int  # this service's part of the answer (S30)
    note: str | None = None  # disabled | maintenance | error: ...
    trigger: TriggerHit | None = None
    resolves: tuple[ResolveHit, ...] = ()
    misses: tuple[Miss, ...] = ()
    replay: bool = False  # S27: the same payload for the same subject within the window
    incident: int | None = None  # the incident the trigger rule opened or counted a repeat on
    created: bool = False
    resolved_incidents: tuple[int, ...] = field(default=())
    element: str | None = None  # S38: the element of the split array this is of, e.g. "alerts[0]"
    pings: tuple[str, ...] = ()  # the heartbeats this call counted for
    event: str | None = None  # issue 18: an alert API's event instead of rules, e.g. "pagerduty trigger"
    key: str | None = None  # that event's dedup key or alias (cut)

    @property
    def is_error(self) -> bool:
        return bool(self.note) and self.note.startswith("error")

    def with_status(self, status: int) -> ServiceOutcome:
        return replace(self, status=status)

    def to_json(self) -> dict:
        """The stored form: the record's fields that are set, and ``"v"``."""
        doc: dict = {"v": VERSION, "service": self.service, "service_id": self.service_id, "status": self.status}
        if self.note:
            doc["note"] = self.note
        if self.trigger is not None:
            doc["trigger"] = {"rule": self.trigger.rule, "rule_id": self.trigger.rule_id,
                              "mapping_value": self.trigger.mapping_value}
        if self.resolves:
            doc["resolve"] = [{"rule": h.rule, "rule_id": h.rule_id, "value": h.value} for h in self.resolves]
        if self.misses:
            doc["misses"] = [{"kind": m.kind, "rule": m.rule, "condition": m.condition, "json_key": m.json_key,
                              "reason": to_data(m.reason), **({"need": to_data(m.need)} if m.need else {}),
                              **({"value": m.value} if m.value is not None else {})} for m in self.misses]
        if self.replay:
            doc["replay"] = True
        if self.resolved_incidents:
            doc["resolved_incidents"] = list(self.resolved_incidents)
        if self.incident is not None:
            doc["incident"] = self.incident
            doc["created"] = self.created
        if self.element is not None:
            doc["element"] = self.element
        if self.pings:
            doc["pings"] = list(self.pings)
        if self.event is not None:
            doc["event"] = self.event
            doc["key"] = self.key
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> ServiceOutcome:
        """Read a stored record of any version (a newer one's unknown fields are left out)."""
        trigger = doc.get("trigger")
        created = doc.get("created")
        if created is None:  # version 1 wrote no "created": a 201 on the service opened it
            created = doc.get("status") == 201 and doc.get("incident") is not None
        return cls(
            service=doc.get("service"), service_id=doc.get("service_id"), status=doc.get("status", 202),
            note=doc.get("note"),
            trigger=TriggerHit(trigger["rule"], trigger.get("rule_id"), trigger.get("mapping_value"))
            if trigger else None,
            resolves=tuple(ResolveHit(h["rule"], h.get("rule_id"), h.get("value")) for h in doc.get("resolve") or ()),
            misses=tuple(Miss(m["kind"], m["rule"], m["condition"], m.get("json_key"), from_data(m.get("reason")),
                              from_data(m.get("need")), m.get("value")) for m in doc.get("misses") or ()),
            replay=bool(doc.get("replay")), incident=doc.get("incident"), created=bool(created),
            resolved_incidents=tuple(doc.get("resolved_incidents") or ()),
            element=doc.get("element") if isinstance(doc.get("element"), str) else None,
            pings=tuple(p for p in doc.get("pings") or () if isinstance(p, str)),
            event=doc.get("event") if isinstance(doc.get("event"), str) else None,
            key=doc.get("key") if isinstance(doc.get("key"), str) else None)


def load_all(stored) -> list[ServiceOutcome]:
    """The outcomes of one call, from the stored list (None or a non-list: none)."""
    if not isinstance(stored, list):
        return []
    return [ServiceOutcome.from_json(doc) for doc in stored if isinstance(doc, dict)]


def dump_all(outcomes: list[ServiceOutcome]) -> list[dict]:
    return [o.to_json() for o in outcomes]


REASON_VALUE_CHARS = 60


def _value(value: str | None, key: str | None) -> str:
    if value is None:
        return Say("%(key)s is absent", key=key) if key else Say("the key is absent")
    value = " ".join(value.split())
    return Say('value "%(value)s"', value=value[:REASON_VALUE_CHARS] + ("…" if len(value) > REASON_VALUE_CHARS else ""))


def _why_no_trigger(result: ServiceOutcome) -> str:
    misses = [m for m in result.misses if m.kind == "trigger"]
    if not misses:
        return Say("it has no trigger rule")
    first = misses[0]
    if first.need is None:  # stored before issue 10
        return Say("no trigger rule held: rule %(rule)s, condition %(condition)s: %(reason)s", rule=first.rule + 1,
                   condition=first.condition + 1, reason=first.reason or "")
    held = Say("no trigger rule held: rule %(rule)s needs %(need)s (%(value)s)", rule=first.rule + 1,
               need=first.need, value=_value(first.value, first.json_key))
    if len(misses) > 1:
        return Plural("%(reason)s (and %(num)s more rule)", "%(reason)s (and %(num)s more rules)", len(misses) - 1,
                      reason=held, num=len(misses) - 1)
    return held


def _one(result: ServiceOutcome) -> str | None:
    """Why this service's part of the call changed nothing (None: it did something)."""
    note = result.note or ""
    if note == "disabled":
        return Say("the service is disabled")
    if note == "maintenance":
        return Say("the service is in maintenance for this call")
    if result.is_error:
        return Say("its rules could not be evaluated; the call was kept")
    if note.startswith("split on"):
        return note
    if result.event is not None:  # issue 18: an alert API's event names its incident itself
        if result.created or result.resolved_incidents or result.incident is not None:
            return None
        if result.key is None:
            return Say("%(event)s: no incident of this service has that id", event=result.event)
        return Say('%(event)s for "%(key)s": no active incident of this service has that key', event=result.event,
                   key=result.key)
    if result.created or result.resolved_incidents or result.replay or result.incident is not None:
        return None
    if result.pings:
        return Say("heartbeat %(names)s: call received", names=", ".join(result.pings))
    if result.resolves:
        values = ", ".join(f'"{h.value}"' for h in result.resolves)
        return Say("resolve rule %(rule)s held for %(values)s, but no active incident has that mapping value",
                   rule=result.resolves[0].rule + 1, values=values)
    return _why_no_trigger(result)


def _label(result: ServiceOutcome) -> str:
    return f"{result.service}{f' {result.element}' if result.element else ''}"


def reason(results: list[ServiceOutcome], status: int) -> str | None:
    """One line on why a call was answered 202 or 208 (the answer's ``reason``, and the API
    log's), from what each service did; None for the other statuses. English, as a
    :class:`Say` the dashboard words in the reader's language."""
    if status == 208:
        said = []
        for r in results:
            if r.replay:
                subject = (r.trigger.mapping_value if r.trigger else None) or (r.resolves[0].value if r.resolves else None)
                said.append(Say('%(label)s: replay of the same payload for "%(subject)s" within the duplicate window; '
                                "nothing changed", label=_label(r), subject=subject) if subject else
                            Say("%(label)s: replay of the same payload within the duplicate window; nothing changed",
                                label=_label(r)))
            elif r.incident is not None and not r.created and (r.trigger is not None or r.event is not None):
                value = r.trigger.mapping_value if r.trigger is not None else r.key
                said.append(Say('%(label)s: duplicate of open incident %(id)s ("%(value)s")', label=_label(r),
                                id=r.incident, value=value) if value else
                            Say("%(label)s: duplicate of open incident %(id)s", label=_label(r), id=r.incident))
        return Joined(said, "; ") if said else None
    if status != 202:
        return None
    if not results:
        return Say("no service ran: the token reaches no enabled service")
    parts = [(r, _one(r)) for r in results]
    parts = [(r, why) for r, why in parts if why]
    if len({r.service for r, _ in parts}) == 1 and not any(r.element for r, _ in parts):
        return parts[0][1] if parts else None
    if not parts:
        return None
    return Joined([Say("%(label)s: %(why)s", label=_label(r), why=why) for r, why in parts], "; ")
