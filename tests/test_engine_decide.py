"""Title, description, mapping, replay, maintenance and status decisions (S20-S31), without Flask."""

import pytest

from callgoose.engine import (
    Flags,
    MaintenanceWindow,
    Marker,
    Payload,
    ServiceSpec,
    evaluate,
    is_replay,
)
from callgoose.engine.decide import (
    NO_SUBJECT,
    in_maintenance,
    make_title,
    mapping_key,
    resolve_values,
)
from callgoose.engine.rules import build_resolve, build_trigger


def service(**trigger):
    return ServiceSpec("s", trigger=(build_trigger(trigger, "t"),))


def test_s20_urgency_defaults_to_high():
    assert evaluate(service(), Payload.from_text("x")).trigger.urgency == "high"
    assert evaluate(service(urgency="low"), Payload.from_text("x")).trigger.urgency == "low"


@pytest.mark.parametrize("value, source, title", [
    ("CPU high", "prometheus", "prometheus - CPU high"),
    ("CPU high", None, "CPU high"),
    ("CPU high", "", "CPU high"),
    ("  CPU high  ", " prom ", "prom - CPU high"),
    ("   ", "prom", "Incident from prom"),
    (None, "prom", "Incident from prom"),
    (None, None, "Incident from unknown source"),
    ("", "", "Incident from unknown source"),
    ("x" * 300, None, "x" * 254 + "…"),  # S21's cut at 255, marked (issue 6 D19)
    # S21: white space runs, line breaks included, fold to one space (a title is one line)
    ("disk\nfull\r\non  db1\t", None, "disk full on db1"),
    ("CPU high", "zabbix\nprod", "zabbix prod - CPU high"),
    (None, "zabbix\r\nprod", "Incident from zabbix prod"),
    ("\n\r\t", "a\nb", "Incident from a b"),
    ("a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i", None, "a b c d e f g h i"),
    ("word\n" * 100, None, ("word " * 50).rstrip() + "…"),
])
def test_s21_title(value, source, title):
    assert make_title(value, source) == title
    assert len(title.splitlines()) == 1 and len(title) <= 255


def test_s21_title_from_an_absent_key_uses_the_source():
    ev = evaluate(service(title_from="nope"), Payload.from_text('{"a": 1}'), "zabbix")
    assert ev.trigger.title == "Incident from zabbix"


def test_s21_title_from_number_and_from_not_set():
    assert evaluate(service(title_from="n"), Payload.from_text('{"n": 1.50}')).trigger.title == "1.50"
    assert evaluate(service(), Payload.from_text('{"n": 1}'), "cron").trigger.title == "Incident from cron"


def test_s21_title_is_cut_to_255_after_the_source_prefix():
    ev = evaluate(service(title_from="t"), Payload.from_text('{"t": "%s"}' % ("y" * 400)), "src")
    assert ev.trigger.title == ("src - " + "y" * 400)[:254] + "…"


@pytest.mark.parametrize("text, key, description", [
    ('{"d": "disk full"}', "d", "disk full"),
    ('{"d": "  "}', "d", '{"d": "  "}'),
    ('{"d": null}', "d", '{"d": null}'),
    ('{"x": 1}', "d", '{"x": 1}'),
    ("not json", "d", "not json"),
    ('{"d": {"a": 1}}', "d", '{"a":1}'),
])
def test_s22_description(text, key, description):
    assert evaluate(service(description_from=key), Payload.from_text(text)).trigger.description == description


def test_s22_description_not_set_is_the_whole_payload():
    assert evaluate(service(), Payload.from_text("hello")).trigger.description == "hello"


@pytest.mark.parametrize("text, mapping", [
    ('{"k": "  db1  "}', "db1"),
    ('{"k": 42}', "42"),
    ('{"k": ""}', None),
    ('{"k": "   "}', None),
    ('{"x": 1}', None),
    ("plain", None),
])
def test_s23_mapping_value(text, mapping):
    assert evaluate(service(map_incident_with="k"), Payload.from_text(text)).trigger.mapping_value == mapping


def test_s23_empty_key_maps_with_the_whole_payload():
    assert evaluate(service(map_incident_with=""), Payload.from_text(" abc ")).trigger.mapping_value == "abc"


def resolver(key="host"):
    return ServiceSpec("s", resolve=(build_resolve(
        {"conditions": [{"json_key": "state", "contains": ["up"]}], "incident_mapped_with": key}, "r"),))


