"""The schedule editor's text fields and the document they stand for (engine, no Flask)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callgoose.engine.rules import SpecError
from callgoose.engine.schedule_form import (
    LayerRow,
    document_of_rows,
    in_words,
    parse_restrictions,
    restrictions_text,
    rows_from_form,
    rows_of,
)
from callgoose.engine.schedules import DAYS


def test_restrictions_in_words():
    assert parse_restrictions("Mon-Fri 09:00-17:00; sat,sun 10:00 - 14:00", "p") == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"},
        {"days": ["sat", "sun"], "from": "10:00", "to": "14:00"}]
    assert parse_restrictions("fri-mon 22:00-06:00", "p") == [
        {"days": ["mon", "fri", "sat", "sun"], "from": "22:00", "to": "06:00"}]  # a range may wrap the week
    assert parse_restrictions("  ", "p") == []
    assert restrictions_text([{"days": ["mon", "tue", "wed", "fri"], "from": "09:00", "to": "17:00"}]) == \
        "mon-wed,fri 09:00-17:00"


@pytest.mark.parametrize("text, path, message", [
    ("weekdays 09:00-17:00", "p[0].days", "'weekdays' is not a day"),
    ("mon-funday 09:00-17:00", "p[0].days", "is not a range of days"),
    ("mon 9-5", "p[0]", "is not a window"),
    ("mon 09:00-17:00; tue", "p[1]", "is not a window"),
])
def test_restrictions_that_are_not_written_as_windows_name_their_place(text, path, message):
    with pytest.raises(SpecError) as caught:
        parse_restrictions(text, "p")
    assert caught.value.path == path and message in caught.value.message


@given(st.lists(st.fixed_dictionaries({
    "days": st.sets(st.sampled_from(DAYS), min_size=1).map(lambda s: [d for d in DAYS if d in s]),
    "from": st.times().map(lambda t: t.strftime("%H:%M")),
    "to": st.times().map(lambda t: t.strftime("%H:%M"))}), max_size=6))
def test_restrictions_read_back_as_written(windows):
    assert parse_restrictions(restrictions_text(windows), "p") == windows


def test_rows_round_trip_and_the_row_actions():
    doc = {"name": "n", "time_zone": "UTC", "layers": [
        {"name": "a", "users": ["x@example.com", "y@example.com"], "start": "2026-01-05T09:00",
         "shift": {"unit": "days", "count": 2}, "restrictions": [{"days": ["sat"], "from": "10:00", "to": "12:00"}]},
        {"name": "b", "users": ["y@example.com"], "start": "2026-01-05T09:00", "shift": {"unit": "weeks", "count": 1}}]}
    rows = rows_of(doc)
    assert rows[0] == LayerRow("a", "x@example.com\ny@example.com", "2026-01-05T09:00", "days", "2", "sat 10:00-12:00")
    assert document_of_rows("n", "UTC", rows) == doc
    form = {f"layers-{i}-{k}": getattr(r, k) for i, r in enumerate(rows) for k in ("name", "users", "start", "unit",
                                                                                   "count", "restrictions")}
    form["layers-7-name"] = "c"  # gaps in the numbering keep the posted order
    assert [r.name for r in rows_from_form(form, "save")] == ["a", "b", "c"]
    assert [r.name for r in rows_from_form(form, "up-2")] == ["a", "c", "b"]
    assert [r.name for r in rows_from_form(form, "up-0")] == ["a", "b", "c"]
    assert [r.name for r in rows_from_form(form, "remove-1")] == ["a", "c"]
    assert [r.name for r in rows_from_form(form, "add")] == ["a", "b", "c", "layer 4"]
    assert [r.name for r in rows_from_form(form, "remove-x")] == ["a", "b", "c"]
    with pytest.raises(SpecError) as caught:
        document_of_rows("n", "UTC", [LayerRow(count="two")])
    assert caught.value.path == "schedule.layers[0].shift.count"


def test_paths_in_words():
    assert in_words("schedule.layers[1].users[0]") == "layer 2, users 1"
    assert in_words("schedule.layers[0].shift.count") == "layer 1, shift count"
    assert in_words("schedule.name") == "name"
