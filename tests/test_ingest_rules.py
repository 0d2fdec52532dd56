"""What services do with calls, over HTTP (S20-S33), with the clock in the test's hands."""

import json

import pytest
from helpers import ALERTMANAGER, NOTHING, T0, as_json, firing, flags, post, resolved
from sqlalchemy.exc import OperationalError

from callgoose import clock


@pytest.fixture
def token(setup, now):
    setup.services(ALERTMANAGER)
    return setup.token("alertmanager")


def incidents(setup):
    return setup.query("SELECT status, mapping_value, duplicate_count, title FROM incidents ORDER BY id")


def test_s20_s21_s22_s23_incident_fields(client, setup, token):
    assert post(client, token, firing(summary="Disk full"), query="?from=prometheus").status_code == 201
    row = setup.query("SELECT title, description, urgency, status, mapping_value, created_by_call FROM incidents")[0]
    assert row[:5] == ("prometheus - Disk full", "cpu at 99%", "high", "triggered", "g1")
    assert row.created_by_call == setup.query("SELECT id FROM api_calls")[0][0]


def test_s23_no_mapping_value_means_every_call_opens_its_own_incident(client, setup, now):
    setup.services({"name": "cron", "trigger": [{"map_incident_with": "job"}]})
    token = setup.token()
    assert post(client, token, "backup failed", content_type="text/plain").status_code == 201
    assert post(client, token, "backup failed again", content_type="text/plain").status_code == 201
    assert [r[1] for r in incidents(setup)] == [None, None]


def test_s24_resolve_closes_every_active_incident_with_the_value(client, setup, token):
    opened = post(client, token, firing("g1")).get_json()["id"]
    post(client, token, firing("g2"))
    response = post(client, token, resolved("g1"))
    assert response.status_code == 200
    assert flags(response) == {"resolved": {"duplicate": False, "resolved": True},
                               "triggered": {"duplicate": False, "created": False}}
    assert [r[:2] for r in incidents(setup)] == [("resolved", "g1"), ("triggered", "g2")]
    assert setup.query("SELECT kind, api_call_id FROM incident_events WHERE incident_id = 1 ORDER BY id") == [
        ("created", opened), ("resolved", response.get_json()["id"])]


def test_s24_mapping_values_compare_exactly_and_case_sensitively(client, setup, token):
    post(client, token, firing("G1"))
    assert post(client, token, resolved("g1")).status_code == 202
    assert incidents(setup)[0][0] == "triggered"


def test_s24_acknowledged_incidents_are_resolved_too(app, client, setup, token):
    post(client, token, firing())
    from callgoose.extensions import db
    with app.app_context():
        db.session.execute(db.text("UPDATE incidents SET status = 'acknowledged'"))
        db.session.commit()
    assert post(client, token, resolved()).status_code == 200


def test_s24_resolve_with_nothing_active_is_202(client, token):
    response = post(client, token, resolved("never-seen"))
    assert response.status_code == 202
    assert flags(response) == NOTHING


BOTH = {"name": "both",
        "trigger": [{"conditions": [{"json_key": "state", "contains": ["down"]}], "map_incident_with": "host"}],
        "resolve": [{"conditions": [{"json_key": "state", "contains": ["down"]}], "incident_mapped_with": "host"}]}


def test_s25_resolve_side_runs_first_and_never_resolves_the_new_incident(client, setup, now):
    setup.services(BOTH)
    token = setup.token()
    response = post(client, token, {"state": "down", "host": "db1"})
    assert response.status_code == 201
    assert flags(response)["resolved"]["resolved"] is False
    now.set(1000)
    response = post(client, token, {"state": "down", "host": "db1", "n": 2})
    assert response.status_code == 201
    assert flags(response) == {"resolved": {"duplicate": False, "resolved": True},
                               "triggered": {"duplicate": False, "created": True}}
    assert [r[:2] for r in incidents(setup)] == [("resolved", "db1"), ("triggered", "db1")]


def test_s26_open_incident_with_the_same_mapping_value_is_a_duplicate(client, setup, token, now):
    assert post(client, token, firing(summary="first")).status_code == 201
    now.set(10)
    response = post(client, token, firing(summary="second"))  # another body, same groupKey
    assert response.status_code == 208
    assert flags(response) == {"resolved": {"duplicate": False, "resolved": False},
                               "triggered": {"duplicate": True, "created": False}}
    assert incidents(setup) == [("triggered", "g1", 1, "first")]
    assert setup.query("SELECT last_seen_at > created_at FROM incidents")[0][0]
    # The repeat is counted on the incident, with its time; the timeline holds no row per repeat.
    assert [r[0] for r in setup.query("SELECT kind FROM incident_events ORDER BY id")] == ["created"]
    assert setup.query("SELECT first_repeat_at = last_seen_at FROM incidents")[0][0]


