"""Issue 18: Opsgenie's Alert API read into events, its request statuses and heartbeat names
(engine.opsgenie, pure: no app)."""

import json

import pytest

from callgoose.engine.events import Act
from callgoose.engine.opsgenie import (
    HEARTBEAT_KEY,
    NO_INCIDENT,
    Refused,
    heartbeat,
    parse,
    request_status,
)
from callgoose.engine.outcome import ServiceOutcome
from callgoose.engine.payload import Payload


def read(action, body, identifier=None, identifier_type=None):
    text = body if isinstance(body, str) else json.dumps(body)
    payload = Payload.from_text(text)
    return parse(action, payload.data, payload.text, identifier, identifier_type)


def test_a_create_reads_every_field_opsgenie_documents():
    event = read("create", """{
        "message": "Disk full on db-1", "alias": "disk-db-1", "description": "/var at 99%",
        "tags": ["prod", "db"], "details": {"severity": "critical", "instance": "db-1:9100", "load": 7.50,
                                            "nested": {"no": "objects"}},
        "entity": "db-1", "source": "cron", "priority": "P2", "note": "seen by cron", "user": "ana"}""")
    assert (event.api, event.said, event.act) == ("opsgenie", "create", Act.OPEN)
    assert (event.key, event.title, event.description, event.urgency) == ("disk-db-1", "Disk full on db-1",
                                                                           "/var at 99%", "high")
    # the labels are the details' scalars, key ones first (engine.page), numbers as written
    assert (event.note, event.actor) == ("seen by cron", "ana")
    assert event.facts == {"labels": [["severity", "critical"], ["instance", "db-1:9100"], ["load", "7.50"]],
                           "tags": ["prod", "db"], "entity": "db-1", "source": "cron", "priority": "P2"}
    assert event.label == "opsgenie create"


@pytest.mark.parametrize("priority, urgency, kept", [
    (None, "high", "P3"), ("", "high", "P3"), ("P1", "high", "P1"), ("P2", "high", "P2"), ("P3", "high", "P3"),
    ("P4", "low", "P4"), ("p5", "low", "P5"), (" P4 ", "low", "P4"),
])
def test_priority_maps_to_urgency_and_is_kept_in_the_facts(priority, urgency, kept):
    body = {"message": "m", **({"priority": priority} if priority is not None else {})}
    event = read("create", body)
    assert (event.urgency, event.facts["priority"]) == (urgency, kept)


@pytest.mark.parametrize("body, field, fault", [
    ({}, "message", "can not be empty"),
    ({"message": "   "}, "message", "can not be empty"),
    ({"message": {"a": 1}}, "message", "should be a string"),
    ({"message": "m", "priority": "P6"}, "priority", "should be one of [ P1, P2, P3, P4, P5 ]"),
    ({"message": "m", "priority": 1}, "priority", "should be one of"),
    ({"message": "m", "tags": "prod"}, "tags", "should be a list of strings"),
    ({"message": "m", "tags": [["x"]]}, "tags", "should be a list of strings"),
    ({"message": "m", "details": ["x"]}, "details", "should be an object"),
    ({"message": "m", "alias": ["x"]}, "alias", "should be a string"),
])
def test_a_create_that_cannot_be_used_is_refused_with_422_naming_the_field(body, field, fault):
    refused = read("create", body)
    assert isinstance(refused, Refused) and refused.status == 422
    assert refused.message == "Request body is not processable. Please check the errors."
    assert fault in refused.errors[field] and list(refused.errors) == [field]
    assert field in refused.text


@pytest.mark.parametrize("text", ["[1, 2]", "not json", '"a string"', "{broken"])
def test_a_body_that_is_not_a_json_object_is_refused_with_400(text):
    refused = read("create", text)
    assert isinstance(refused, Refused) and refused.status == 400 and refused.errors == {}


def test_over_long_values_are_cut_not_refused():
    event = read("create", {"message": "word " * 60, "tags": [f"t{i}" for i in range(30)] + ["x" * 80],
                            "description": "d" * 20000, "entity": "e" * 600})
    assert len(event.title) <= 130 and event.title.endswith("…")  # cut at a word
    assert len(read("create", {"message": "x" * 200}).title) == 130
    assert event.facts["tags"] == [f"t{i}" for i in range(20)]  # Opsgenie's 20
    assert len(event.description) == 15000 and event.description.endswith("…")
    assert len(event.facts["entity"]) == 512
    assert len(read("create", {"message": "m", "tags": ["y" * 80]}).facts["tags"][0]) == 50


def test_numbers_and_booleans_are_read_as_text():
    event = read("create", {"message": 42, "alias": 7.0})
    assert (event.title, event.key) == ("42", "7.0")


