"""Response targets (issue 20, item 2): missed once per incident and target, with what the
priority says to do; and the issue's acceptance sentence."""

import time
from datetime import timedelta

import pytest
from helpers import ALERTMANAGER, configure, firing, post

from callgoose.engine.priorities import DEFAULTS, Priority, missed_targets

T = 1_800_000_000.0
TABLE = {**DEFAULTS, "P1": Priority("P1", "Critical", "#b3261e", "", "high", 15, 60, "next_level")}


@pytest.mark.parametrize("row, now, expected", [
    ((1, "P1", "triggered", T, False, False), T + 15 * 60 - 1, []),
    ((1, "P1", "triggered", T, False, False), T + 15 * 60, [("acknowledge", 15, "next_level")]),
    ((1, "P1", "triggered", T, True, False), T + 15 * 60, []),  # once
    ((1, "P1", "acknowledged", T, False, False), T + 30 * 60, []),  # acknowledged in time
    ((1, "P1", "triggered", T, True, False), T + 60 * 60, [("resolve", 60, "next_level")]),
    ((1, "P1", "acknowledged", T, True, False), T + 60 * 60, [("resolve", 60, "nothing")]),  # a person owns it
    ((1, "P3", "triggered", T, False, False), T + 86400, []),  # P3 has no targets by default
    ((1, "P9", "triggered", T, False, False), T + 86400, []),  # unknown: none
])
def test_missed_targets(row, now, expected):
    assert [(m.target, m.minutes, m.action) for m in missed_targets([row], TABLE, now)] == expected


def test_the_note_says_which_target():
    from callgoose.engine.notes import Note
    (missed,) = missed_targets([(7, "P1", "triggered", T, False, False)], TABLE, T + 900)
    note = Note("target_missed", target=missed.target, num=missed.minutes, acted=None)
    assert note == "acknowledge target of 15 min missed"
    assert Note("target_missed", target="resolve", num=60, acted="repage") == (
        "resolve target of 60 min missed; the policy is paged again from level 1")


TWO_LEVELS = {
    "users": [{"email": f"{name}@example.com", "contact_methods": [
        {"name": "mail", "type": "email", "address": f"{name}@example.com"}]} for name in ("ana", "bo")],
    "escalation_policies": [{"name": "checkout", "levels": [
        {"escalate_after_minutes": 30, "targets": [{"user": "ana@example.com"}]},
        {"escalate_after_minutes": 30, "targets": [{"user": "bo@example.com"}]}]}],
}
CRITICAL = {"priority_from": "commonLabels.severity", "priority_map": {"critical": "P1", "warning": "P3"}}


def tick(app, now):
    from callgoose.extensions import db
    from callgoose.jobs import JOBS

    with app.app_context():
        for name in ("targets", "escalate"):
            JOBS[name][0](db.engine, app.config, now)


def opened(app, setup, client, on_miss="next_level"):
    configure(app, {**TWO_LEVELS, "priorities": [{"priority": "P1", "acknowledge_minutes": 15,
                                                  "on_missed_target": on_miss}],
                    "services": [{**ALERTMANAGER, "escalation_policy": "checkout",
                                  "trigger": [{**ALERTMANAGER["trigger"][0], **CRITICAL}]}]})
    token = setup.token()
    assert post(client, token, firing("g1", commonLabels={"severity": "critical"})).status_code == 201
    (iid, priority), = setup.query("SELECT id, priority FROM incidents")
    assert priority == "P1"
    return iid


def pages(setup):
    return [tuple(r) for r in setup.query(
        "SELECT n.target, n.level FROM notifications n WHERE n.kind = 'page' ORDER BY n.id")]


def test_acceptance_a_critical_alert_opens_a_p1_counting_down_then_pages_the_next_level(app, admin, setup):
    iid = opened(app, setup, admin)
    now = time.time()
    tick(app, now + 1)
    assert pages(setup) == [("ana@example.com", 0)]
    page = admin.get("/incidents").get_data(as_text=True)
    assert "P1" in page and "data-ago" in page and 'class="target"' in page  # the countdown
    detail = admin.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "Acknowledge target" in detail and "15 min" in detail
    tick(app, now + 14 * 60)
    assert pages(setup) == [("ana@example.com", 0)]  # not yet
    tick(app, now + 16 * 60)
    assert pages(setup) == [("ana@example.com", 0), ("bo@example.com", 1)]  # at once, not after 30 minutes
    tick(app, now + 17 * 60)
    assert len(pages(setup)) == 2  # once
    notes = [r[0] for r in setup.query("SELECT note FROM incident_events WHERE kind = 'target_missed'")]
    assert notes == ["acknowledge target of 15 min missed; the next level is paged now"]
    timeline = admin.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "acknowledge target of 15 min missed; the next level is paged now" in timeline


def test_repage_pages_the_whole_policy_again_from_level_1(app, admin, setup):
    opened(app, setup, admin, on_miss="repage")
    now = time.time()
    tick(app, now + 1)
    tick(app, now + 16 * 60)
    assert pages(setup) == [("ana@example.com", 0), ("ana@example.com", 0)]


