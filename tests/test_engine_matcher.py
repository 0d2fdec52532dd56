"""The one-pass matcher (issue 6 A4) gives exactly the answers of ``in``, item by item."""

from hypothesis import given, settings
from hypothesis import strategies as st

from callgoose.engine import (
    MaintenanceWindow,
    Payload,
    ServiceSpec,
    evaluate,
    in_maintenance,
)
from callgoose.engine.matcher import ItemMatcher
from callgoose.engine.rules import build_trigger

ALPHABET = st.sampled_from("aAbß\u0130ﬁé\ufffd 1")  # case folding that changes lengths, too


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=12, unique=True),
       text=st.text(ALPHABET, max_size=60))
def test_present_is_exactly_the_items_that_occur(items, text):
    folded_items = tuple(dict.fromkeys(i.casefold() for i in items))
    folded = text.casefold()
    assert ItemMatcher(folded_items).present(folded) == {i for i in folded_items if i in folded}


def test_crafted_items_against_repetitive_text():
    text = "a" * 100_000
    items = ("a" * 100 + "b" + "a" * 99, "a" * 200, "a", "b")
    assert ItemMatcher(items).present(text) == {"a" * 200, "a"}


@settings(max_examples=200, deadline=None)
@given(conditions=st.lists(st.tuples(st.sampled_from(["status", "", "labels.x"]),
                                     st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=1, max_size=3),
                                     st.sampled_from(["all", "any", "none"])), min_size=1, max_size=4),
       status=st.text(ALPHABET, max_size=12), label=st.text(ALPHABET, max_size=12))
def test_rules_decide_the_same_with_and_without_the_matcher(conditions, status, label):
    import json

    docs = [{"json_key": k, "contains": [i for i in items if i.strip()] or ["x"], "mode": m}
            for k, items, m in conditions]
    rule = build_trigger({"conditions": docs}, "rule")
    spec = ServiceSpec(name="s", trigger=(rule,))
    payload = Payload.from_text(json.dumps({"status": status, "labels": {"x": label}}))
    with_matcher = evaluate(spec, payload)
    from callgoose.engine.rules import check_rule

    plain = check_rule(rule.conditions, Payload.from_text(payload.text))
    assert (with_matcher.trigger is not None) == (plain is None)
    if plain is not None:
        assert with_matcher.misses[0][2] == plain


def test_maintenance_tags_through_the_matcher():
    window = MaintenanceWindow(tags=(("staging", "EU"), ("canary",)))
    spec = ServiceSpec(name="s", maintenance=(window,))
    assert in_maintenance(spec, Payload.from_text('{"env": "Staging-eu"}'), 0)
    assert not in_maintenance(spec, Payload.from_text('{"env": "staging-us"}'), 0)
    assert in_maintenance(spec, Payload.from_text("a CANARY"), 0)
