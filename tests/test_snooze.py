"""Issue 20, item 3: snooze. An acknowledged incident is quiet for a chosen time (15 min to 24 h),
then triggered again and paged from level 1 of its policy, by the snooze job.

Mail goes to a real SMTP server on loopback; the worker's jobs are called with ``now`` (and, in
one test, run by real ``serve`` and ``flask worker`` processes).
"""

from __future__ import annotations

import threading
import time

import pytest
from helpers import firing, post, resolved
from receivers import links_in, text_of
from test_paging import BASE, TWO_LEVELS, configure, notifications, people

from callgoose import clock
from callgoose.engine.lifecycle import (
    RULES,
    Action,
    TransitionRefused,
    snooze_minutes,
    transition,
)
from callgoose.extensions import db
from callgoose.jobs import deliver, escalate
from callgoose.jobs import snooze as snooze_job
from callgoose.services import snooze as snooze_service
from callgoose.store.hotpath import to_datetime
from callgoose.store.transactions import run_read

HOUR = 3600


def at(stored) -> float:
    """A stored time as read raw (SQLite's text, PostgreSQL's datetime), in epoch seconds."""
    return clock.from_db(to_datetime(stored))


# -- The engine: the transitions and the bounds ------------------------------------------------

def test_only_an_acknowledged_incident_can_be_snoozed():
    assert transition(Action.SNOOZE, "acknowledged") is RULES[Action.SNOOZE]
    for status in ("triggered", "resolved"):
        with pytest.raises(TransitionRefused, match="only an acknowledged incident can be snoozed"):
            transition(Action.SNOOZE, status)


def test_the_end_of_a_snooze_triggers_an_acknowledged_incident_and_leaves_others_alone():
    rule = transition(Action.SNOOZE_ENDED, "acknowledged")
    assert rule.to == "triggered" and set(rule.clears) == {"acknowledged_at", "snoozed_until"}
    assert rule.due == "snoozed_until"  # only once its time has passed, checked by the statement
    assert transition(Action.SNOOZE_ENDED, "triggered") is None
    assert transition(Action.SNOOZE_ENDED, "resolved") is None
    # Unacknowledging a snoozed incident ends its snooze too (a later acknowledge is not snoozed).
    assert "snoozed_until" in RULES[Action.UNACKNOWLEDGE].clears


@pytest.mark.parametrize("value, minutes", [(15, 15), (1440, 1440), ("60", 60), (" 90 ", 90), (79.0, 79)])
def test_a_snooze_is_15_minutes_to_24_hours(value, minutes):
    assert snooze_minutes(value) == minutes


@pytest.mark.parametrize("value", [14, 1441, 0, -30, "abc", "", None, True, 60.5, "1e3", [60], {"m": 1}])
def test_a_snooze_outside_the_bounds_is_refused_with_words(value):
    with pytest.raises(ValueError, match="minutes must be"):
        snooze_minutes(value)


# -- Paging: the snooze job pages level 1 again -------------------------------------------------

def tick(app, now: float) -> None:
    """One worker tick's snooze and paging work at ``now`` (the worker's order)."""
    with app.app_context():
        snooze_job.run(db.engine, app.config, now)
        escalate.run(db.engine, app.config, now)
        deliver.run(db.engine, app.config, now)


def opened(app, setup_for, levels=TWO_LEVELS):
    setup = setup_for(app)
    configure(app, people(levels))
    token = setup.token()
    client = app.test_client()
    assert post(client, token, firing("g1", "CPU high")).status_code == 201
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    return setup, token, client, incident_id


def api(client, token, incident_id, action, body=None):
    return client.post(f"/v1/incidents/{incident_id}/{action}", json=body,
                       headers={"Authorization": f"Bearer {token}"})


def events(setup, incident_id):
    return [tuple(r) for r in setup.query("SELECT kind, actor, note FROM incident_events WHERE incident_id = :id "
                                          "ORDER BY id", id=incident_id)]


