"""Matching and the limits of rules (S15-S19), without Flask."""

import pytest

from callgoose.engine import Payload, ServiceSpec, SpecError, evaluate
from callgoose.engine.rules import (
    Limits,
    build_condition,
    build_resolve,
    build_trigger,
    check_rule,
)

PAYLOAD = Payload.from_text('{"status": "Re-Triggered", "state": "DEACTIVATED", "city": "Straße", '
                            '"n": 7, "items": ["a", "b"]}')


def cond(key, *items, mode="all"):
    return build_condition({"json_key": key, "contains": list(items), "mode": mode}, "c")


@pytest.mark.parametrize("condition, holds", [
    (cond("status", "triggered"), True),             # S16: Triggered also matches Re-Triggered
    (cond("status", "re-", "TRIGGERED"), True),      # all items
    (cond("status", "re-", "firing"), False),
    (cond("status", "firing", "trig", mode="any"), True),
    (cond("status", "firing", "ok", mode="any"), False),
    (cond("state", "deactivated", mode="none"), False),  # S15: none excludes DEACTIVATED
    (cond("state", "firing", mode="none"), True),
    (cond("missing", "x", mode="none"), False),          # S15: absent key fails, also in none
    (cond("missing", "x", mode="any"), False),
    (cond("city", "STRASSE"), True),                     # S16: Unicode casefold (ß = ss)
    (cond("city", "  straße  "), True),                  # S16: items are trimmed
    (cond("n", "7"), True),
    (cond("items", '"a","b"'), True),                    # arrays compare as compact JSON
])
def test_s15_s16_conditions(condition, holds):
    assert (check_rule((condition,), PAYLOAD) is None) is holds


def test_s15_mode_defaults_to_all():
    assert build_condition({"json_key": "a", "contains": ["x"]}, "c").mode == "all"


def test_failure_names_the_first_condition_that_failed_and_why():
    failure = check_rule((cond("status", "trig"), cond("state", "x"), cond("nope", "y")), PAYLOAD)
    assert (failure.condition, failure.json_key, failure.reason) == (1, "state", 'value does not contain "x"')
    assert check_rule((cond("nope", "y"),), PAYLOAD).reason == "key absent"


def test_s17_trigger_without_conditions_is_a_catch_all():
    spec = ServiceSpec("s", trigger=(build_trigger({}, "t"),))
    for text in ("", "plain text", "[]", '{"a": 1}'):
        assert evaluate(spec, Payload.from_text(text)).trigger is not None


def test_s17_resolve_rule_needs_a_condition():
    with pytest.raises(SpecError, match="at least one condition"):
        build_resolve({"conditions": [], "incident_mapped_with": "k"}, "r")


def test_s19_first_trigger_rule_that_holds_is_used():
    spec = ServiceSpec("s", trigger=(
        build_trigger({"conditions": [{"json_key": "status", "contains": ["nope"]}], "urgency": "low"}, "t0"),
        build_trigger({"conditions": [{"json_key": "status", "contains": ["trig"]}], "urgency": "low"}, "t1"),
        build_trigger({"urgency": "high"}, "t2"),
    ))
    ev = evaluate(spec, PAYLOAD)
    assert ev.trigger.rule == 1 and ev.trigger.urgency == "low"
    assert [(kind, index) for kind, index, _ in ev.misses] == [("trigger", 0)]  # t2 was never tried


def test_s19_every_resolve_rule_that_holds_applies():
    spec = ServiceSpec("s", resolve=(
        build_resolve({"conditions": [{"json_key": "status", "contains": ["trig"]}],
                       "incident_mapped_with": "city"}, "r0"),
        build_resolve({"conditions": [{"json_key": "status", "contains": ["nope"]}],
                       "incident_mapped_with": "city"}, "r1"),
        build_resolve({"conditions": [{"json_key": "state", "contains": ["activated"]}],
                       "incident_mapped_with": "n"}, "r2"),
    ))
    ev = evaluate(spec, PAYLOAD)
    assert [(h.rule, h.value) for h in ev.resolves] == [(0, "Straße"), (2, "7")]


LIMITS = Limits()


def rule_with(conditions=1, items=1, item_chars=1):
    return {"conditions": [{"json_key": "k", "contains": ["x" * item_chars] * items}] * conditions}


def test_s18_limits_at_the_edge_are_accepted():
    build_trigger(rule_with(conditions=5, items=20, item_chars=200), "t")


@pytest.mark.parametrize("rule, message", [
    (rule_with(conditions=6), "t.conditions: more than 5 conditions"),
    (rule_with(items=21), "t.conditions[0].contains: more than 20 items"),
    (rule_with(item_chars=201), "t.conditions[0].contains[0]: longer than 200 characters"),
])
def test_s18_limits_past_the_edge_are_refused_with_a_clear_message(rule, message):
    with pytest.raises(SpecError) as err:
        build_trigger(rule, "t")
    assert str(err.value) == message


def test_s18_fifty_rules_per_service():
    from callgoose.engine.config import build_service

    build_service({"name": "s", "trigger": [{}] * 25, "resolve": [rule_with() | {"incident_mapped_with": "k"}] * 25}, "s")
    with pytest.raises(SpecError, match="more than 50 rules"):
        build_service({"name": "s", "trigger": [{}] * 51}, "s")


def test_s18_the_original_products_limits_fit():
    original = rule_with(conditions=2, items=10, item_chars=50)
    from callgoose.engine.config import build_service

    build_service({"name": "s", "trigger": [original] * 10,
                   "resolve": [original | {"incident_mapped_with": "k"}] * 10}, "s")


@pytest.mark.parametrize("condition, message", [
    ({"json_key": "k", "contains": []}, "needs at least one item"),
    ({"json_key": "k", "contains": ["  "]}, "c.contains[0]: is empty"),
    ({"json_key": "k", "contains": [3]}, "c.contains[0]: must be a string"),
    ({"json_key": "k", "contains": ["x"], "mode": "some"}, "c.mode: must be one of all, any, none"),
    ({"json_key": 5, "contains": ["x"]}, "c.json_key: must be a string"),
    ({"contains": ["x"]}, "c.json_key: is required"),
    ({"json_key": "k", "contains": ["x"], "extra": 1}, "c.extra: unknown field"),
])
def test_bad_conditions_are_refused(condition, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_condition(condition, "c")
