"""Issue 9, items 7 and 8: the simulator's timeline and the iCalendar text, without Flask."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callgoose.engine.ical import calendar, escape, fold
from callgoose.engine.paging import Level, PersonalRule, Policy
from callgoose.engine.schedules import Layer, Schedule, on_call
from callgoose.engine.simulate import simulate

ANA, BO, CY = 1, 2, 3
RULES = [PersonalRule(ANA, 10, 0, ("high", "low"), "voice", True),
         PersonalRule(ANA, 11, 2, ("high",), "sms", True),
         PersonalRule(BO, 20, 0, ("high", "low"), "email", True),
         PersonalRule(CY, 30, 0, ("high",), "email", False)]  # not verified


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


def test_levels_schedules_and_personal_rules_in_order():
    weekly = Schedule("s", "Europe/Berlin", (Layer("w", (BO, ANA), datetime(2026, 10, 5, 9), "weeks", 1),))
    policy = Policy("p", 1, (Level(5, (), (7,)), Level(10, (CY,))))
    steps = simulate(policy, "high", t("2026-10-11T03:00"), RULES, lambda sid, at: on_call(weekly, at).users,
                     names={CY: "Cy"}.get, schedule_names={7: "weekly"}.get)
    rows = [(round((s.at - steps[0].at) / 60), s.level, s.user, s.channel, s.reason) for s in steps]
    assert rows == [
        (0, 0, BO, "email", "level 1: on call in weekly, their rule: at once"),
        (5, 1, CY, None, "level 2: named in the policy, but Cy has no verified contact method for high urgency"),
        # the repeat starts at 15 min; on Sunday 11 October it is still Bo's week
        (15, 0, BO, "email", "level 1, repeat 1: on call in weekly, their rule: at once"),
        (20, 1, CY, None, "level 2, repeat 1: named in the policy, but Cy has no verified contact method for high "
                          "urgency"),
        (30, 1, None, None, "escalation finished, nobody acknowledged"),
    ]


def test_a_schedule_with_nobody_moves_on_at_once_and_low_urgency_uses_low_rules():
    policy = Policy("p", 0, (Level(5, (), (9,)), Level(5, (ANA,))))
    steps = simulate(policy, "low", 1000.0, RULES, lambda sid, at: (), schedule_names={9: "nights"}.get)
    assert [(s.at - 1000, s.user, s.channel, s.reason) for s in steps] == [
        (0, None, None, "level 1: nobody on call in nights"),
        (0, ANA, "voice", "level 2: named in the policy, their rule: at once"),
        (300, None, None, "escalation finished, nobody acknowledged"),
    ]
    high = simulate(policy, "high", 1000.0, RULES, lambda sid, at: ())
    assert [(s.at - 1000, s.channel) for s in high if s.user == ANA] == [(0, "voice"), (120, "sms")]


def test_icalendar_text_is_escaped_folded_and_in_utc():
    text = calendar("checkout; on call", [(t("2026-10-26T09:00"), t("2026-11-02T09:00"), "On call: ana, checkout",
                                          "Layer weekly\nsecond line")], now=0)
    assert text.endswith("\r\n") and "\r\n" in text and "\n" not in text.replace("\r\n", "")
    assert "DTSTART:20261026T080000Z" in text and "DTEND:20261102T080000Z" in text  # 09:00 CET
    assert "SUMMARY:On call: ana\\, checkout" in text and "DESCRIPTION:Layer weekly\\nsecond line" in text
    assert "X-WR-CALNAME:checkout\\; on call" in text
    assert escape("a\\b") == "a\\\\b"
    long = fold("SUMMARY:" + "é" * 100)
    assert all(len(part.encode()) <= 75 for part in long.split("\r\n"))
    assert long.replace("\r\n ", "") == "SUMMARY:" + "é" * 100


def test_readiness_finds_gaps_levels_that_reach_nobody_unreachable_people_and_unpaged_services():
    from datetime import time as clocktime

    from callgoose.engine.readiness import check
    from callgoose.engine.schedules import Window
    weekdays = Window(frozenset(range(5)), clocktime(9), clocktime(17))
    day = Schedule("day", "Europe/Berlin", (Layer("d", (ANA,), datetime(2026, 10, 5, 9), "days", 1, (weekdays,)),))
    nobody = Schedule("nobody", "UTC", ())
    start = t("2026-10-05T09:00")
    policies = [Policy("p", 0, (Level(5, (), (1,)), Level(5, (CY,)), Level(5, (), (2,))))]
    found = check(start, {1: day, 2: nobody}, policies, {ANA, BO}, [("api", True), ("batch", False)],
                  {CY: "Cy"}.get, days=7)
    gaps = [(f.subject, f.start, f.end) for f in found if f.kind == "gap"]
    assert gaps[0] == ("day", t("2026-10-05T17:00"), t("2026-10-06T09:00"))
    assert ("day", t("2026-10-09T17:00"), t("2026-10-12T00:00") + 9 * 3600) in gaps  # the weekend
    assert ("nobody", start, start + 7 * 86400) in gaps
    texts = [f.text for f in found if f.kind != "gap"]
    assert "level 2 of p reaches nobody" in texts and "level 3 of p reaches nobody" in texts
    assert "level 1 of p reaches nobody" not in texts
    assert "Cy (level 2 of p) has no verified contact method" in texts
    assert "nobody is paged for batch: it has no escalation policy" in texts
    assert [f.users for f in found if f.kind == "gap" and f.subject == "day"][0] == (ANA,)
