"""Issue 18: an alert API's event (PagerDuty, Opsgenie) applied through the one path
(services.events), on both databases: the incident changes, maintenance, paging and the API log
exactly as for a call through /v1/process."""

from __future__ import annotations

import json

import pytest
from helpers import as_json, configure, paged_service
from sqlalchemy import text

from callgoose import clock
from callgoose.engine.events import Act, Event, key_text, title_text
from callgoose.extensions import db
from callgoose.services import events
from callgoose.services.ingestion import specs_for
from callgoose.services.tokens import token_by_id
from callgoose.store.transactions import run_read

doc = paged_service  # checkout-api paging Ana by email


@pytest.fixture
def apply(app, setup):
    """Apply an event on checkout-api with its service token; return the result."""
    configure(app, doc())
    setup.token("tool", service="checkout-api")

    def run(event: Event, body: dict | None = None, now: float | None = None):
        with app.app_context():
            token_id = db.session.execute(text("SELECT id FROM api_tokens WHERE name = 'tool'")).scalar_one()
            token = run_read(db.engine, lambda cursor: token_by_id(cursor, token_id))
            spec = specs_for(db.engine, app.extensions["callgoose_specs"], token.service_id)[0]
            raw = json.dumps(body or {"event": event.said}).encode()
            return events.process_event(db.engine, token, spec, event, raw, "application/json", None,
                                        now or clock.now(), 202)
    return run


def opened(key="db-1", title="Disk full", **extra):
    return Event("pagerduty", "trigger", Act.OPEN, key=key, title=title, description="/var at 99%",
                 urgency=extra.pop("urgency", "high"), **extra)


def incidents(setup):
    return setup.query("SELECT id, title, description, status, urgency, mapping_value, duplicate_count, facts "
                       "FROM incidents ORDER BY id")


def test_open_then_duplicate_then_acknowledge_then_resolve_by_key(apply, setup):
    first = apply(opened(facts={"links": [["https://runbooks.example/disk", "Runbook"]]}))
    assert (first.status, first.outcome.created) == (201, True)
    [row] = incidents(setup)
    assert row[1:7] == ("Disk full", "/var at 99%", "triggered", "high", "db-1", 0)
    assert as_json(row[7]) == {"links": [["https://runbooks.example/disk", "Runbook"]]}

    again = apply(opened())
    assert (again.status, again.outcome.incident, again.outcome.created) == (208, row[0], False)
    assert "duplicate of open incident" in str(again.reason)
    assert incidents(setup)[0][6] == 1

    apply(Event("pagerduty", "acknowledge", Act.ACKNOWLEDGE, key="db-1"))
    assert incidents(setup)[0][3] == "acknowledged"
    done = apply(Event("pagerduty", "resolve", Act.RESOLVE, key="db-1"))
    assert (done.status, done.outcome.resolved_incidents) == (200, (row[0],))
    assert incidents(setup)[0][3] == "resolved"

    reopened = apply(opened())  # the key's incident is resolved: a trigger opens a new one
    assert reopened.outcome.created and reopened.outcome.incident != row[0]


def test_every_event_is_in_the_api_log_with_what_it_did_and_the_status_sent(apply, setup):
    result = apply(opened())
    [(status, results, services)] = setup.query("SELECT status, results, services FROM api_calls WHERE id = :id",
                                                id=result.call_id)
    [outcome] = as_json(results)
    assert status == 202  # what the API answers, whatever the event did
    assert (outcome["event"], outcome["key"], outcome["status"], outcome["created"]) == (
        "pagerduty trigger", "db-1", 201, True)
    [(service_id,)] = setup.query("SELECT id FROM services WHERE name = 'checkout-api'")
    assert services == f",{service_id},"


def test_an_event_for_a_key_nobody_has_changes_nothing_and_says_why(apply, setup):
    result = apply(Event("pagerduty", "resolve", Act.RESOLVE, key="nope"))
    assert (result.status, result.found, result.outcome.incident) == (202, False, None)
    assert 'for "nope": no active incident' in str(result.reason)
    assert incidents(setup) == []


def test_maintenance_skips_every_act_and_pages_nobody(app, apply, setup):
    configure(app, doc(maintenance=[{"starts_at": None, "ends_at": None, "tags": [["staging"]]}]))
    skipped = apply(opened(), body={"summary": "Disk full", "tags": ["staging"]})
    assert (skipped.status, skipped.outcome.note) == (202, "maintenance")
    assert incidents(setup) == []
    applied = apply(opened(), body={"summary": "Disk full", "tags": ["production"]})
    assert applied.outcome.created


def test_a_new_incident_pages_its_policy_and_a_duplicate_pages_nobody(apply, setup):
    apply(opened())
    apply(opened())
    rows = setup.query("SELECT kind, channel FROM notifications")
    assert [(kind, channel) for kind, channel in rows if kind == "page"] == [("page", "email")]


def test_note_retitle_and_redescribe_name_the_incident_by_key_or_id(apply, setup):
    incident = apply(opened()).outcome.incident
    apply(Event("opsgenie", "notes", Act.NOTE, key="db-1", note="looking", actor="ana@example.com"))
    apply(Event("opsgenie", "message", Act.RETITLE, incident_id=incident, title="Disk really full"))
    apply(Event("opsgenie", "description", Act.REDESCRIBE, incident_id=incident, description="now 100%"))
    row = incidents(setup)[0]
    assert (row[1], row[2]) == ("Disk really full", "now 100%")
    timeline = setup.query("SELECT kind, note, actor FROM incident_events WHERE incident_id = :id ORDER BY id",
                           id=incident)
    assert ("comment", "looking", "ana@example.com") in timeline
    assert ("retitled", "Disk really full", None) in timeline
    assert ("redescribed", None, None) in timeline


def test_an_incident_of_another_service_is_not_reached_by_id(app, apply, setup):
    configure(app, {"services": [{"name": "other"}]})
    other_token = setup.token("other", service="other")
    assert other_token
    incident = apply(opened()).outcome.incident
    with app.app_context():
        db.session.execute(text("UPDATE incidents SET service_id = (SELECT id FROM services WHERE name = 'other')"))
        db.session.commit()
    result = apply(Event("opsgenie", "close", Act.RESOLVE, incident_id=incident))
    assert (result.found, result.outcome.resolved_incidents) == (False, ())
    assert incidents(setup)[0][3] == "triggered"


def test_a_change_the_database_refuses_keeps_the_call_with_the_error(apply, setup, monkeypatch):
    def broken(self, *args, **kwargs):
        raise ValueError("refused")
    monkeypatch.setattr(events.Changes, "open_or_repeat", broken)
    result = apply(opened())
    assert result.outcome.is_error and "refused" in result.outcome.note
    [(status, error)] = setup.query("SELECT status, error FROM api_calls")
    assert status == 202 and "refused" in error
    assert incidents(setup) == []


@pytest.mark.parametrize("value, expected", [(None, None), ("  k1 ", "k1"), ("", None), (42, "42"),
                                             ({"a": 1}, '{"a":1}'), ("a\x00b", "a\ufffdb")])
def test_keys_are_stored_as_text_trimmed(value, expected):
    assert key_text(value) == expected


def test_titles_are_one_line_and_never_empty():
    assert title_text("a\nb") == "a b"
    assert title_text("x" * 300).endswith("…") and len(title_text("x" * 300)) == 255
    assert title_text("  ") == "Incident from unknown source"
