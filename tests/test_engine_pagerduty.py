"""Issue 18: PagerDuty's Events API v2 read into an event (engine.pagerduty), pure."""

from __future__ import annotations

import json

import pytest

from callgoose.engine import pagerduty
from callgoose.engine.events import Act

KEY = "r" * 32


def body(**fields) -> bytes:
    doc = {"routing_key": KEY, "event_action": "trigger", "dedup_key": "srv01/mysql",
           "payload": {"summary": "DISK at 99% on prod-datapipe03", "source": "prod-datapipe03.example.com",
                       "severity": "critical"}}
    for name, value in fields.items():
        if name.startswith("payload_"):
            doc["payload"][name[len("payload_"):]] = value
        else:
            doc[name] = value
    return json.dumps(doc).encode()


def test_every_documented_field_of_a_trigger_is_mapped():
    parsed = pagerduty.parse_alert(body(
        payload_timestamp="2015-07-17T08:42:58.315+0000", payload_component="mysql", payload_group="prod-datapipe",
        payload_class="disk", payload_custom_details={"free space": "1%", "load avg": 0.75},
        links=[{"href": "https://runbooks.example/disk", "text": "Runbook"}],
        images=[{"src": "https://charts.example/disk.png", "href": "https://charts.example/disk", "alt": "Disk chart"}],
        client="Sample Monitoring Service", client_url="https://monitoring.example.com"))
    assert parsed.ok and parsed.routing_key == KEY and parsed.client == "Sample Monitoring Service"
    event = parsed.event
    assert (event.api, event.said, event.act, event.key) == ("pagerduty", "trigger", Act.OPEN, "srv01/mysql")
    assert (event.title, event.urgency) == ("DISK at 99% on prod-datapipe03", "high")
    assert event.description == '{\n  "free space": "1%",\n  "load avg": 0.75\n}'  # numbers as written
    assert event.facts == {
        "labels": [["severity", "critical"], ["source", "prod-datapipe03.example.com"], ["component", "mysql"],
                   ["group", "prod-datapipe"], ["class", "disk"]],
        "links": [["https://monitoring.example.com", "Sample Monitoring Service"],
                  ["https://runbooks.example/disk", "Runbook"]],
        "images": [["https://charts.example/disk.png", "https://charts.example/disk", "Disk chart"]]}


@pytest.mark.parametrize("severity, urgency", [("critical", "high"), ("error", "high"), ("warning", "low"),
                                               ("info", "low")])
def test_severity_gives_urgency(severity, urgency):
    assert pagerduty.parse_alert(body(payload_severity=severity)).event.urgency == urgency


def test_a_string_custom_details_is_the_description_as_it_is_and_none_leaves_it_empty():
    assert pagerduty.parse_alert(body(payload_custom_details="line 1\nline 2")).event.description == "line 1\nline 2"
    assert pagerduty.parse_alert(body()).event.description == ""


def test_a_trigger_without_dedup_key_gets_one_generated():
    parsed = pagerduty.parse_alert(body(dedup_key=None), new_key=lambda: "generated-1")
    assert parsed.event.key == "generated-1"
    first, second = (pagerduty.parse_alert(body(dedup_key=None)).event.key for _ in range(2))
    assert len(first) == 32 and first != second


@pytest.mark.parametrize("action, act", [("acknowledge", Act.ACKNOWLEDGE), ("resolve", Act.RESOLVE)])
def test_acknowledge_and_resolve_need_only_the_dedup_key(action, act):
    parsed = pagerduty.parse_alert(json.dumps({"routing_key": KEY, "event_action": action,
                                               "dedup_key": "k1"}).encode())
    assert parsed.ok and (parsed.event.act, parsed.event.key, parsed.event.said) == (act, "k1", action)
    missing = pagerduty.parse_alert(json.dumps({"routing_key": KEY, "event_action": action}).encode())
    assert missing.errors == (f"'dedup_key' is required for {action} events",) and missing.event is None


@pytest.mark.parametrize("fields, fault", [
    ({"event_action": "explode"}, "'event_action' must be one of trigger, acknowledge or resolve"),
    ({"event_action": None}, "'event_action' must be one of trigger, acknowledge or resolve"),
    ({"routing_key": None}, "'routing_key' is missing or blank"),
    ({"routing_key": "  "}, "'routing_key' is missing or blank"),
    ({"payload_summary": None}, "'payload.summary' is missing or blank"),
    ({"payload_summary": {"a": 1}}, "'payload.summary' must be a string"),
    ({"payload_source": {"host": "db1"}}, "'payload.source' must be a string"),
    ({"payload_severity": "fatal"}, "'payload.severity' must be one of critical, error, warning or info"),
    ({"payload_severity": {"x": 1}}, "'payload.severity' must be one of critical, error, warning or info"),
    ({"payload": "text"}, "'payload' is missing or not an object"),
    ({"dedup_key": "k" * 256}, "'dedup_key' is longer than 255 characters"),
    ({"dedup_key": ["k"]}, "'dedup_key' must be a string"),
    ({"links": "https://x.example"}, "'links' must be an array of objects"),
    ({"images": {"src": "https://x.example/a.png"}}, "'images' must be an array of objects"),
])
def test_each_fault_names_its_field(fields, fault):
    parsed = pagerduty.parse_alert(body(**fields))
    assert fault in parsed.errors and parsed.event is None


def test_a_trigger_without_source_is_accepted_unlike_pagerduty_so_no_page_is_lost():
    parsed = pagerduty.parse_alert(body(payload_source=None))
    assert parsed.ok and parsed.event.facts == {"labels": [["severity", "critical"]]}