def test_a_mail_link_acknowledges_then_snoozes_for_an_hour_and_level_1_is_paged_again(paging_app, setup_for, smtp):
    setup, _, client, incident_id = opened(paging_app, setup_for)
    start = time.time()
    tick(paging_app, start + 1)
    body = text_of(smtp.mailbox.wait(1)[0])
    ack = next(link for link in links_in(body) if "/l/" in link and "Acknowledge" in body.split(link)[0][-20:])
    done = client.post(ack.removeprefix(BASE))
    assert done.status_code == 200 and b"Snooze 1 h" in done.data  # acknowledged: it may be snoozed
    snooze_path = done.get_data(as_text=True).split('action="/l/')[1].split('"')[0]
    asked = client.get(f"/l/{snooze_path}")
    assert asked.status_code == 200 and b"Snooze this incident for an hour?" in asked.data
    snoozed = client.post(f"/l/{snooze_path}")
    assert snoozed.status_code == 200 and b"Snoozed until" in snoozed.data
    assert client.post(f"/l/{snooze_path}").status_code == 410  # once
    status, until = setup.query("SELECT status, snoozed_until FROM incidents")[0]
    assert status == "acknowledged" and abs(at(until) - (start + HOUR)) < 60
    # The link acts as its person, audited as a link's action.
    audited = setup.query("SELECT actor_kind, actor_name, action FROM audit_entries WHERE subject_kind = 'incident' "
                          "ORDER BY id")
    assert [tuple(r) for r in audited] == [("link", "ana@example.com (mail link)", "acknowledge"),
                                           ("link", "ana@example.com (mail link)", "snooze")]

    tick(paging_app, at(until) - 5)  # not yet
    assert setup.query("SELECT status FROM incidents")[0][0] == "acknowledged"
    mails_before = len(smtp.mailbox.messages)
    tick(paging_app, at(until) + 1)  # the snooze ends; level 1 is paged again at once
    tick(paging_app, at(until) + 2)
    mails = smtp.mailbox.wait(mails_before + 1)
    assert mails[-1]["To"] == "ana@example.com" and "CPU high" in mails[-1]["Subject"]
    row = setup.query("SELECT status, acknowledged_at, snoozed_until FROM incidents")[0]
    assert tuple(row) == ("triggered", None, None)
    kinds = events(setup, incident_id)
    assert [k for k, _, _ in kinds] == ["created", "acknowledged", "snoozed", "snooze_ended", "escalated"]
    assert kinds[2][1] == "ana@example.com (mail link)" and kinds[2][2].startswith("until ")
    assert kinds[4][2].startswith("paging again from level 1")
    pages = [n for n in notifications(setup) if n[1] == "page"]
    assert [(n[3], n[7]) for n in pages] == [("ana@example.com", 0), ("ana@example.com", 0)]
    # And the policy goes on from there: level 2 after its 5 minutes.
    tick(paging_app, at(until) + 5 * 60 + 3)
    tick(paging_app, at(until) + 5 * 60 + 4)
    assert [m["To"] for m in smtp.mailbox.wait(mails_before + 2)][-1] == "bo@example.com"


def test_the_api_snoozes_within_bounds_and_409s_in_the_wrong_status(paging_app, setup_for, smtp):
    setup, token, client, incident_id = opened(paging_app, setup_for)
    refused = api(client, token, incident_id, "snooze", {"minutes": 60})
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "only an acknowledged incident can be snoozed"
    assert api(client, token, incident_id, "acknowledge").status_code == 200
    for body in ({"minutes": 14}, {"minutes": 1441}, {"minutes": "soon"}, {}, None, [60], {"minutes": True}):
        bad = api(client, token, incident_id, "snooze", body)
        assert bad.status_code == 400, body
        assert bad.get_json()["error"] and "minutes must be" in bad.get_json()["message"]
    assert setup.query("SELECT snoozed_until FROM incidents")[0][0] is None  # nothing changed
    before = time.time()
    good = api(client, token, incident_id, "snooze", {"minutes": 15})
    assert good.status_code == 200
    answer = good.get_json()
    assert answer["status"] == "acknowledged"
    stamp = answer["snoozed_until"]
    assert stamp.endswith("Z")
    assert before + 15 * 60 - 2 <= time_of(stamp) <= time.time() + 15 * 60 + 2
    again = api(client, token, incident_id, "snooze", {"minutes": 1440})  # snoozing again sets a new time
    assert again.status_code == 200 and time_of(again.get_json()["snoozed_until"]) > time_of(stamp) + 23 * HOUR
    assert client.get(f"/v1/incidents/{incident_id}", headers={"Authorization": f"Bearer {token}"}
                      ).get_json()["snoozed_until"] == again.get_json()["snoozed_until"]
    assert api(client, token, 999999, "snooze", {"minutes": 60}).status_code == 404
    audited = setup.query("SELECT actor_kind, action, changes FROM audit_entries WHERE subject_kind = 'incident' "
                          "AND action = 'snooze' ORDER BY id")
    assert len(audited) == 2 and audited[0][0] == "token"


