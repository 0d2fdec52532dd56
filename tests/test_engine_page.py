"""Issue 17 item 5: what a page tells, read from the payload once, and cut to a channel's limits
(characters, UTF-8 bytes, SMS segments) with the least important lines dropped first."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callgoose.engine import Payload, split, sms
from callgoose.engine.messages import Item, compose, sms_text
from callgoose.engine.page import Line, chars, fact_lines, facts_of, first_lines, fit, utf8, web_url

# -- SMS length ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, encoding, units, segments", [
    ("", "gsm7", 0, 1),
    ("x" * 160, "gsm7", 160, 1),
    ("x" * 161, "gsm7", 161, 2),  # 153 a part once it is split
    ("x" * 306, "gsm7", 306, 2),
    ("x" * 307, "gsm7", 307, 3),
    ("[" * 80, "gsm7", 160, 1),  # the extension table's characters take two septets
    ("[" * 81, "gsm7", 162, 2),
    ("€" + "x" * 159, "gsm7", 161, 2),
    ("äöüñ@£¥èé" + "x" * 151, "gsm7", 160, 1),  # the basic table's letters take one
    ("é" * 70, "gsm7", 70, 1),
    ("ï" * 70, "ucs2", 70, 1),  # not GSM-7: the whole text is UCS-2
    ("ï" * 71, "ucs2", 71, 2),
    ("x" * 100 + "…", "ucs2", 101, 2),  # one "…" makes a GSM-7 text UCS-2
    ("🔥" * 35, "ucs2", 70, 1),  # an emoji outside the BMP is two UTF-16 units
    ("🔥" * 36, "ucs2", 72, 2),
    ("数据库" * 23 + "x", "ucs2", 70, 1),
])
def test_sms_units_and_segments(text, encoding, units, segments):
    assert sms.encoding(text) == encoding and sms.units(text) == units and sms.segments(text) == segments


def test_an_escaped_character_is_never_split_between_two_parts():
    # 152 septets, then "[" (two): the first part cannot take it, so 153 + 153 + 2 needs three
    text = "x" * 152 + "[" + "x" * 152 + "x"
    assert sms.units(text) == 307 and sms.segments(text) == 3
    assert sms.segments("x" * 151 + "[" + "x" * 153) == 2


@given(st.text(min_size=0, max_size=400), st.integers(1, 3))
@settings(max_examples=200, deadline=None)
def test_sms_cut_always_fits_and_keeps_a_start(text, count):
    cut = sms.cut(text, count)
    assert sms.segments(cut) <= count
    assert cut == text or (cut.endswith("...") and text.startswith(cut[:-3]))


# -- fitting lines to a budget ---------------------------------------------------------------------

def lines_of(head, facts, action):
    return [Line(head)] + [Line(text, rank) for text, rank in facts] + [Line(action, whole=True)]


fact = st.tuples(st.text(min_size=1, max_size=80).filter(lambda t: "\n" not in t), st.integers(1, 5))
heads = st.text(min_size=1, max_size=300).filter(lambda t: "\n" not in t and t.strip() == t and t)


@given(heads, st.lists(fact, max_size=8), st.integers(0, 2000), st.sampled_from(["chars", "bytes"]))
@settings(max_examples=300, deadline=None)
def test_fit_always_fits_keeps_the_headline_and_never_cuts_the_action(head, facts, room, unit):
    action = "Acknowledge: https://callgoose.example.com/l/A1.abc.def"
    measure = len if unit == "chars" else (lambda t: len(t.encode()))
    limit = measure(head[:1] + "…\n" + action) + room  # room for at least the headline's first character
    text = fit(lines_of(head, facts, action), chars(limit) if unit == "chars" else utf8(limit))
    assert measure(text) <= limit
    first, _, rest = text.partition("\n")
    assert first == head or (first.endswith("…") and head.startswith(first[:-1]) and len(first) >= 2)
    assert text.endswith("\n" + action)  # whole, and last
    kept = text.split("\n")[1:-1]
    texts = [t for t, _ in facts]
    for line in kept:  # every fact kept is one of them, whole or cut
        assert line in texts or (line.endswith("…") and any(t.startswith(line[:-1]) for t in texts))


@given(heads, st.lists(fact, max_size=8, unique_by=lambda f: f[0]), st.integers(0, 400))
@settings(max_examples=300, deadline=None)
def test_fit_drops_the_least_important_first(head, facts, room):
    facts = [(f"{index}:{text}", rank) for index, (text, rank) in enumerate(facts)]  # no two start alike
    limit = len(head) + 1 + len("act") + room
    text = fit(lines_of(head, facts, "act"), chars(limit))
    kept = text.split("\n")[1:-1]
    if kept == [t for t, _ in facts]:
        return

    def is_kept(fact_text):
        return any(line == fact_text or (line.endswith("…") and fact_text.startswith(line[:-1])
                                         and line != fact_text) for line in kept)
    kept_ranks = [rank for t, rank in facts if is_kept(t)]
    gone_ranks = [rank for t, rank in facts if not is_kept(t)]
    # whatever was dropped ranks no more important than anything kept
    assert not kept_ranks or not gone_ranks or min(gone_ranks) >= max(kept_ranks)


def test_fit_changes_nothing_that_fits_and_cuts_nothing_whole():
    lines = [Line("HIGH api: CPU"), Line("cpu at 99%", 1), Line("Runbook: https://w.example/x", 3, whole=True),
             Line("Ack: https://c.example/l/x", whole=True)]
    full = "\n".join(line.text for line in lines)
    assert fit(lines, chars(len(full))) == full
    assert fit(lines, chars(len(full) - 1)) == "HIGH api: CPU\ncpu at 99%\nAck: https://c.example/l/x"
    # the description is cut rather than dropped while enough of it stays
    long = [Line("HIGH api: CPU"), Line("the pool is exhausted on every node", 1), Line("act", whole=True)]
    assert fit(long, chars(40)) == "HIGH api: CPU\nthe pool is exhausted…\nact"
    assert fit(long, chars(25)) == "HIGH api: CPU\nact"  # too little of it would stay: dropped
    assert fit(long, chars(10)) == "HIGH…\nact"  # then the headline is cut, never the action


# -- the SMS of a page ----------------------------------------------------------------------------

REPLIES = ["Reply 1 to acknowledge, 2 to resolve, 3 to escalate.", "Reply 1 ack, 2 resolve, 3 escalate."]


def page(title, **facts):
    return Item(kind="page", incident_id=1, title=title, service="checkout-api", **facts)


FULL = dict(description="cpu at 99% on db1 for ten minutes\nsecond line", labels=(("alertname", "HighCPU"),
            ("severity", "critical"), ("instance", "db1.example.com:9100")), runbook="https://wiki.example.com/rb/cpu",
            repeats=4, opened=1_700_000_000.0, zone="Europe/Berlin")


def test_an_sms_page_is_one_gsm7_sms_with_its_headline_and_reply():
    text = sms_text([page("CPU high", **FULL)], 1, str, REPLIES)
    assert sms.encoding(text) == "gsm7" and sms.segments(text) == 1
    assert text.startswith("Callgoose: HIGH checkout-api: CPU high\ncpu at 99% on db1")
    assert text.endswith("\n" + REPLIES[0])


@pytest.mark.parametrize("title", ["🔥 CPU high", "数据库连接池耗尽", "Ошибка базы"])
def test_an_sms_page_in_ucs2_is_one_sms_of_70(title):
    text = sms_text([page(title, **FULL)], 1, str, REPLIES)
    assert sms.encoding(text) == "ucs2" and sms.units(text) <= 70 and sms.segments(text) == 1
    assert f"HIGH checkout-api: {title}" in text and text.endswith("Reply 1 ack, 2 resolve, 3 escalate.")


def test_an_sms_page_takes_another_segment_rather_than_cut_a_title_it_can_keep():
    link = "Acknowledge: https://callgoose.example.com/l/A1.tpmz92.Wca2RnRGll4_Raii"
    text = sms_text([page("数据库连接池耗尽 on db1", **FULL)], 1, str, [link])
    assert sms.segments(text) == 2 and "数据库连接池耗尽 on db1\n" in text and text.endswith("\n" + link)


@given(st.text(min_size=1, max_size=300).filter(lambda t: t.strip()), st.text(max_size=300),
       st.sampled_from([[], REPLIES, ["Acknowledge: https://callgoose.example.com/l/A1.tpmz92.Wca2RnRGll4_Raii"]]))
@settings(max_examples=200, deadline=None)
def test_an_sms_page_always_fits_three_segments_and_keeps_its_title_and_action(title, description, actions):
    title = " ".join(title.split())
    text = sms_text([page(title, **{**FULL, "description": first_lines(description)})], 1, str, actions)
    assert sms.segments(text) <= 3
    head = text.split("\n")[0]
    assert head.removeprefix("Callgoose: ").startswith("HIGH checkout-api: ")
    assert title.startswith(head.removeprefix("Callgoose: ").removeprefix("HIGH checkout-api: ").removesuffix("..."))
    if actions:
        assert any(text.endswith("\n" + action) for action in actions)


def test_a_bundle_sms_says_how_many_it_carries():
    items = [page("CPU high", **FULL), page("Disk full")]
    text = sms_text(items, 7, str, REPLIES)
    assert text.startswith("Callgoose: 7 updates. HIGH checkout-api: CPU high and 6 more.")
    assert "cpu at 99%" not in text and sms.segments(text) == 1


# -- the facts ------------------------------------------------------------------------------------

ALERT = {"status": "firing", "fingerprint": "f1",
         "labels": {"team": "db", "instance": "db1:9100", "__name__": "up", "alertname": "HighCPU",
                    "severity": "critical", "job": "node", "namespace": "prod", "pod": "p-1"},
         "annotations": {"runbook_url": "https://wiki.example.com/cpu", "description": "cpu at 99%"}}


def test_an_alerts_key_labels_come_first_in_order_and_are_few():
    facts = facts_of(Payload.from_text(json.dumps(ALERT)))
    assert facts == {"labels": [["alertname", "HighCPU"], ["severity", "critical"], ["instance", "db1:9100"],
                                ["job", "node"], ["namespace", "prod"]],
                     "runbook": "https://wiki.example.com/cpu"}


def test_a_groups_common_labels_and_annotations():
    group = {"status": "firing", "commonLabels": {"alertname": "HighCPU", "env": "prod"},
             "commonAnnotations": {"runbook_url": "https://wiki.example.com/cpu"},
             "alerts": [ALERT, {**ALERT, "labels": {"alertname": "Other"}}]}
    assert facts_of(Payload.from_text(json.dumps(group))) == {
        "labels": [["alertname", "HighCPU"], ["env", "prod"]], "runbook": "https://wiki.example.com/cpu"}


def test_a_split_element_has_its_own_labels_not_the_groups():
    group = {"status": "firing", "commonLabels": {"env": "prod"},
             "alerts": [ALERT, {"labels": {"alertname": "DiskFull", "severity": "warning"},
                                "annotations": {"runbook": "http://wiki.example.com/disk"}}]}
    parts, _ = split(Payload.from_text(json.dumps(group)), "alerts")
    assert facts_of(parts[1]) == {"labels": [["alertname", "DiskFull"], ["severity", "warning"]],
                                  "runbook": "http://wiki.example.com/disk"}


@pytest.mark.parametrize("doc", [
    {"runbook_url": "javascript:alert(1)"}, {"runbook": "/wiki/cpu"}, {"runbook": "ftp://host/x"},
    {"runbook_url": "https://wiki.example.com/a b"}, {"annotations": {"runbook_url": "https://\nevil"}},
    {"message": "disk full", "host": "db1", "value": 97},  # a generic payload: nothing guessed
    {"labels": {"a": {"nested": 1}, "b": None, "c": True}},
])
def test_facts_are_conservative(doc):
    assert facts_of(Payload.from_text(json.dumps(doc))) is None
    assert facts_of(Payload.from_text("not json")) is None


def test_labels_are_one_short_line_each():
    found = facts_of(Payload.from_text(json.dumps({"labels": {"alertname": "A\nB\tC", "instance": "x" * 300}})))
    assert found["labels"][0] == ["alertname", "A B C"]
    assert len(found["labels"][1][1]) == 100 and found["labels"][1][1].endswith("…")


def test_web_url():
    assert web_url("https://wiki.example.com/x?a=1#b") == "https://wiki.example.com/x?a=1#b"
    assert web_url("HTTP://wiki.example.com") == "HTTP://wiki.example.com"
    assert web_url("https://") is None and web_url("data:text/html,x") is None and web_url(None) is None


def test_first_lines():
    assert first_lines("\n\n  one  \n\n two\nthree\nfour") == "one\ntwo\nthree"
    assert first_lines(None) == "" and len(first_lines("x" * 5000)) == 300


def test_the_facts_are_worded_in_the_readers_zone_and_ranked():
    lines = fact_lines(page("CPU high", **FULL), str)
    assert [(line.text, line.rank) for line in lines] == [
        ("cpu at 99% on db1 for ten minutes", 1), ("second line", 1),
        ("Labels: alertname=HighCPU, severity=critical, instance=db1.example.com:9100", 2),
        ("Runbook: https://wiki.example.com/rb/cpu", 3), ("Repeats so far: 4", 4),
        ("Opened Tue 14 Nov 23:13 CET", 5)]  # 22:13 UTC
    assert fact_lines(page("x", opened=1_700_000_000.0, zone="Nowhere/Else"), str)[-1].text == \
        "Opened Tue 14 Nov 22:13 UTC"


def test_the_mail_escapes_the_facts_and_links_only_the_runbook():
    item = page("CPU <b>high</b>", **{**FULL, "description": "<script>x</script>",
                                      "labels": (("alertname", "<img src=x>"),)})
    message = compose([item])
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<img" not in message.html and "&lt;img src=x&gt;" in message.html
    assert '<a href="https://wiki.example.com/rb/cpu" rel="noopener noreferrer">' in message.html
    assert "  Labels: alertname=<img src=x>" in message.text and "  Repeats so far: 4" in message.text