def test_several_faults_are_all_named():
    parsed = pagerduty.parse_alert(body(payload_summary=None, payload_severity="bad"))
    assert len(parsed.errors) == 2


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"{" * 5000,
                                 b'{"routing_key": NaN}', b"[" * 100 + b"]" * 100, b"\xff\xfe\x00"])
def test_a_body_that_is_no_json_object_is_one_fault(raw):
    parsed = pagerduty.parse_alert(raw)
    assert parsed.errors == ("The body must be a JSON object (JSON parse error)",) and parsed.routing_key is None


def test_a_summary_over_1024_characters_is_cut_not_refused_and_kept_whole_in_the_description():
    parsed = pagerduty.parse_alert(body(payload_summary="word " * 400, payload_custom_details={"a": "b"}))
    assert parsed.ok and len(parsed.event.title) <= 255 and parsed.event.title.endswith("…")
    summary, details = parsed.event.description.split("\n\n")
    assert len(summary) == 1024 and details == '{\n  "a": "b"\n}'


def test_only_web_links_and_images_are_kept_and_they_are_capped():
    parsed = pagerduty.parse_alert(body(
        links=[{"href": "javascript:alert(1)", "text": "x"}, {"href": "data:text/html,<b>"}, "not an object",
               {"href": "/relative"}, {"href": "https://ok.example/a", "text": "A\nline <b>"}]
        + [{"href": f"https://ok.example/{i}"} for i in range(30)],
        images=[{"src": "javascript:alert(1)"}, {"src": "https://img.example/a.png", "href": "javascript:x"}],
        client_url="javascript:alert(1)"))
    links = parsed.event.facts["links"]
    assert links[0] == ["https://ok.example/a", "A line <b>"]  # one line; escaping is the template's
    assert len(links) == pagerduty.MAX_LINKS and all(href.startswith("https://") for href, _ in links)
    assert parsed.event.facts["images"] == [["https://img.example/a.png", None, ""]]


def test_nul_and_lone_surrogates_are_replaced_so_every_database_stores_them():
    raw = b'{"routing_key": "' + KEY.encode() + b'", "event_action": "trigger", "dedup_key": "a\\u0000b", ' \
          b'"payload": {"summary": "x\\ud800y", "source": "s", "severity": "info", "custom_details": "\\udfff"}}'
    event = pagerduty.parse_alert(raw).event
    assert (event.key, event.title, event.description) == ("a\ufffdb", "x\ufffdy", "\ufffd")


def test_huge_custom_details_are_cut():
    event = pagerduty.parse_alert(body(payload_custom_details={"log": "x" * 200_000})).event
    assert len(event.description) <= 65536 and event.description.endswith("…")


def test_the_routing_key_is_redacted_from_what_is_kept_even_when_escaped():
    kept = pagerduty.redacted(body(), KEY)
    assert KEY.encode() not in kept and json.loads(kept)["routing_key"] == "[REDACTED]"
    escaped = body().replace(b'"' + KEY.encode() + b'"', b'"\\u0072' + KEY[1:].encode() + b'"')
    kept = pagerduty.redacted(escaped, KEY)
    assert KEY.encode() not in kept and json.loads(kept)["routing_key"] == "[REDACTED]"
    assert json.loads(kept)["payload"]["severity"] == "critical"


def test_kept_bodies_are_read_as_utf8_json_whatever_was_declared():
    assert pagerduty.kept_type("application/json") == "application/json"
    assert pagerduty.kept_type("text/plain; charset=UTF-8") == "text/plain; charset=UTF-8"
    assert pagerduty.kept_type("application/octet-stream") == "application/json"
    assert pagerduty.kept_type("application/json; charset=latin-1") == "application/json"
    assert pagerduty.kept_type(None) == "application/json"


def test_a_change_event_is_read_with_its_time_never_after_it_arrived():
    raw = json.dumps({"routing_key": KEY, "payload": {
        "summary": "Build Success: Increase snapshot create timeout to 30 seconds",
        "timestamp": "2020-07-17T08:42:58.315+0000", "source": "acme-build-pipeline",
        "custom_details": {"build_state": "passed", "build_number": "2"}},
        "links": [{"href": "https://acme.example/build/2", "text": "View more details"}, {"href": "javascript:x"}]})
    parsed = pagerduty.parse_change(raw.encode(), received=1_800_000_000.0)
    change = parsed.change
    assert parsed.ok and change.summary.startswith("Build Success") and change.source == "acme-build-pipeline"
    assert change.at == change.timestamp == 1594975378.315
    assert change.links == (("https://acme.example/build/2", "View more details"),)
    assert change.details == '{\n  "build_state": "passed",\n  "build_number": "2"\n}'
    future = json.dumps({"routing_key": KEY, "payload": {"summary": "s", "timestamp": "2099-01-01T00:00:00Z"}})
    assert pagerduty.parse_change(future.encode(), received=1_800_000_000.0).change.at == 1_800_000_000.0
    garbled = json.dumps({"routing_key": KEY, "payload": {"summary": "s", "timestamp": "yesterday"}})
    assert pagerduty.parse_change(garbled.encode(), received=5.0).change.at == 5.0


def test_a_change_event_needs_a_summary():
    parsed = pagerduty.parse_change(json.dumps({"routing_key": KEY, "payload": {}}).encode(), 0.0)
    assert parsed.errors == ("'payload.summary' is missing or blank",)
    assert pagerduty.parse_change(b"[]", 0.0).errors == ("The body must be a JSON object (JSON parse error)",)