@pytest.mark.parametrize("identifier_type, identifier, target", [
    (None, "12", {"incident_id": 12}), ("id", "12", {"incident_id": 12}), ("tiny", "12", {"incident_id": 12}),
    ("ALIAS", "disk-db-1", {"key": "disk-db-1"}), ("alias", "a/b c", {"key": "a/b c"}),
    (None, "8743a1b2-11da-480e-8493-744660987bef", {"incident_id": NO_INCIDENT}),
    ("id", "99999999999999999999", {"incident_id": NO_INCIDENT}), ("tiny", "0", {"incident_id": NO_INCIDENT}),
    ("id", "١٢", {"incident_id": NO_INCIDENT}),  # Arabic-Indic digits are not an id
])
def test_the_identifier_names_an_incident_by_id_tiny_or_alias(identifier_type, identifier, target):
    event = read("close", "", identifier, identifier_type)
    assert (event.act, event.key, event.incident_id) == (Act.RESOLVE, target.get("key"), target.get("incident_id"))


def test_an_unknown_identifier_type_is_refused():
    refused = read("close", {}, "12", "fingerprint")
    assert refused.status == 422 and "identifierType" in refused.errors


def test_each_action_reads_its_own_body():
    close = read("close", {"user": "Monitoring Script", "source": "AWS Lambda", "note": "done"}, "disk", "alias")
    assert (close.act, close.actor, close.note, close.said) == (Act.RESOLVE, "Monitoring Script", "done", "close")
    ack = read("acknowledge", "", "3")
    assert (ack.act, ack.incident_id, ack.note) == (Act.ACKNOWLEDGE, 3, None)
    note = read("notes", {"note": "looking", "user": "ana"}, "3", "tiny")
    assert (note.act, note.note, note.actor) == (Act.NOTE, "looking", "ana")
    message = read("message", {"message": "Disk really full"}, "disk", "alias")
    assert (message.act, message.title) == (Act.RETITLE, "Disk really full")
    description = read("description", {"description": "now 100%"}, "disk", "alias")
    assert (description.act, description.description) == (Act.REDESCRIBE, "now 100%")
    assert read("description", {}, "disk", "alias").description is None  # Alertmanager's empty one clears it


@pytest.mark.parametrize("action, body, field", [
    ("notes", {}, "note"), ("notes", {"note": " "}, "note"), ("message", {}, "message"),
    ("description", {"description": ["x"]}, "description"), ("close", {"user": {"a": 1}}, "user"),
])
def test_an_action_without_what_it_needs_is_refused_naming_the_field(action, body, field):
    refused = read(action, body, "3")
    assert refused.status == 422 and list(refused.errors) == [field]


def outcome(event, **done):
    return ServiceOutcome("checkout-api", 1, done.pop("status", 202), event=f"opsgenie {event}", **done)


@pytest.mark.parametrize("stored, incident_status, acted, expected", [
    (outcome("create", incident=5, created=True, status=201), "triggered", False, ("Create", True, "Created alert")),
    (outcome("create", incident=5, status=208), "triggered", False, ("Create", True, "Alert is open already; its count was increased")),
    (outcome("close", incident=5, resolved_incidents=(5,), status=200), "resolved", False, ("Close", True, "Closed alert")),
    (outcome("close", key="nope"), None, False, ("Close", False, "Alert does not exist")),
    (outcome("close", incident=5), "resolved", False, ("Close", False, "Alert is already closed")),
    (outcome("acknowledge", incident=5), "acknowledged", True, ("Acknowledge", True, "Acknowledged alert")),
    (outcome("acknowledge", incident=5), "acknowledged", False, ("Acknowledge", False, "Alert is already acknowledged")),
    (outcome("acknowledge", incident=5), "resolved", False, ("Acknowledge", False, "Alert is already closed")),
    (outcome("notes", incident=5), "triggered", False, ("AddNote", True, "Added note")),
    (outcome("message", incident=5), "triggered", False, ("UpdateMessage", True, "Updated alert message")),
    (outcome("description", incident=5), "triggered", False, ("UpdateDescription", True, "Updated alert description")),
    (outcome("create", note="maintenance"), None, False, ("Create", True, "Ignored: the service is in maintenance")),
    (outcome("close", note="disabled"), None, False, ("Close", True, "Ignored: the service is disabled")),
    (outcome("create", note="error: boom"), None, False, ("Create", False,
                                                          "Failed: the request could not be applied; the API log keeps it")),
])
def test_request_status_says_what_the_stored_call_did(stored, incident_status, acted, expected):
    assert request_status(stored, incident_status, acted) == expected


def test_a_first_ping_creates_a_ten_minute_heartbeat_that_only_its_own_calls_keep_alive():
    beat = heartbeat("nightly db.backup_1")
    assert (beat.name, beat.every_seconds, beat.grace_seconds, beat.paused) == ("nightly db.backup_1", 600, 0, False)
    [condition] = beat.conditions
    assert (condition.json_key, condition.contains) == (HEARTBEAT_KEY, ("nightly db.backup_1",))


@pytest.mark.parametrize("name", ["", "x" * 65, "a/b", "-lead", "tab\there", "naïve"])
def test_a_heartbeat_name_callgoose_cannot_keep_is_refused(name):
    refused = heartbeat(name)
    assert isinstance(refused, Refused) and refused.status == 422 and "name" in refused.errors