def time_of(stamp: str) -> float:
    from datetime import datetime, timezone
    return datetime.fromisoformat(stamp.removesuffix("Z")).replace(tzinfo=timezone.utc).timestamp()


def test_a_resolve_during_a_snooze_ends_it_and_a_repeat_keeps_it(paging_app, setup_for, smtp):
    setup, token, client, incident_id = opened(paging_app, setup_for)
    start = time.time()
    tick(paging_app, start + 1)
    smtp.mailbox.wait(1)
    assert api(client, token, incident_id, "acknowledge").status_code == 200
    assert api(client, token, incident_id, "snooze", {"minutes": 30}).status_code == 200
    assert post(client, token, firing("g1", "CPU higher")).status_code == 208  # a repeat (S26): still snoozed
    row = setup.query("SELECT status, duplicate_count, snoozed_until FROM incidents")[0]
    assert row[0] == "acknowledged" and row[1] == 1 and row[2] is not None
    tick(paging_app, start + 60)
    assert setup.query("SELECT status FROM incidents")[0][0] == "acknowledged"
    assert post(client, token, resolved("g1")).status_code == 200  # the tool resolves it
    assert setup.query("SELECT status FROM incidents")[0][0] == "resolved"
    pages = len([n for n in notifications(setup) if n[1] == "page"])
    tick(paging_app, start + 31 * 60)  # past the snooze: nothing wakes
    tick(paging_app, start + 32 * 60)
    assert setup.query("SELECT status FROM incidents")[0][0] == "resolved"
    assert len([n for n in notifications(setup) if n[1] == "page"]) == pages
    assert "snooze_ended" not in [k for k, _, _ in events(setup, incident_id)]
    assert "snoozed_until" not in client.get(f"/v1/incidents/{incident_id}",
                                             headers={"Authorization": f"Bearer {token}"}).get_json()
    assert api(client, token, incident_id, "snooze", {"minutes": 60}).status_code == 409


def test_unacknowledging_ends_the_snooze(paging_app, setup_for, smtp, add_user, sign_in):
    setup, token, client, incident_id = opened(paging_app, setup_for)
    assert api(client, token, incident_id, "acknowledge").status_code == 200
    assert api(client, token, incident_id, "snooze", {"minutes": 60}).status_code == 200
    browser = paging_app.test_client()
    sign_in(browser, *add_user(paging_app, "resp@example.com", admin=False))
    browser.post(f"/incidents/{incident_id}/unacknowledge")
    assert tuple(setup.query("SELECT status, snoozed_until FROM incidents")[0]) == ("triggered", None)
    browser.post(f"/incidents/{incident_id}/acknowledge")  # acknowledged again: not snoozed
    tick(paging_app, time.time() + 2 * HOUR)
    assert setup.query("SELECT status FROM incidents")[0][0] == "acknowledged"


# -- The dashboard ------------------------------------------------------------------------------

