"""Reading bodies and keys (S7-S14), without Flask."""

import json

import pytest

from callgoose.engine import Payload
from callgoose.engine.payload import decode_body, is_text_type, parse_json


@pytest.mark.parametrize("content_type", [
    None, "", "text/plain", "text/csv; charset=utf-8", "application/json",
    "application/vnd.api+json", "application/xml", "application/atom+xml",
    "application/x-www-form-urlencoded", "application/javascript", "APPLICATION/JSON",
])
def test_s7_text_like_types_are_read_as_text(content_type):
    assert decode_body(b'{"a": 1}', content_type) == '{"a": 1}'


@pytest.mark.parametrize("content_type", [
    "image/png", "audio/mpeg", "application/octet-stream", "multipart/form-data; boundary=x",
    "application/pdf",
])
def test_s7_other_types_are_an_empty_payload(content_type):
    assert decode_body(b'{"status": "firing"}', content_type) == ""
    assert Payload.from_body(b'{"status": "firing"}', content_type).data is None


def test_s7_declared_charset_is_used():
    assert decode_body("état".encode("latin-1"), "text/plain; charset=latin-1") == "état"
    assert decode_body("état".encode("utf-16"), 'application/json; charset="utf-16"') == "état"


def test_s7_undecodable_bytes_become_replacement_characters():
    assert decode_body(b"ok \xff\xfe end", "text/plain") == "ok \ufffd\ufffd end"


def test_s7_unknown_charset_falls_back_to_utf8():
    assert decode_body("é".encode(), "text/plain; charset=no-such-charset") == "é"


def test_s7_text_type_table():
    assert is_text_type("text/anything")
    assert not is_text_type("application/jsonx")
    assert not is_text_type("image/svg+xml")  # +xml outside application/ is not text (S7)


@pytest.mark.parametrize("text", [
    '{"a": 1}', "[1, 2]", '\ufeff{"a": 1}', ' \n\t{"a": 1}\n', '\ufeff  [true]',
])
def test_s8_objects_and_arrays_are_json(text):
    assert Payload.from_text(text).data is not None


@pytest.mark.parametrize("text", [
    "", "42", '"just a string"', "true", "null", "NaN", '{"a": NaN}', '{"a": Infinity}',
    '[-Infinity]', "{'a': 1}", '{"a": 1', "status=firing", "<alert/>",
])
def test_s8_everything_else_is_plain_text(text):
    payload = Payload.from_text(text)
    assert payload.data is None
    assert payload.text == text


def test_s8_sns_json_sent_as_text_plain_is_json():
    body = json.dumps({"Type": "Notification", "Message": "{}"}).encode()
    assert Payload.from_body(body, "text/plain; charset=UTF-8").value("Type") == "Notification"


def test_s8_nesting_of_64_levels_is_json_and_65_is_text():
    assert parse_json("[" * 64 + "]" * 64) is not None
    assert parse_json("[" * 65 + "]" * 65) is None
    assert parse_json('{"a":' * 64 + "1" + "}" * 64) is not None
    assert parse_json('{"a":' * 65 + "1" + "}" * 65) is None


def test_s8_many_brackets_at_low_depth_stay_json():
    assert parse_json("[" + ",".join(["[]"] * 500) + "]") is not None


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_s8_absurd_nesting_is_plain_text_not_a_crash(depth):
    assert parse_json("[" * depth + "]" * depth) is None


def test_s9_nul_and_lone_surrogates_are_replaced():
    payload = Payload.from_body(b'{"a": "x"}\x00', "text/plain")
    assert payload.text == '{"a": "x"}\ufffd'
    payload = Payload.from_text('{"a": "\\ud800 and \\u0000", "b": "\\ud83d\\ude00"}')
    assert payload.value("a") == "\ufffd and \ufffd"
    assert payload.value("b") == "\U0001F600"  # a proper pair is kept
    assert payload.value("a").encode("utf-8")  # storable


def test_s9_raw_text_is_kept_unchanged():
    text = '{ "b" : 1.50,\n  "a": [1, 2] }'
    assert Payload.from_text(text).text == text


DOC = {
    "status": "firing",
    "commonLabels": {"severity": "critical", "app.kubernetes.io/name": "shop"},
    "alerts": [{"status": "firing", "labels": {"host": "db1"}}, {"status": "resolved"}],
    "a.b": "literal wins",
    "a": {"b": "walked"},
    "Message": json.dumps({"AlarmName": "cpu-high", "Trigger": {"Threshold": 90}}),
    "nothing": None,
    "empty": "",
    "n": 7,
}


@pytest.fixture
def doc():
    return Payload.from_text(json.dumps(DOC))


@pytest.mark.parametrize("key, expected", [
    ("status", "firing"),
    ("commonLabels.severity", "critical"),
    ("alerts.0.status", "firing"),
    ("alerts[0].status", "firing"),
    ("alerts[1].status", "resolved"),
    ("alerts[0].labels.host", "db1"),
    ("a.b", "literal wins"),
    ("commonLabels.app.kubernetes.io/name", "shop"),
    ("empty", ""),
])
def test_s10_keys_walk_objects_and_arrays(doc, key, expected):
    assert doc.value(key) == expected


def test_s10_keys_are_case_sensitive(doc):
    assert doc.value("Status") is None
    assert doc.value("message.AlarmName") is None


def test_s11_strings_holding_json_are_walked_into(doc):
    assert doc.value("Message.AlarmName") == "cpu-high"
    assert doc.value("Message.Trigger.Threshold") == "90"


def test_s11_a_string_that_is_not_json_ends_the_walk():
    assert Payload.from_text('{"m": "plain words"}').value("m.x") is None


@pytest.mark.parametrize("key", [
    "missing", "alerts.5.status", "alerts.-1.status", "alerts.x", "status.deeper",
    "n.deeper", "nothing", "commonLabels.missing", "alerts[9]",
])
def test_s12_absent_keys(doc, key):
    assert doc.value(key) is None


def test_s12_every_key_is_absent_when_the_payload_is_not_json():
    payload = Payload.from_text("status: firing")
    assert payload.value("status") is None


@pytest.mark.parametrize("json_text, expected", [
    ('{"v": 7}', "7"),
    ('{"v": 96.4}', "96.4"),
    ('{"v": 1.50}', "1.50"),
    ('{"v": -0.0}', "-0.0"),
    ('{"v": 1e3}', "1e3"),
    ('{"v": 12345678901234567890123}', "12345678901234567890123"),
    ('{"v": true}', "true"),
    ('{"v": false}', "false"),
    ('{"v": "text"}', "text"),
    ('{"v": {"b": 1.50, "a": [1, "x", null, true]}}', '{"b":1.50,"a":[1,"x",null,true]}'),
    ('{"v": ["é"]}', '["é"]'),
    ('{"v": []}', "[]"),
])
def test_s13_values_as_text(json_text, expected):
    assert Payload.from_text(json_text).value("v") == expected


def test_s14_empty_key_is_the_whole_payload():
    assert Payload.from_text("plain text").value("") == "plain text"
    assert Payload.from_text('{"a": 1}').value("") == '{"a": 1}'
