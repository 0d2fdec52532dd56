"""Rule lint (issue 10, item 9), in the engine."""

import json

from callgoose.engine import Payload, parse_config
from callgoose.engine.lint import lint, shadows


def spec(trigger, resolve=(), **extra):
    return parse_config({"services": [{"name": "s", "trigger": list(trigger), "resolve": list(resolve), **extra}]})[0]


def cond(key, *items, mode="all"):
    return {"json_key": key, "contains": list(items), "mode": mode}


def texts(found):
    return [(f.kind, f.rule, f.text) for f in found]


def test_a_rule_after_a_catch_all_or_a_looser_rule_can_never_win():
    s = spec([{"conditions": []}, {"conditions": [cond("status", "firing")]}])
    assert ("trigger", 1, "can never win: trigger rule 1 before it has no conditions and holds for every call") \
        in texts(lint(s, []))
    s = spec([{"conditions": [cond("status", "fir")]},
              {"conditions": [cond("status", "firing"), cond("env", "prod")]},
              {"conditions": [cond("status", "resolved")]}])
    found = texts(lint(s, []))
    assert ("trigger", 1, "can never win: whenever it holds, trigger rule 1 holds too and is tried first") in found
    assert not any(r == 2 and "never win" in t for _, r, t in found)


def test_implication_by_mode():
    s = spec([{"conditions": [cond("k", "a", "b", mode="any")]}, {"conditions": [cond("k", "xa")]},
              {"conditions": [cond("k", "c", mode="any")]}, {"conditions": [cond("k", "c", "d", mode="any")]},
              {"conditions": [cond("k", "x", mode="none")]}, {"conditions": [cond("k", "xy", mode="none")]}])
    t = s.trigger
    assert shadows(t[0], t[1])  # "a" or "b" is in anything that contains "xa"
    assert not shadows(t[2], t[3])  # "d" alone does not hold "c"
    assert shadows(t[3], t[2])
    assert not shadows(t[4], t[5])  # "xy" absent does not mean "x" absent
    assert shadows(t[5], t[4])  # "x" absent means "xy" absent


def test_a_mapping_key_no_resolve_rule_uses():
    s = spec([{"conditions": [cond("status", "firing")], "map_incident_with": "groupKey"}],
             [{"conditions": [cond("status", "resolved")], "incident_mapped_with": "fingerprint"}])
    assert ("trigger", 0, "no resolve rule uses its mapping key `groupKey`: only a person can resolve what it opens") \
        in texts(lint(s, []))


def test_rules_that_held_for_nothing_and_keys_no_payload_has():
    s = spec([{"conditions": [cond("status", "firing")], "map_incident_with": "groupKey", "title_from": "summary"}],
             [{"conditions": [cond("status", "resolved")], "incident_mapped_with": "groupKey"}])
    object.__setattr__(s.trigger[0], "rule_id", 1)
    object.__setattr__(s.resolve[0], "rule_id", 2)
    payloads = [Payload.from_text(json.dumps({"status": "firing", "groupKey": "g"}))]
    found = texts(lint(s, payloads, {1: 4}))
    assert ("resolve", 0, "held for no call in the last 7 days") in found
    assert ("trigger", 0, "the last 1 payload has no key `summary`") in found
    assert not any("`status`" in t or "`groupKey`" in t for _, _, t in found)
    assert texts(lint(s, [])) == []  # no payloads, no counts: nothing to say


def test_split_services_look_into_the_elements():
    s = spec([{"conditions": [cond("status", "firing")], "map_incident_with": "fingerprint"}],
             [{"conditions": [cond("status", "resolved")], "incident_mapped_with": "fingerprint"}], split_on="alerts")
    payloads = [Payload.from_text(json.dumps({"alerts": [{"status": "firing", "fingerprint": "f"}]}))]
    assert texts(lint(s, payloads)) == []
