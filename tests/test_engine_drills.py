"""Issue 17, item 6: a drill's recurrence (DST-exact, in the drill's zone) and a run's report."""

from __future__ import annotations

import time as systime
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callgoose.engine import SpecError
from callgoose.engine.drills import Delivery, Report, build, report

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def server_zone_far_away(monkeypatch):
    """The server's own zone must play no part."""
    monkeypatch.setenv("TZ", "Pacific/Chatham")
    systime.tzset()
    yield
    monkeypatch.delenv("TZ")
    systime.tzset()


def at(zone: str, *parts) -> float:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).timestamp()


def local(epoch: float, zone: str = "Europe/Berlin") -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone(ZoneInfo(zone))


def test_every_first_monday_at_14_in_berlin():
    rec = build("mon", "1", "14:00", "Europe/Berlin")
    first = rec.next_after(at("Europe/Berlin", 2026, 10, 15, 12, 0))
    assert local(first).replace(tzinfo=None) == datetime(2026, 11, 2, 14, 0)
    second = rec.next_after(first)
    assert local(second).replace(tzinfo=None) == datetime(2026, 12, 7, 14, 0)
    # the moment itself is not "after" it; a second later the next month's is
    assert rec.next_after(first - 1) == first


def test_a_run_across_the_autumn_change_keeps_its_local_time():
    """Berlin leaves summer time on 25 October 2026: the weekly 14:00 moves from 12:00 to 13:00 UTC."""
    rec = build("fri", "every", "14:00", "Europe/Berlin")
    before = rec.next_after(at("Europe/Berlin", 2026, 10, 20, 0, 0))
    after = rec.next_after(before)
    assert datetime.fromtimestamp(before, timezone.utc).hour == 12  # CEST, +02:00
    assert datetime.fromtimestamp(after, timezone.utc).hour == 13  # CET, +01:00
    assert after - before == 7 * 86400 + 3600  # the week with the change is an hour longer


def test_a_time_in_the_spring_gap_is_read_as_schedules_read_it():
    """02:30 does not exist in Berlin on 29 March 2026: fold=0 gives 03:30 summer time (01:30 UTC)."""
    rec = build("sun", "last", "02:30", "Europe/Berlin")
    run = rec.next_after(at("Europe/Berlin", 2026, 3, 1, 0, 0))
    assert datetime.fromtimestamp(run, timezone.utc) == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    # the repeated hour in autumn: its first occurrence (summer time), 00:30 UTC
    run = build("sun", "last", "02:30", "Europe/Berlin").next_after(at("Europe/Berlin", 2026, 10, 1, 0, 0))
    assert datetime.fromtimestamp(run, timezone.utc) == datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)


def test_the_last_week_and_the_fourth_differ_in_a_month_with_five_mondays():
    start = at("UTC", 2026, 11, 1, 0, 0)  # November 2026 has Mondays 2, 9, 16, 23, 30
    assert local(build("mon", "4", "09:00", "UTC").next_after(start), "UTC").day == 23
    assert local(build("mon", "last", "09:00", "UTC").next_after(start), "UTC").day == 30


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), st.sampled_from(["1", "2", "3", "4", "last", "every"]), st.integers(0, 23),
       st.integers(0, 59), st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC",
                                            "America/Santiago", "Asia/Kathmandu"]),
       st.integers(0, 3 * 365 * 86400))
def test_the_next_run_is_the_first_matching_local_time_after_the_moment(weekday, week, hour, minute, zone, offset):
    """Against a reference walk over local days that shares no code with the engine's."""
    after = at("UTC", 2025, 1, 1, 0, 0) + offset
    rec = build(weekday, week, f"{hour:02d}:{minute:02d}", zone)
    got = rec.next_after(after)
    tz = ZoneInfo(zone)
    day = datetime.fromtimestamp(after, timezone.utc).astimezone(tz).date() - timedelta(days=2)
    while True:
        nth = (day.day - 1) // 7 + 1
        last = (day + timedelta(days=7)).month != day.month
        matches = day.weekday() == weekday and (week == "every" or (week == "last" and last)
                                                or (week.isdigit() and nth == int(week)))
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp()
        if matches and when > after:
            break
        day += timedelta(days=1)
    assert got == when
    assert got > after


@pytest.mark.parametrize("args, path", [
    (("funday", "1", "14:00", "UTC"), "weekday"),
    (("mon", "5", "14:00", "UTC"), "week"),
    (("mon", "1", "24:00", "UTC"), "time"),
    (("mon", "1", "2pm", "UTC"), "time"),
    (("mon", "1", "14:00", "Mars/Olympus"), "time_zone"),
])
def test_a_bad_recurrence_names_its_field(args, path):
    with pytest.raises(SpecError) as caught:
        build(*args)
    assert caught.value.path == path


def test_the_recurrence_in_words():
    assert build("mon", "1", "14:00", "Europe/Berlin").words() == \
        "every first Monday of the month at 14:00 (Europe/Berlin)"
    assert build(4, "every", "09:30", "UTC").words() == "every Friday at 09:30 (UTC)"


# ---- the report ---------------------------------------------------------------------------------

T = 1_800_000_000.0


def test_acknowledged_through_the_second_method_after_the_first_was_sent_and_ignored():
    """The lesson drills exist for: the push went out but the phone kept quiet; the SMS woke them."""
    found = report(T, [Delivery("ntfy", "sent", T, T + 1), Delivery("sms", "sent", T + 120, T + 121),
                       Delivery("voice", "cancelled", T, None, "not sent: the incident was acknowledged first")],
                   acknowledged_at=T + 200, acknowledged_via=None)
    assert found == Report(True, 200.0, "sms", ["ntfy", "sms"], [], ["voice"])
    assert [str(line) for line in found.words()] == [
        "Acknowledged after 3 min 20 s.", "Reached by sms.", "Sent: ntfy, sms.",
        "Not needed after the acknowledgement: voice."]


def test_the_channel_the_person_acted_through_is_what_reached_them():
    found = report(T, [Delivery("email", "sent", T, T + 1), Delivery("ntfy", "sent", T, T + 2)],
                   acknowledged_at=T + 30, acknowledged_via="email")
    assert found.reached_by == "email" and found.acknowledged_after == 30


def test_unanswered_with_failed_methods_says_which_and_why():
    found = report(T, [Delivery("email", "sent", T, T + 1),
                       Delivery("webhook", "failed", T, None, "HTTP 404", 1),
                       Delivery("sms", "pending", T, None, "HTTP 503", 2),
                       Delivery("voice", "unknown", T, None, None, 1),
                       Delivery("ntfy", "pending", T, None, "held by the rate limit", 0)],
                   acknowledged_at=None, acknowledged_via=None)
    assert not found.acknowledged and found.reached_by is None
    assert found.sent == ["email"]
    assert found.failed == [["webhook", "HTTP 404"], ["sms", "HTTP 503"],
                            ["voice", "outcome unknown: the sender stopped while sending"]]
    assert "Nobody acknowledged within 15 minutes." in found.words()


def test_nobody_paged_and_the_json_round_trip():
    assert report(T, [], None, None) == Report(paged=False)
    full = report(T, [Delivery("email", "sent", T, T + 1)], T + 5, "email")
    assert Report.from_json(full.to_json()) == full
