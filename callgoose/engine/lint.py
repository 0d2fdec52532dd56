"""Rule lint (issue 10, item 9): what is wrong with a service's rules, found before a call finds
it. Pure: the caller passes the spec, the payloads of recent calls and how often each rule held.

- a trigger rule that can never win: after a catch-all, or whose conditions imply those of an
  earlier rule (whenever it holds, the earlier one holds first, S19);
- a trigger rule whose mapping key no resolve rule uses (only a person can resolve what it opens);
- a rule that held for no call in the last 7 days;
- a key that none of the recent payloads has.
"""

from __future__ import annotations

from dataclasses import dataclass

from .decide import ServiceSpec
from .payload import Payload, split
from .rules import Condition
from .words import Plural, Say


@dataclass(frozen=True)
class Lint:
    kind: str  # trigger | resolve
    rule: int  # position among the service's rules of its kind
    rule_id: int | None
    text: str


def _implies(b: Condition, a: Condition) -> bool:
    """Whenever ``b`` holds, ``a`` holds too (same key; case-insensitive substrings, S16)."""
    if a.json_key != b.json_key:
        return False
    ia, ib = a.folded, b.folded
    if a.mode == "all" and b.mode == "all":
        return all(any(x in y for y in ib) for x in ia)
    if a.mode == "any" and b.mode == "all":
        return any(x in y for x in ia for y in ib)
    if a.mode == "any" and b.mode == "any":
        return all(any(x in y for x in ia) for y in ib)
    if a.mode == "none" and b.mode == "none":
        return all(any(y in x for y in ib) for x in ia)
    return False


def shadows(earlier, later) -> bool:
    """``earlier`` holds wherever ``later`` holds: ``later`` never wins (S19)."""
    return all(any(_implies(b, a) for b in later.conditions) for a in earlier.conditions)


def _payload_parts(spec: ServiceSpec, payloads: list[Payload]) -> list[Payload]:
    parts = []
    for payload in payloads:
        found = split(payload, spec.split_on) if spec.split_on else None
        parts.extend(found[0] if found else [payload])
    return parts


def _keys(rule) -> list[str]:
    keys = [c.json_key for c in rule.conditions]
    for name in ("title_from", "description_from", "map_incident_with", "incident_mapped_with"):
        value = getattr(rule, name, None)
        if value:
            keys.append(value)
    return list(dict.fromkeys(k for k in keys if k and not k.startswith("$")))


def lint(spec: ServiceSpec, payloads: list[Payload], held: dict | None = None, days: int = 7) -> list[Lint]:
    """``payloads``: recent calls' payloads (the key check is skipped without any); ``held``:
    rule id -> how many calls it held for in the last ``days`` days (None: not checked)."""
    found = []
    for i, rule in enumerate(spec.trigger):
        catch_all = next((j for j, r in enumerate(spec.trigger[:i]) if not r.conditions), None)
        if catch_all is not None:
            found.append(Lint("trigger", i, rule.rule_id, Say(
                "can never win: trigger rule %(num)s before it has no conditions and holds for every call",
                num=catch_all + 1)))
            continue
        earlier = next((j for j, r in enumerate(spec.trigger[:i]) if shadows(r, rule)), None)
        if earlier is not None:
            found.append(Lint("trigger", i, rule.rule_id, Say(
                "can never win: whenever it holds, trigger rule %(num)s holds too and is tried first",
                num=earlier + 1)))
    resolve_keys = {r.incident_mapped_with for r in spec.resolve}
    for i, rule in enumerate(spec.trigger):
        if rule.map_incident_with is not None and rule.map_incident_with not in resolve_keys:
            found.append(Lint("trigger", i, rule.rule_id, Say(
                "no resolve rule uses its mapping key `%(key)s`: only a person can resolve what it opens",
                key=rule.map_incident_with)))
    if held is not None:
        for kind, rules in (("trigger", spec.trigger), ("resolve", spec.resolve)):
            for i, rule in enumerate(rules):
                if rule.rule_id is not None and not held.get(rule.rule_id):
                    found.append(Lint(kind, i, rule.rule_id,
                                      Plural("held for no call in the last %(days)s day",
                                             "held for no call in the last %(days)s days", days, days=days)))
    parts = _payload_parts(spec, payloads)
    if parts:
        for kind, rules in (("trigger", spec.trigger), ("resolve", spec.resolve)):
            for i, rule in enumerate(rules):
                for key in _keys(rule):
                    if all(p.value(key) is None for p in parts):
                        found.append(Lint(kind, i, rule.rule_id, Plural(
                            "the last %(num)s payload has no key `%(key)s`",
                            "none of the last %(num)s payloads has the key `%(key)s`", len(payloads), num=len(payloads),
                            key=key)))
    return sorted(found, key=lambda f: (f.kind != "trigger", f.rule))
