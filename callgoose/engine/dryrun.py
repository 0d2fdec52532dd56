"""The dry run of a rule change (issue 10, item 5): what the edited rules would do with stored
calls, against what the current rules do. Pure; rules only (what the database would add, a
duplicate of an open incident or a replay, is not simulated: each call is taken on its own)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .decide import ServiceSpec, evaluate
from .payload import Payload, split

WOULD_CREATE = "would create"
WOULD_STOP_CREATING = "would stop creating"
WOULD_RESOLVE = "would resolve"
WOULD_STOP_RESOLVING = "would stop resolving"
WOULD_BECOME_202 = "would become 202"
MAPS_DIFFERENTLY = "maps differently"


@dataclass(frozen=True)
class Intent:
    """What a service's rules ask for, for one call: incidents to open (by mapping value, one
    entry per element of a split payload) and mapping values to resolve."""

    opens: tuple = ()
    resolves: tuple = ()

    @property
    def nothing(self) -> bool:
        return not self.opens and not self.resolves


@dataclass(frozen=True)
class Difference:
    call_id: str
    received_at: object  # as stored (the page shows it)
    kinds: tuple[str, ...]
    before: Intent  # the page words them (web.presenters.intent_words)
    after: Intent


def intent(spec: ServiceSpec, payload: Payload, source: str | None = None) -> Intent:
    parts = split(payload, spec.split_on) if spec.split_on else None
    opens, resolves = [], []
    for part in (parts[0] if parts else [payload]):
        ev = evaluate(spec, part, source)
        if ev.trigger is not None:
            opens.append(ev.trigger.mapping_value)
        resolves.extend(h.value for h in ev.resolves)
    return Intent(tuple(opens), tuple(dict.fromkeys(resolves)))


def compare(current: ServiceSpec, candidate: ServiceSpec, calls) -> list[Difference]:
    """``calls``: (call id, received at, source, payload text). The calls whose outcome changes."""
    found = []
    for call_id, received_at, source, text in calls:
        payload = Payload.from_text(text or "")
        before, after = intent(current, payload, source), intent(candidate, payload, source)
        if before == after:
            continue
        kinds = []
        for was, will, gained, lost in ((before.opens, after.opens, WOULD_CREATE, WOULD_STOP_CREATING),
                                         (before.resolves, after.resolves, WOULD_RESOLVE, WOULD_STOP_RESOLVING)):
            if will and not was:
                kinds.append(gained)
            elif was and not will:
                kinds.append(lost)
            elif set(will) != set(was):
                kinds.append(MAPS_DIFFERENTLY)
        if after.nothing and not before.nothing:
            kinds.append(WOULD_BECOME_202)
        found.append(Difference(call_id, received_at, tuple(dict.fromkeys(kinds)), before, after))
    return found


def with_rule(spec: ServiceSpec, kind: str, rule_id: int | None, rule) -> ServiceSpec:
    """The spec with one rule replaced (by its id) or, for a new rule, added at the end."""
    rules = list(spec.trigger if kind == "trigger" else spec.resolve)
    place = next((i for i, r in enumerate(rules) if rule_id is not None and r.rule_id == rule_id), None)
    if place is None:
        rules.append(rule)
    else:
        rules[place] = rule
    return replace(spec, **{kind: tuple(rules)})