def test_the_incident_page_snoozes_by_choice_or_minutes_and_says_until_when_in_the_reader_s_zone(
        paging_app, setup_for, smtp, add_user, sign_in):
    setup, token, client, incident_id = opened(paging_app, setup_for)
    browser = paging_app.test_client()
    sign_in(browser, *add_user(paging_app, "resp@example.com", admin=False))
    with paging_app.app_context():
        db.session.execute(db.text("UPDATE users SET time_zone = 'Asia/Tokyo' WHERE email = 'resp@example.com'"))
        db.session.commit()
    page = browser.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'name="minutes"' not in page  # triggered: no snooze form
    refused = browser.post(f"/incidents/{incident_id}/snooze", data={"minutes": "60"}, follow_redirects=True)
    assert "Only an acknowledged incident can be snoozed." in refused.get_data(as_text=True)
    browser.post(f"/incidents/{incident_id}/acknowledge")
    page = browser.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'name="minutes"' in page and 'name="custom"' in page
    for choice in ("15 minutes", "30 minutes", "1 hour", "2 hours", "4 hours", "8 hours", "24 hours"):
        assert f">{choice}</option>" in page
    bad = browser.post(f"/incidents/{incident_id}/snooze", data={"minutes": "60", "custom": "5"},
                       follow_redirects=True)
    assert "Snooze for 15 minutes to 24 hours (1440 minutes)." in bad.get_data(as_text=True)
    assert setup.query("SELECT snoozed_until FROM incidents")[0][0] is None
    before = time.time()
    browser.post(f"/incidents/{incident_id}/snooze", data={"minutes": "120"})
    until = at(setup.query("SELECT snoozed_until FROM incidents")[0][0])
    assert before + 2 * HOUR - 2 <= until <= time.time() + 2 * HOUR + 2
    browser.post(f"/incidents/{incident_id}/snooze", data={"minutes": "120", "custom": "45"})  # custom wins
    until = at(setup.query("SELECT snoozed_until FROM incidents")[0][0])
    assert until <= time.time() + 45 * 60 + 2
    page = browser.get(f"/incidents/{incident_id}").get_data(as_text=True)
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    local = datetime.fromtimestamp(until, timezone.utc).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"snoozed until {local:%a %d %b %Y %H:%M} JST: then it is triggered again" in page
    assert f"<blockquote>until {local:%Y-%m-%d %H:%M} JST</blockquote>" in page  # the timeline's entry
    audited = setup.query("SELECT actor_kind, actor_name, action FROM audit_entries WHERE action = 'snooze'")
    assert [tuple(r) for r in audited] == [("user", "resp@example.com", "snooze")] * 2


def test_a_viewer_cannot_snooze_from_the_dashboard(paging_app, setup_for, smtp, add_user, sign_in):
    setup, token, client, incident_id = opened(paging_app, setup_for)
    assert api(client, token, incident_id, "acknowledge").status_code == 200
    viewer = paging_app.test_client()
    sign_in(viewer, *add_user(paging_app, "viewer@example.com", role="viewer"))
    assert 'name="minutes"' not in viewer.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert viewer.post(f"/incidents/{incident_id}/snooze", data={"minutes": "60"}).status_code == 403
    assert setup.query("SELECT snoozed_until FROM incidents")[0][0] is None


# -- Exactly once ------------------------------------------------------------------------------

