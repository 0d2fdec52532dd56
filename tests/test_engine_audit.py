"""The audit log's pure part (issue 19, item 5): structural differences, their words, revert, and
the hash chain."""

from __future__ import annotations

import pytest

from callgoose.engine import audit
from callgoose.engine.words import render

POLICY = {"name": "checkout", "repeat": 1, "levels": [
    {"escalate_after_minutes": 5, "targets": [{"user": "a@example.com"}]},
    {"escalate_after_minutes": 5, "targets": [{"user": "b@example.com"}]}]}


def _changed(doc, **level1):
    import copy
    out = copy.deepcopy(doc)
    out["levels"][1].update(level1)
    return out


def test_only_the_changed_path_is_stored_and_worded_like_the_api_log():
    changes = audit.diff(POLICY, _changed(POLICY, escalate_after_minutes=10))
    assert changes == [{"path": ["levels", 1, "escalate_after_minutes"], "old": 5, "new": 10}]
    assert str(audit.describe("policy", "checkout", changes[0])) == \
        "level 2 of policy checkout: escalate after 10 min, was 5"
    german = {"level %(level)s of %(subject)s": "Stufe %(level)s von %(subject)s", "policy": "Richtlinie",
              "%(kind)s %(name)s": "%(kind)s %(name)s",
              "%(subject)s: escalate after %(new)s min, was %(old)s":
                  "%(subject)s: eskalieren nach %(new)s Min., vorher %(old)s"}
    assert render(audit.describe("policy", "checkout", changes[0]), lambda m: german.get(m, m)) == \
        "Stufe 2 von Richtlinie checkout: eskalieren nach 10 Min., vorher 5"


def test_named_lists_are_keyed_by_name_and_additions_and_removals_say_so():
    before = {"services": [{"name": "a", "enabled": True}, {"name": "b", "enabled": True}]}
    after = {"services": [{"name": "b", "enabled": False}, {"name": "c", "enabled": True}]}
    assert audit.diff(before, after) == [
        {"path": ["services", {"name": "a"}], "old": {"name": "a", "enabled": True}},
        {"path": ["services", {"name": "b"}, "enabled"], "old": True, "new": False},
        {"path": ["services", {"name": "c"}], "new": {"name": "c", "enabled": True}}]
    assert audit.revert(after, audit.diff(before, after)) == {
        "services": [{"name": "b", "enabled": True}, {"name": "a", "enabled": True}]}


def test_secrets_are_marked_changed_never_kept():
    before = {"webhooks": [{"url": "https://x", "secret": "old-secret-value"}]}
    after = {"webhooks": [{"url": "https://x", "secret": "new-secret-value"}]}
    changes = audit.diff(before, after)
    assert changes == [{"path": ["webhooks", 0, "secret"], "secret": True}]
    added = audit.diff({"webhooks": []}, after)
    assert "new-secret-value" not in repr(added) and "(secret)" in repr(added)
    with pytest.raises(audit.NotRevertible):
        audit.revert(after, changes)


def test_revert_puts_back_only_its_paths_and_refuses_paths_changed_since():
    ten = _changed(POLICY, escalate_after_minutes=10)
    changes = audit.diff(POLICY, ten)
    renamed = {**ten, "name": "checkout-2"}
    assert audit.revert(renamed, changes) == {**POLICY, "name": "checkout-2"}  # the rename stays
    with pytest.raises(audit.NotRevertible) as refused:
        audit.revert(_changed(POLICY, escalate_after_minutes=15), changes)
    assert refused.value.paths == [["levels", 1, "escalate_after_minutes"]]
    assert audit.revert(POLICY, audit.diff(None, POLICY)) is None  # reverting an addition removes it
    assert audit.revert(None, audit.diff(POLICY, None)) == POLICY


def test_the_chain_finds_edits_gaps_and_a_missing_newest_entry():
    rows, previous = [], audit.GENESIS
    for i in range(1, 5):
        row = {"id": i, "at": "2026-12-06 00:00:00.000000", "actor_kind": "user", "actor_id": 1,
               "actor_name": "a@example.com", "address": "127.0.0.1", "subject_kind": "policy", "subject_id": 1,
               "subject_name": "checkout", "action": "changed", "changes": [{"path": ["repeat"], "old": i, "new": i + 1}],
               "reverts": None}
        row["previous_hash"], row["hash"] = previous, audit.entry_hash(row, previous)
        previous = row["hash"]
        rows.append(row)
    head = (4, previous)
    assert audit.verify(rows, None, head) == (4, [])
    edited = [dict(r) for r in rows]
    edited[1]["actor_name"] = "mallory@example.com"
    assert [(f.entry_id, f.kind) for f in audit.verify(edited, None, head)[1]] == [(2, "edited")]
    assert [(f.entry_id, f.kind) for f in audit.verify(rows[:1] + rows[2:], None, head)[1]] == [(3, "gap"), (3, "gap")]
    assert [(f.entry_id, f.kind) for f in audit.verify(rows[:3], None, head)[1]] == [(4, "gap")]
    # after pruning, the first kept entry's previous hash is the anchor
    assert audit.verify(rows[2:], (3, rows[1]["hash"]), head) == (2, [])
    assert audit.verify(rows[3:], (3, rows[1]["hash"]), head)[1] != []