def test_s24_resolve_value_is_trimmed_text():
    ev = evaluate(resolver(), Payload.from_text('{"state": "up", "host": " db1 "}'))
    assert resolve_values(ev) == ["db1"]


@pytest.mark.parametrize("text", ['{"state": "up"}', '{"state": "up", "host": "  "}', '{"state": "up", "host": null}'])
def test_s24_absent_or_empty_mapping_key_means_the_rule_does_not_hold(text):
    ev = evaluate(resolver(), Payload.from_text(text))
    assert not ev.held
    assert ev.misses[0][2].reason == "mapping key absent or empty"


def test_s24_two_rules_resolving_the_same_value_resolve_it_once():
    spec = ServiceSpec("s", resolve=resolver().resolve * 2)
    assert resolve_values(evaluate(spec, Payload.from_text('{"state": "up", "host": "a"}'))) == ["a"]


def test_s27_subject_is_the_trigger_mapping_else_the_first_resolve_value():
    both = ServiceSpec("s", trigger=(build_trigger({"map_incident_with": "id"}, "t"),), resolve=resolver().resolve)
    assert evaluate(both, Payload.from_text('{"id": "i1", "state": "up", "host": "h"}')).subject == mapping_key("i1")
    unmapped = ServiceSpec("s", trigger=(build_trigger({}, "t"),), resolve=resolver().resolve)
    assert evaluate(unmapped, Payload.from_text('{"state": "up", "host": "h"}')).subject == NO_SUBJECT
    assert evaluate(resolver(), Payload.from_text('{"state": "up", "host": "h"}')).subject == mapping_key("h")
    assert evaluate(resolver(), Payload.from_text('{"state": "down", "host": "h"}')).subject is None
    two = ServiceSpec("s", resolve=resolver("host").resolve + resolver("id").resolve)
    assert evaluate(two, Payload.from_text('{"state": "up", "host": "h", "id": "i"}')).subject == mapping_key("h")


WINDOW = 300.0


@pytest.mark.parametrize("marker, payload_hash, now, replay", [
    (None, "h", 1000.0, False),
    (Marker("h", 1000.0), "h", 1000.0, True),
    (Marker("h", 1000.0), "h", 1000.0 + WINDOW - 0.001, True),
    (Marker("h", 1000.0), "h", 1000.0 + WINDOW, False),         # exactly W: not less than W
    (Marker("h", 1000.0), "h", 1000.0 + WINDOW + 1, False),
    (Marker("other", 1000.0), "h", 1001.0, False),
])
def test_s27_replay_window_edges(marker, payload_hash, now, replay):
    assert is_replay(marker, payload_hash, now, WINDOW) is replay


def test_s27_zero_window_never_replays():
    assert not is_replay(Marker("h", 1000.0), "h", 1000.0, 0)


def test_s29_maintenance_windows():
    payload = Payload.from_text('{"env": "Staging", "host": "db1"}')
    now = 1000.0

    def covered(*windows):
        return in_maintenance(ServiceSpec("s", maintenance=windows), payload, now)

    assert not covered()
    assert covered(MaintenanceWindow())                              # now, no end, every request
    assert covered(MaintenanceWindow(starts_at=1000.0, ends_at=1001.0))
    assert not covered(MaintenanceWindow(starts_at=1000.5))             # scheduled, not started
    assert not covered(MaintenanceWindow(ends_at=1000.0))               # ended exactly now
    assert covered(MaintenanceWindow(tags=(("staging",),)))             # case-insensitive substring
    assert covered(MaintenanceWindow(tags=(("nope",), ("STAGING", "db1"))))  # some set, every tag
    assert not covered(MaintenanceWindow(tags=(("staging", "db2"),)))


@pytest.mark.parametrize("flags, status", [
    (Flags(), 202),
    (Flags(created=True, resolved=True, trigger_duplicate=True), 201),
    (Flags(resolved=True, trigger_duplicate=True), 200),
    (Flags(trigger_duplicate=True), 208),
    (Flags(resolve_duplicate=True), 208),
])
def test_s31_status(flags, status):
    assert flags.status == status


def test_s30_body_shape():
    assert Flags(created=True, resolve_duplicate=True).body("abc") == {
        "id": "abc", "resolved": {"duplicate": True, "resolved": False},
        "triggered": {"duplicate": False, "created": True}}


def test_s5_flags_are_ored_over_services():
    total = Flags()
    total.merge(Flags(trigger_duplicate=True))
    total.merge(Flags(resolved=True))
    assert (total.status, total.trigger_duplicate, total.resolved) == (200, True, True)