def test_s26_after_resolve_the_same_mapping_opens_a_new_incident(client, setup, token, now):
    post(client, token, firing())
    now.set(1)
    post(client, token, resolved())
    now.set(2)
    assert post(client, token, firing(summary="again")).status_code == 201
    assert [r[0] for r in incidents(setup)] == ["resolved", "triggered"]


def test_s27_replay_within_the_window_changes_nothing(client, setup, token, now):
    first = post(client, token, firing())
    now.set(299.9)
    replay = post(client, token, firing())
    assert replay.status_code == 208
    assert flags(replay)["triggered"] == {"duplicate": True, "created": False}
    assert replay.get_json()["id"] != first.get_json()["id"]
    assert incidents(setup) == [("triggered", "g1", 0, "CPU high")]  # no duplicate count for a replay
    assert len(setup.query("SELECT id FROM incident_events")) == 1
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == 2  # every call is still logged


def test_s27_the_window_slides_with_each_replay(client, setup, token, now):
    post(client, token, firing())
    for offset in (200, 400, 600):  # each less than 300 s after the one before
        now.set(offset)
        assert post(client, token, firing()).status_code == 208
    assert incidents(setup)[0][2] == 0
    now.set(900.0)  # exactly 300 s later: not a replay, processed; the incident is open: S26
    assert post(client, token, firing()).status_code == 208
    assert incidents(setup)[0][2] == 1


def test_s27_flap_down_up_down_is_processed_every_time(client, setup, token, now):
    assert post(client, token, firing()).status_code == 201
    now.set(1)
    assert post(client, token, resolved()).status_code == 200
    now.set(2)
    assert post(client, token, firing()).status_code == 201
    assert [r[0] for r in incidents(setup)] == ["resolved", "triggered"]


def test_s27_repeated_resolve_is_a_resolve_side_duplicate(client, token, now):
    post(client, token, firing())
    assert post(client, token, resolved()).status_code == 200
    response = post(client, token, resolved())
    assert response.status_code == 208
    assert flags(response) == {"resolved": {"duplicate": True, "resolved": False},
                               "triggered": {"duplicate": False, "created": False}}


def test_s27_calls_on_which_no_rule_held_are_not_remembered(client, setup, token):
    for _ in range(2):
        assert post(client, token, {"status": "unknown"}).status_code == 202
    assert setup.query("SELECT count(*) FROM replay_markers")[0][0] == 0


def test_s27_none_is_a_subject_like_any_other(client, setup, now):
    setup.services({"name": "cron", "trigger": [{"map_incident_with": "job"}]})
    token = setup.token()
    assert post(client, token, "backup failed", content_type="text/plain").status_code == 201
    assert post(client, token, "backup failed", content_type="text/plain").status_code == 208
    assert post(client, token, "disk failed", content_type="text/plain").status_code == 201
    assert len(incidents(setup)) == 2


def test_s27_window_per_service_and_per_deployment(make_app, setup_for, tmp_path, monkeypatch):

    monkeypatch.setattr(clock, "now", lambda: T0)
    app = make_app(f"sqlite:///{tmp_path / 'w.sqlite'}", tmp_path, DUPLICATE_WINDOW_SECONDS=10)
    s = setup_for(app)
    s.services({"name": "deployment", "trigger": [{}]},
               {"name": "own", "duplicate_window_seconds": 100, "trigger": [{}]})
    d, o = s.token("d", service="deployment"), s.token("o", service="own")
    with app.test_client() as c:
        assert post(c, d, "x").status_code == 201 and post(c, o, "x").status_code == 201
        monkeypatch.setattr(clock, "now", lambda: T0 + 50)
        assert post(c, d, "x").status_code == 201  # 50 >= 10: processed, no mapping: new incident
        assert post(c, o, "x").status_code == 208  # 50 < 100: replay


def test_s29_disabled_service_token_gets_202_and_the_call_is_logged(client, setup):
    setup.services({"name": "off", "enabled": False, "trigger": [{}]})
    response = post(client, setup.token(service="off"), firing())
    assert response.status_code == 202 and flags(response) == NOTHING
    assert as_json(setup.query("SELECT results FROM api_calls")[0][0])[0]["note"] == "disabled"


def test_s29_maintenance_suppresses_and_records_the_rule_that_would_have_held(client, setup, now):
    window = {"starts_at": None, "ends_at": clock_iso(T0 + 100), "tags": [["staging"]]}
    setup.services({**ALERTMANAGER, "maintenance": [window]})
    token = setup.token()
    staging = firing(env="staging")
    assert post(client, token, staging).status_code == 202
    assert post(client, token, staging).status_code == 202  # nothing remembered: not a replay
    assert post(client, token, firing("prod-1")).status_code == 201  # tags do not match
    result = as_json(setup.query("SELECT results FROM api_calls ORDER BY received_at")[0][0])[0]
    assert result["note"] == "maintenance" and result["trigger"]["rule"] == 0
    now.set(100)  # maintenance over: the same notification is processed normally
    assert post(client, token, staging).status_code == 201


