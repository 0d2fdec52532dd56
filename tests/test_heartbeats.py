"""Heartbeats (issue 10, item 8): expect a call every N minutes (grace M); the worker opens an
incident when none comes, and the next call resolves it."""

import pytest
from helpers import T0, as_json, post

from callgoose.engine import SpecError, parse_config
from callgoose.engine.heartbeat import DOWN, LATE, NEW, UP, check

BACKUP = {
    "name": "backups",
    "trigger": [{"conditions": [{"json_key": "status", "contains": ["failed"]}], "map_incident_with": "job"}],
    "heartbeats": [{"name": "nightly-db", "conditions": [{"json_key": "job", "contains": ["db-backup"]},
                                                         {"json_key": "status", "contains": ["ok"]}],
                    "every_minutes": 60, "grace_minutes": 10}],
}


def test_engine_states():
    assert check(NEW, None, 3600, 600, T0) == (NEW, None)  # not armed before its first call
    assert check(UP, T0, 3600, 600, T0 + 3599) == (UP, T0 + 3600)
    assert check(UP, T0, 3600, 600, T0 + 3600) == (LATE, T0 + 4200)
    assert check(LATE, T0, 3600, 600, T0 + 4200) == (DOWN, None)
    assert check(DOWN, T0, 3600, 600, T0 + 9999) == (DOWN, None)


@pytest.mark.parametrize("change, path, message", [
    ({"every_minutes": 0}, "services[0].heartbeats[0].every_minutes", "from 1 to"),
    ({"grace_minutes": -1}, "services[0].heartbeats[0].grace_minutes", "from 0 to"),
    ({"name": ""}, "services[0].heartbeats[0].name", "letters"),
    ({"paused": "no"}, "services[0].heartbeats[0].paused", "true or false"),
    ({"every": 5}, "services[0].heartbeats[0].every", "unknown field"),
])
def test_the_configuration_is_checked_with_the_path(change, path, message):
    with pytest.raises(SpecError) as caught:
        parse_config({"services": [{**BACKUP, "heartbeats": [{**BACKUP["heartbeats"][0], **change}]}]})
    assert caught.value.path == path and message in caught.value.message




def beat(setup):
    return setup.query("SELECT state, incident_id FROM heartbeats")[0]


def run_worker(app, at):
    from callgoose.extensions import db
    from callgoose.services.heartbeats import run_due
    with app.app_context():
        return run_due(db.engine, at)


def test_a_missed_heartbeat_opens_an_incident_and_the_next_call_resolves_it(app, client, setup, now):
    setup.services(BACKUP)
    token = setup.token("cron")
    assert beat(setup) == ("new", None)
    assert run_worker(app, T0 + 99999) == {}  # not armed: nothing happens
    ok = {"job": "db-backup", "status": "ok"}
    answer = post(client, token, ok)
    assert answer.status_code == 202 and answer.get_json()["reason"] == "heartbeat nightly-db: call received"
    assert beat(setup) == ("up", None)
    now.set(1800)
    post(client, token, ok)  # the same body again within the window: a replay for S27, a call for the heartbeat
    assert run_worker(app, T0 + 1800 + 3600) == {"late": 1}
    assert beat(setup)[0] == "late"
    assert run_worker(app, T0 + 1800 + 4199) == {}
    assert run_worker(app, T0 + 1800 + 4200) == {"down": 1}
    state, incident = beat(setup)
    title, status, mapping = setup.query("SELECT title, status, mapping_value FROM incidents WHERE id = :i", i=incident)[0]
    assert state == "down" and status == "triggered" and mapping == "heartbeat:nightly-db"
    assert title.startswith("Heartbeat nightly-db: no call since ")
    assert run_worker(app, T0 + 99999) == {}  # down: nothing more until a call
    now.set(9000)
    back = post(client, token, ok)
    assert back.status_code == 200  # it resolved the heartbeat's incident
    assert setup.query("SELECT status FROM incidents WHERE id = :i", i=incident) == [("resolved",)]
    assert beat(setup) == ("up", None)
    results = as_json(setup.query("SELECT results FROM api_calls ORDER BY received_at DESC LIMIT 1")[0][0])
    assert results[0]["pings"] == ["nightly-db"] and results[0]["resolved_incidents"] == [incident]