@pytest.mark.postgres
def test_two_workers_waking_at_once_wake_each_incident_once(paging_app, setup_for, smtp, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers on PostgreSQL (SQLite's writers take turns on its lock file)")
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    token = setup.token()
    client = paging_app.test_client()
    for i in range(30):
        assert post(client, token, firing(f"g{i}", f"alert {i}")).status_code == 201
    ids = [r[0] for r in setup.query("SELECT id FROM incidents ORDER BY id")]
    for incident_id in ids:
        assert api(client, token, incident_id, "acknowledge").status_code == 200
        assert api(client, token, incident_id, "snooze", {"minutes": 15}).status_code == 200
    later = time.time() + 16 * 60
    with paging_app.app_context():
        assert len(run_read(db.engine, lambda cursor: snooze_service.due(cursor, later))) == 30
    woke, barrier = [], threading.Barrier(2)

    def worker():
        with paging_app.app_context():
            barrier.wait()
            woke.append(snooze_service.wake_due(db.engine, later))
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(woke) == 30, woke
    ended = setup.query("SELECT incident_id, count(*) FROM incident_events WHERE kind = 'snooze_ended' "
                        "GROUP BY incident_id")
    assert sorted(r[0] for r in ended) == ids and {r[1] for r in ended} == {1}
    assert {r[0] for r in setup.query("SELECT status FROM incidents")} == {"triggered"}
    with paging_app.app_context():
        escalate.run(db.engine, paging_app.config, later)
    again = setup.query("SELECT incident_id, count(*) FROM notifications WHERE kind = 'page' GROUP BY incident_id")
    assert {r[1] for r in again} == {2}  # the first page and one more, never two more



# -- In real processes: `serve` takes the calls, `flask worker` wakes and pages ------------------

def passes(app, *more: str) -> None:
    """Twenty minutes pass (the clock of processes cannot be moved): the mail's one-a-minute limit
    is over, and ``more`` statements make other times past (``:past``)."""
    with app.app_context():
        db.session.execute(db.text("UPDATE contact_methods SET last_sent_at = :past WHERE last_sent_at IS NOT NULL"),
                           {"past": clock.to_db(time.time() - 20 * 60)})
        for statement in more:
            db.session.execute(db.text(statement), {"past": clock.to_db(time.time() - 1)})
        db.session.commit()


def sent_pages(setup):
    return [n for n in notifications(setup) if n[1] == "page" and n[4] == "sent"]


@pytest.mark.slow
def test_a_real_server_and_worker_snooze_and_page_level_1_again(paging_app, setup_for, smtp, database_url, tmp_path):
    """The alert, the acknowledge and the snooze go to a `serve` process over HTTP; the snooze's
    time is then made past (the clock cannot wait 15 minutes), and a `flask worker` process wakes
    the incident and pages level 1 again by mail. Neither log has an error."""
    from servers import free_port, start_server, start_worker
    from servers import post as http_post

    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    token = setup.token()
    env = {"CALLGOOSE_SMTP_HOST": "127.0.0.1", "CALLGOOSE_SMTP_PORT": str(smtp.port),
           "CALLGOOSE_MAIL_FROM": "pager@callgoose.test", "CALLGOOSE_BASE_URL": BASE,
           "CALLGOOSE_WORKER_TICK_SECONDS": "1"}
    port = free_port()
    server = start_server(database_url, tmp_path, port, 4, "--no-worker", **env)
    worker = start_worker(database_url, tmp_path, **env)
    try:
        assert http_post(port, token, firing("g1", "CPU high"))[0] == 201
        incident_id = setup.query("SELECT id FROM incidents")[0][0]
        smtp.mailbox.wait(1, timeout=30)
        passes(paging_app)
        assert http_post(port, token, {}, f"/v1/incidents/{incident_id}/acknowledge")[0] == 200
        smtp.mailbox.wait(2, timeout=30)  # Ana hears it was acknowledged (by the token)
        status, answer = http_post(port, token, {"minutes": 15}, f"/v1/incidents/{incident_id}/snooze")
        assert status == 200 and answer["snoozed_until"].endswith("Z")
        time.sleep(2.5)  # a few ticks: nothing happens while it is snoozed
        assert setup.query("SELECT status FROM incidents")[0][0] == "acknowledged"
        assert len(smtp.mailbox.messages) == 2
        passes(paging_app, "UPDATE incidents SET snoozed_until = :past")
        mails = smtp.mailbox.wait(3, timeout=30)
    finally:
        for proc in (server, worker):
            proc.terminate()
        assert server.wait(15) == 0 and worker.wait(15) == 0
    assert [m["To"] for m in mails] == ["ana@example.com"] * 3
    assert "Acknowledged by" in mails[1]["Subject"]
    assert mails[2]["Subject"] == mails[0]["Subject"] == "[Callgoose] P2 HIGH checkout-api: CPU high"
    assert [(n[3], n[7]) for n in sent_pages(setup)] == [("ana@example.com", 0), ("ana@example.com", 0)]
    assert setup.query("SELECT status FROM incidents")[0][0] == "triggered"
    kinds = [k for k, _, _ in events(setup, incident_id)]
    assert kinds == ["created", "acknowledged", "snoozed", "snooze_ended", "escalated"]
    for name in ("worker.log", f"server-{port}.log"):
        log = (tmp_path / name).read_text(errors="replace")
        assert " ERROR " not in log and "Traceback" not in log, log[-2000:]