def test_an_acknowledged_incident_misses_nothing_and_nothing_leaves_a_note_only(app, admin, setup):
    iid = opened(app, setup, admin, on_miss="nothing")
    now = time.time()
    tick(app, now + 1)
    tick(app, now + 16 * 60)
    assert pages(setup) == [("ana@example.com", 0)]
    assert [r[0] for r in setup.query("SELECT note FROM incident_events WHERE kind = 'target_missed'")] == [
        "acknowledge target of 15 min missed"]
    admin.post(f"/incidents/{iid}/acknowledge")
    tick(app, now + 300 * 60)  # P1's default resolve target (240 min): missed, a note, nobody paged
    assert len(pages(setup)) == 1
    assert len(setup.query("SELECT id FROM incident_events WHERE kind = 'target_missed'")) == 2


# -- for real: a `serve` process with its worker, and `serve --no-worker` beside `flask worker` ----

@pytest.mark.slow
@pytest.mark.parametrize("worker_process", [False, True], ids=["serve", "flask-worker"])
def test_a_missed_target_pages_the_next_level_in_real_processes(make_app, setup_for, database_url, tmp_path,
                                                                 worker_process):
    from pathlib import Path

    from servers import post as post_to
    from servers import running_servers
    from sqlalchemy import select

    from callgoose.extensions import db
    from callgoose.store.models import Incident
    from callgoose.store.transactions import write

    app = make_app(database_url, tmp_path)
    setup = setup_for(app)
    configure(app, {**TWO_LEVELS, "priorities": [{"priority": "P1", "acknowledge_minutes": 15,
                                                  "on_missed_target": "next_level"}],
                    "services": [{**ALERTMANAGER, "escalation_policy": "checkout",
                                  "trigger": [{**ALERTMANAGER["trigger"][0], **CRITICAL}]}]})
    token = setup.token()

    def wait_for(check, what):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"no {what} within 30 s: {pages(setup)}")

    with running_servers(database_url, tmp_path, worker_process=worker_process) as (port,):
        status, _ = post_to(port, token, firing("g1", commonLabels={"severity": "critical"}))
        assert status == 201
        wait_for(lambda: pages(setup) == [("ana@example.com", 0)], "first page")
        def earlier():  # 16 minutes pass unacknowledged (the one way to write: the writers' lock on SQLite)
            incident = db.session.execute(select(Incident)).scalar_one()
            incident.created_at -= timedelta(minutes=16)
        with app.app_context():
            write(earlier)
        wait_for(lambda: len(pages(setup)) == 2, "page of the next level")
    assert pages(setup) == [("ana@example.com", 0), ("bo@example.com", 1)]
    assert [r[0] for r in setup.query("SELECT note FROM incident_events WHERE kind = 'target_missed'")] == [
        "acknowledge target of 15 min missed; the next level is paged now"]
    for log in Path(tmp_path).glob("*.log"):
        text_ = log.read_text()
        assert " ERROR " not in text_ and "Traceback" not in text_, text_[-2000:]


# -- the readiness check -----------------------------------------------------------------------

def test_readiness_flags_a_priority_whose_policy_pages_later_than_its_target(app, admin, setup):
    slow = {**TWO_LEVELS, "users": [{**TWO_LEVELS["users"][0], "notification_rules": [
        {"contact_method": "mail", "after_minutes": 20}]}, TWO_LEVELS["users"][1]]}
    configure(app, {**slow, "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]})
    page = admin.get("/readiness").get_data(as_text=True)
    assert "Acknowledge targets a policy cannot meet" in page
    assert "P1: checkout pages its first reachable person after 20 min, later than its acknowledge target of " \
           "15 min" in page
    assert "P2:" not in page  # 30 minutes: met
    configure(app, {"services": [], "priorities": [{"priority": "P1", "acknowledge_minutes": 25}]})
    assert "P1: checkout" not in admin.get("/readiness").get_data(as_text=True)


def test_readiness_flags_a_policy_that_reaches_nobody_for_a_target(app, admin, setup):
    from callgoose.engine.paging import Policy
    from callgoose.engine.readiness import slow_for_targets

    policy = Policy.from_json({"name": "empty", "repeat": 0, "levels": [
        {"escalate_after_minutes": 5, "targets": [{"user": 1}]}]})
    (found,) = slow_for_targets(T, [policy], [TABLE["P1"]], [], lambda s, at: ())
    assert found.kind == "target" and "pages nobody reachable" in found.text


def test_acknowledged_in_time_then_unacknowledged_misses_no_acknowledge_target(app, admin, setup):
    iid = opened(app, setup, admin)
    now = time.time()
    tick(app, now + 1)
    admin.post(f"/incidents/{iid}/acknowledge")
    admin.post(f"/incidents/{iid}/unacknowledge")  # the policy pages from level 1 again, as before
    tick(app, now + 16 * 60)
    assert setup.query("SELECT id FROM incident_events WHERE kind = 'target_missed'") == []
    assert [level for _who, level in pages(setup)] == [0, 0]  # no next level paged for a missed target