def test_other_calls_do_not_count_and_a_paused_heartbeat_never_opens(app, client, setup, now):
    setup.services(BACKUP)
    token = setup.token("cron")
    post(client, token, {"job": "db-backup", "status": "ok"})
    post(client, token, {"job": "web-backup", "status": "ok"})  # another job: not this heartbeat
    service_id = setup.query("SELECT id FROM services WHERE name = 'backups'")[0][0]
    with app.app_context():
        from callgoose.services.heartbeats import change
        change(service_id, T0 + 60, pause="nightly-db")
    assert beat(setup)[0] == "paused"
    assert run_worker(app, T0 + 99999) == {} and setup.query("SELECT count(*) FROM incidents") == [(0,)]
    with app.app_context():
        change(service_id, T0 + 100000, resume="nightly-db")  # resumed: a full period from now
    assert run_worker(app, T0 + 100000 + 3599) == {}
    assert run_worker(app, T0 + 100000 + 3600 + 600) == {"down": 1}


def test_no_incident_while_the_service_is_in_maintenance_or_disabled(app, client, setup, now):
    setup.services({**BACKUP, "maintenance": [{"starts_at": None, "ends_at": None}]})
    token = setup.token("cron")
    post(client, token, {"job": "db-backup", "status": "ok"})  # counted, even in maintenance
    assert beat(setup)[0] == "up"
    run_worker(app, T0 + 3600)
    assert run_worker(app, T0 + 4200) == {"late": 1} and setup.query("SELECT count(*) FROM incidents") == [(0,)]
    setup.services(BACKUP)  # maintenance over (the import keeps the heartbeat's state)
    assert beat(setup)[0] == "late"
    assert run_worker(app, T0 + 4300) == {"down": 1}


def test_heartbeats_export_and_survive_a_reimport(app, setup):
    from callgoose.services.catalog import current_config
    setup.services(BACKUP)
    with app.app_context():
        [service] = current_config()["services"]
    assert service["heartbeats"] == [{"name": "nightly-db", "conditions": [
        {"json_key": "job", "contains": ["db-backup"], "mode": "all"},
        {"json_key": "status", "contains": ["ok"], "mode": "all"}], "every_minutes": 60, "grace_minutes": 10,
        "paused": False}]
    setup.services({**BACKUP, "heartbeats": []})
    assert setup.query("SELECT count(*) FROM heartbeats") == [(0,)]


def test_the_heartbeat_pages_like_any_incident(make_app, database_url, tmp_path, setup_for, now):
    """The incident a missed heartbeat opens goes through the one change path: it pages."""
    from callgoose.services.catalog import import_config
    app = make_app(database_url, tmp_path)
    setup = setup_for(app)
    with app.app_context():
        import_config({"users": [{"email": "ops@example.com", "contact_methods": [
            {"name": "mail", "type": "email", "address": "ops@example.com"}]}],
            "escalation_policies": [{"name": "ops", "levels": [{"escalate_after_minutes": 5,
                                                                 "targets": [{"user": "ops@example.com"}]}]}],
            "services": [{**BACKUP, "escalation_policy": "ops"}]}, T0)
    token = setup.token("cron")
    with app.test_client() as client:
        post(client, token, {"job": "db-backup", "status": "ok"})
    run_worker(app, T0 + 3600)
    run_worker(app, T0 + 4200)
    assert setup.query("SELECT kind, target FROM notifications") == [("page", "ops@example.com")]


def test_the_service_page_adds_pauses_and_deletes_heartbeats(admin, client, setup, now):
    setup.services({**BACKUP, "heartbeats": []})
    service_id = setup.query("SELECT id FROM services")[0][0]
    page = client.get(f"/services/{service_id}").get_data(as_text=True)
    assert "No heartbeats" in page
    added = client.post(f"/services/{service_id}/heartbeats", data={
        "name": "nightly-db", "json_key": "job", "contains": "db-backup", "every_minutes": "60",
        "grace_minutes": "10"}, follow_redirects=True).get_data(as_text=True)
    assert "Heartbeat added to backups" in added and "none yet: not armed" in added
    bad = client.post(f"/services/{service_id}/heartbeats", data={
        "name": "nightly-db", "json_key": "job", "contains": "x", "every_minutes": "0", "grace_minutes": "1"},
        follow_redirects=True).get_data(as_text=True)
    assert "Heartbeat not added" in bad
    again = client.post(f"/services/{service_id}/heartbeats", data={
        "name": "nightly-db", "json_key": "", "contains": "", "every_minutes": "5", "grace_minutes": "1"},
        follow_redirects=True).get_data(as_text=True)
    assert "&#39;nightly-db&#39; appears twice" in again
    client.post(f"/services/{service_id}/heartbeats/nightly-db/pause")
    assert beat(setup)[0] == "paused"
    client.post(f"/services/{service_id}/heartbeats/nightly-db/resume")
    assert beat(setup)[0] == "up"
    client.post(f"/services/{service_id}/heartbeats/nightly-db/delete")
    assert setup.query("SELECT count(*) FROM heartbeats") == [(0,)]