def test_s29_scheduled_window_starts_later(client, setup, now):
    window = {"starts_at": clock_iso(T0 + 60), "ends_at": None}
    setup.services({**ALERTMANAGER, "maintenance": [window]})
    token = setup.token()
    assert post(client, token, firing("a")).status_code == 201
    now.set(60)
    assert post(client, token, firing("b")).status_code == 202


def clock_iso(epoch):
    from callgoose.engine.config import format_time
    return format_time(epoch)


def test_s32_failed_write_stores_nothing_and_the_retry_is_processed(client, setup, token, monkeypatch):
    import callgoose.services.ingestion as pipeline

    def broken(*args):
        raise OperationalError("UPDATE api_tokens", {}, Exception("disk I/O error"))

    monkeypatch.setattr(pipeline, "touch_token", broken)  # fails after the incident was written
    response = post(client, token, firing())
    assert response.status_code == 500
    assert response.get_json()["error"] == "temporary" and "try again" in response.get_json()["message"]
    for table in ("api_calls", "incidents", "incident_events", "replay_markers"):
        assert setup.query(f"SELECT count(*) FROM {table}")[0][0] == 0, table
    monkeypatch.undo()
    assert post(client, token, firing()).status_code == 201  # never a 208 for an uncommitted call


def test_s32_transient_failure_is_retried_inside_the_request(client, setup, token, monkeypatch):
    import callgoose.services.ingestion as pipeline
    real, failures = pipeline.touch_token, []

    def flaky(*args):
        if not failures:
            failures.append(1)
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return real(*args)

    monkeypatch.setattr(pipeline, "touch_token", flaky)
    assert post(client, token, firing()).status_code == 201
    assert len(incidents(setup)) == 1


def test_s32_a_rule_that_cannot_be_evaluated_is_recorded_and_answered_202(client, setup, token, monkeypatch):
    import callgoose.services.ingestion as pipeline

    def bug(*args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(pipeline, "evaluate", bug)
    response = post(client, token, firing())
    assert response.status_code == 202
    status, error, payload = setup.query("SELECT status, error, text FROM api_calls JOIN payloads ON digest = payload_digest")[0]
    assert status == 202 and "ZeroDivisionError: boom" in error and json.loads(payload) == firing()


def test_s33_api_log_records_every_authenticated_call(client, setup, token):
    response = post(client, token, firing(), query="?from=prom")
    call = setup.query("SELECT api_calls.*, text AS payload FROM api_calls "
                       "JOIN payloads ON digest = payload_digest")[0]._mapping
    assert call["id"] == response.get_json()["id"]
    assert (call["token_name"], call["source"], call["content_type"], call["status"]) == (
        "alertmanager", "prom", "application/json", 201)
    assert call["size"] == len(json.dumps(firing())) and json.loads(call["payload"]) == firing()
    assert call["received_at"] is not None and call["token_id"] is not None
    result, = as_json(call["results"])
    assert result["service"] == "checkout-api" and result["status"] == 201
    assert result["trigger"]["rule"] == 0 and result["incident"] == 1
    no_match = post(client, token, {"status": "pending"})
    result, = as_json(setup.query("SELECT results FROM api_calls WHERE id = :id",
                                     id=no_match.get_json()["id"])[0][0])
    # stored as message ids with values (issue 21): worded in the reader's language when shown
    assert result["misses"] == [
        {"kind": "resolve", "rule": 0, "condition": 0, "json_key": "status",
         "reason": {"msgid": 'value does not contain "%(item)s"', "values": {"item": "resolved"}},
         "need": {"msgid": "%(key)s to contain %(items)s", "values": {"key": "status", "items": '"resolved"'}},
         "value": "pending"},
        {"kind": "trigger", "rule": 0, "condition": 0, "json_key": "status",
         "reason": {"msgid": 'value does not contain "%(item)s"', "values": {"item": "firing"}},
         "need": {"msgid": "%(key)s to contain %(items)s", "values": {"key": "status", "items": '"firing"'}},
         "value": "pending"}]
    assert no_match.get_json()["reason"] == 'no trigger rule held: rule 1 needs status to contain "firing" (value "pending")'



def test_s33_deleting_old_calls_never_breaks_open_incident_dedup(client, setup, app, token, now):
    post(client, token, firing())
    from callgoose.extensions import db
    with app.app_context():
        db.session.execute(db.text("DELETE FROM api_calls"))
        db.session.commit()
    now.set(1000)
    assert post(client, token, firing(summary="later")).status_code == 208
    assert incidents(setup)[0][2] == 1
