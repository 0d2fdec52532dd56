"""Issue 20, item 5: the review section Callgoose writes (engine.review), as plain data in and out."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callgoose.engine.outcome import Miss, ServiceOutcome, TriggerHit
from callgoose.engine.review import (
    CallFacts,
    EventFacts,
    IncidentFacts,
    PageFacts,
    Targets,
    WindowFacts,
    check_follow_ups,
    check_link,
    duration,
    markdown_text,
    written_section,
)
from callgoose.engine.rules import SpecError

T0 = datetime(2026, 3, 29, 0, 59, 0)  # one minute before Europe/Berlin moves to summer time


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def incident(**changes) -> IncidentFacts:
    fields = dict(id=7, title="CPU high", service="checkout-api", status="resolved", urgency="high", created_at=T0,
                  acknowledged_at=at(240), resolved_at=at(3600), duplicate_count=0, first_repeat_at=None,
                  last_seen_at=T0)
    return IncidentFacts(**{**fields, **changes})


def page(**changes) -> PageFacts:
    fields = dict(person="Ana", user_id=1, channel="sms", level=0, status="sent", queued_at=T0, sent_at=at(3),
                  answer=None, error=None)
    return PageFacts(**{**fields, **changes})


ACK = EventFacts(at(240), "acknowledged", "ana@example.com (SMS reply)", 1, None)


def section(pages=(), events=(ACK,), targets=None, windows=(), call=None, **changes):
    return written_section(incident(**changes), call, None, [], list(windows), list(pages), list(events),
                           "Europe/Berlin", targets)


def by_kind(facts, kind):
    return [f for f in facts if f.kind == kind]


def test_times_are_measured_against_targets_when_given_and_plainly_without():
    plain = {f.data["measure"]: f for f in by_kind(section([page()]), "time")}
    assert plain["first_page"].data["seconds"] == 3 and plain["acknowledge"].data["seconds"] == 240
    assert str(plain["acknowledge"].text) == "Time to acknowledge: 4 min 0 s."
    assert plain["resolve"].data["within_target"] is None
    measured = {f.data["measure"]: f for f in by_kind(section([page()], targets=Targets(300, 1800)), "time")}
    assert str(measured["acknowledge"].text) == "Time to acknowledge: 4 min 0 s, within the target of 5 min 0 s."
    assert measured["acknowledge"].data == {"measure": "acknowledge", "seconds": 240, "target_seconds": 300,
                                            "within_target": True}
    assert str(measured["resolve"].text) == ("Time to resolve: 1 h 0 min, missed the target of 30 min 0 s by "
                                             "30 min 0 s.")
    assert measured["resolve"].data["within_target"] is False


def test_an_open_incident_says_not_yet_and_nobody_paged_says_so():
    facts = section(events=(), acknowledged_at=None, resolved_at=None, status="triggered")
    assert [str(f.text) for f in by_kind(facts, "time")] == [
        "Time to first page: not yet.", "Time to acknowledge: not yet.", "Time to resolve: not yet."]
    assert [str(f.text) for f in by_kind(facts, "page")] == ["Nobody was paged."]


@pytest.mark.parametrize(("changes", "words"), [
    ({}, "no delivery report"),
    ({"answer": "delivered"}, "reported delivered"),
    ({"answer": "no-answer"}, "reported not delivered (no-answer)"),
    ({"status": "failed", "sent_at": None, "error": "550 no such user"}, "failed: 550 no such user"),
    ({"status": "cancelled", "sent_at": None}, "not sent (cancelled)"),
])
def test_each_page_says_what_the_ledger_knows_of_its_delivery(changes, words):
    (fact,) = by_kind(section([page(**changes)]), "page")
    assert words in str(fact.text)


def test_a_page_is_acted_on_only_by_its_own_person_in_the_readers_zone():
    other = EventFacts(at(100), "acknowledged", "bo@example.com", 2, None)
    (mine,) = by_kind(section([page()], events=(other,)), "page")
    assert mine.data["acted"] is None and str(mine.text).endswith("did not act.")
    (acted,) = by_kind(section([page()]), "page")
    assert acted.data["acted"] == {"action": "acknowledged", "at": at(240), "by": "ana@example.com (SMS reply)"}
    # 00:59 UTC is 01:59 CET; the acknowledge at 01:03 UTC is 03:03 CEST (the clocks went forward)
    assert "queued Sun 29 Mar 01:59 CET" in str(acted.text)
    assert "acknowledged at Sun 29 Mar 03:03 CEST" in str(acted.text)


def test_the_rule_that_held_and_the_rules_tried_before_it():
    outcome = ServiceOutcome("checkout-api", 1, 201, trigger=TriggerHit(1, 12, "g1"), incident=7, created=True,
                             misses=(Miss("trigger", 0, 0, "status", "value does not contain \"page\"",
                                          'status to contain "page"', "firing"),))
    facts = section(call=CallFacts("c-1", T0, "alertmanager", "prod", outcome))
    assert str(by_kind(facts, "rule")[0].text) == "Trigger rule 2 held with mapping value “g1” and opened it."
    (tried,) = by_kind(facts, "tried")
    assert tried.data == {"rule": 1, "need": 'status to contain "page"', "value": "firing"}
    first = str(by_kind(facts, "call")[0].text)
    assert first.startswith("First call c-1 at Sun 29 Mar 01:59 CET with token alertmanager")


def test_maintenance_in_force_at_open_and_duplicates_are_counted():
    windows = [WindowFacts(at(-60), None, [["staging"]], "api"), WindowFacts(at(-600), at(-60), [], "config")]
    facts = section(windows=windows, duplicate_count=3, first_repeat_at=at(60), last_seen_at=at(180))
    (maintenance,) = by_kind(facts, "maintenance")
    assert maintenance.data["tags"] == [["staging"]]
    assert by_kind(facts, "duplicates")[0].data == {"count": 3, "first": at(60), "last": at(180)}


def test_links_must_be_http_or_https_and_owners_active_users():
    assert check_link(" https://tickets.example/1 ", "x") == "https://tickets.example/1"
    assert check_link("", "x") is None
    for bad in ("javascript:alert(1)", "ftp://x", "https://", "//evil", "https://a b", "https://x/<script>"):
        with pytest.raises(SpecError):
            check_link(bad, "x")
    assert check_follow_ups([("  ", 1, "", False), ("Fix", 1, "", True)], {1})[0].text == "Fix"
    with pytest.raises(SpecError, match="follow-up 1: the owner must be an active user"):
        check_follow_ups([("Fix", 9, "", False)], {1})


def test_markdown_text_shows_everything_literally():
    assert markdown_text("[x](https://evil) <b>") == r"\[x\](https\://evil) &lt;b&gt;"
    assert markdown_text("# h\n1. one\n- two\nwww.evil.com *b* `c`") == (
        "\\# h\n1\\. one\n\\- two\nwww\\.evil.com \\*b\\* \\`c\\`")


def test_durations():
    assert [str(duration(s)) for s in (0, 59.6, 61, 7500, 90000)] == ["0 s", "1 min 0 s", "1 min 1 s", "2 h 5 min",
                                                                      "1 d 1 h"]
