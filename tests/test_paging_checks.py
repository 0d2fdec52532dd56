"""Issue 11, items 9 and 10 and the low item on replays: verification codes and test
notifications are rate-limited per contact method and per person (in the database, so
presses at once cannot all pass), a code takes at most five wrong attempts, a voice
method's code and test calls say what they are, and a signed Twilio keypress or SMS reply
acts once per ``CallSid``/``MessageSid``.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from helpers import firing, post
from receivers import text_of
from test_paging import BASE, TWO_LEVELS, configure, people, rows, run_jobs

from callgoose import clock
from callgoose.extensions import db
from callgoose.services import checks, incidents

# ---- the rule itself, without a database ------------------------------------------------


def test_a_limit_admits_its_burst_then_one_every_step():
    from callgoose.engine.paging import METHOD_LIMIT, PERSON_LIMIT
    limit = PERSON_LIMIT  # 10 at once, then one every 6 minutes
    tat, admitted = None, []
    for i in range(12):
        ok, tat_after = limit.admit(tat, 1000.0)
        admitted.append(ok)
        tat = tat_after if ok else tat
    assert admitted == [True] * 10 + [False] * 2
    assert limit.wait(tat, 1000.0) == 360 and limit.wait(tat, 1000.0 + 400) == 0
    assert limit.admit(tat, 1000.0 + 359)[0] is False and limit.admit(tat, 1000.0 + 360)[0] is True
    assert METHOD_LIMIT.admit(None, 0)[0] and not METHOD_LIMIT.admit(METHOD_LIMIT.admit(None, 0)[1], 59)[0]


def test_calls_are_limited_more_strictly_than_messages():
    from callgoose.engine.paging import METHOD_LIMIT, PERSON_CALL_LIMIT, PERSON_LIMIT, VOICE_METHOD_LIMIT, check_limits
    assert [scope for scope, _ in check_limits(False)] == ["method", "person"]
    assert dict(check_limits(True)) == {"method": VOICE_METHOD_LIMIT, "person": PERSON_LIMIT,
                                           "person-calls": PERSON_CALL_LIMIT}
    assert VOICE_METHOD_LIMIT.step > METHOD_LIMIT.step and PERSON_CALL_LIMIT.count < PERSON_LIMIT.count


def test_a_wait_is_worded_in_seconds_or_minutes():
    from callgoose.engine.paging import wait_words
    assert wait_words(0.2) == "a second" and wait_words(42.1) == "43 seconds" and wait_words(300) == "5 minutes"


# ---- through the dashboard ------------------------------------------------------------------

def _method_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="method-(\d+)"', page)]


def _checks_queued(setup) -> int:
    return rows(setup, "SELECT count(*) FROM notifications WHERE kind IN ('verify', 'test')")[0][0]


@pytest.fixture
def at(monkeypatch):
    """The dashboard's clock, moved by hand: ``at[0]``."""
    moment = [time.time()]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


def test_codes_and_tests_are_limited_per_method_with_a_clear_refusal(paging_app, setup_for, add_user, sign_in, at):
    setup = setup_for(paging_app)
    email, password = add_user(paging_app, "fay@example.com", admin=False)
    client = paging_app.test_client()
    sign_in(client, email, password)
    method_id = _method_ids(client.get("/notifications/me").get_data(as_text=True))[0]
    page = client.post(f"/notifications/me/methods/{method_id}/code", follow_redirects=True).get_data(as_text=True)
    assert "Code queued" in page
    page = client.post(f"/notifications/me/methods/{method_id}/test", follow_redirects=True).get_data(as_text=True)
    assert "Not sent: each contact method gets at most one code or test a minute." in page
    assert "You can send the next one in 60 seconds." in page and "Test notification queued" not in page
    at[0] += 30
    page = client.post(f"/notifications/me/methods/{method_id}/code", follow_redirects=True).get_data(as_text=True)
    assert "in 30 seconds" in page
    assert _checks_queued(setup) == 1
    at[0] += 31
    page = client.post(f"/notifications/me/methods/{method_id}/test", follow_redirects=True).get_data(as_text=True)
    assert "Test notification queued" in page and _checks_queued(setup) == 2


def test_a_person_gets_at_most_ten_at_once_across_methods(paging_app, setup_for, add_user, sign_in, at):
    setup = setup_for(paging_app)
    email, password = add_user(paging_app, "gil@example.com", admin=False)
    client = paging_app.test_client()
    sign_in(client, email, password)
    for i in range(11):
        client.post("/notifications/me/methods", data={"name": f"mail {i}", "type": "email",
                                                       "address": f"gil+{i}@example.com"})
    ids = _method_ids(client.get("/notifications/me").get_data(as_text=True))
    assert len(ids) == 12
    answers = [client.post(f"/notifications/me/methods/{m}/test", follow_redirects=True).get_data(as_text=True)
               for m in ids[:11]]
    assert all("Test notification queued" in a for a in answers[:10])
    assert "a person gets at most 10 codes and tests at once, then one every 6 minutes" in answers[10]
    assert "You can send the next one in 6 minutes." in answers[10]
    assert _checks_queued(setup) == 10
    at[0] += 6 * 60
    assert "Test notification queued" in client.post(f"/notifications/me/methods/{ids[11]}/test",
                                                     follow_redirects=True).get_data(as_text=True)


def test_presses_at_the_same_moment_queue_one(paging_app, setup_for, add_user):
    """Eight threads press "send a test" on one method at once: the database lets one through
    (on PostgreSQL the presses run truly at once, each on its own connection)."""
    setup = setup_for(paging_app)
    add_user(paging_app, "hal@example.com", admin=False)
    user_id, method_id = rows(setup, "SELECT u.id, m.id FROM users u JOIN contact_methods m ON m.user_id = u.id "
                                     "WHERE u.email = 'hal@example.com'")[0]
    start = threading.Barrier(8)
    results, problems = [], []
    now = time.time()

    def press():
        try:
            with paging_app.app_context():
                start.wait(timeout=10)
                results.append(checks.send_test(user_id, method_id, now).refused is None)
        except Exception as exc:  # pragma: no cover - reported below
            problems.append(repr(exc))
    threads = [threading.Thread(target=press) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert problems == [] and sorted(results) == [False] * 7 + [True]
    assert _checks_queued(setup) == 1


def test_a_code_is_void_after_five_wrong_attempts(paging_app, setup_for, smtp, add_user, sign_in, at):
    setup = setup_for(paging_app)
    email, password = add_user(paging_app, "ida@example.com", admin=False)
    client = paging_app.test_client()
    sign_in(client, email, password)
    method_id = _method_ids(client.get("/notifications/me").get_data(as_text=True))[0]
    client.post(f"/notifications/me/methods/{method_id}/code")
    run_jobs(paging_app, at[0])
    code = re.search(r"\b(\d{6})\b", text_of(smtp.mailbox.wait(1)[0])).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt in range(1, 5 + 1):
        page = client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": wrong},
                           follow_redirects=True).get_data(as_text=True)
        if attempt < 5:
            assert "That code is not the one sent." in page
    assert "That was the fifth wrong code: this code no longer works. Send a new one." in page
    page = client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code},
                       follow_redirects=True).get_data(as_text=True)
    assert "no longer works" in page and "not verified" in client.get("/notifications/me").get_data(as_text=True)
    at[0] += 61  # a new code starts with five attempts again
    client.post(f"/notifications/me/methods/{method_id}/code")
    run_jobs(paging_app, at[0])
    code = re.search(r"\b(\d{6})\b", text_of(smtp.mailbox.wait(2)[1])).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": f"{(int(code) + 1) % 10**6:06d}"})
    page = client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code},
                       follow_redirects=True).get_data(as_text=True)
    assert "Verified" in page
    assert rows(setup, "SELECT verify_attempts FROM contact_methods WHERE id = :id", id=method_id) == [(0,)]


# ---- calls that say what they are ------------------------------------------------------------

def _voice_method(paging_app, setup, language: str | None = None) -> tuple[int, int]:
    configure(paging_app, people(TWO_LEVELS, ana=[{"name": "phone", "type": "voice", "address": "+14155550100"}]))
    if language:
        with paging_app.app_context():
            db.session.execute(db.text("UPDATE users SET language = :l WHERE email = 'ana@example.com'"),
                               {"l": language})
            db.session.commit()
    return rows(setup, "SELECT u.id, m.id FROM users u JOIN contact_methods m ON m.user_id = u.id "
                       "WHERE u.email = 'ana@example.com'")[0]


def test_a_verification_call_says_the_code_twice_digit_by_digit(paging_app, setup_for, twilio, at):
    setup = setup_for(paging_app)
    user_id, method_id = _voice_method(paging_app, setup)
    with paging_app.app_context():
        assert checks.send_code(user_id, method_id, at[0], paging_app.config["SECRET_KEY"]).refused is None
    run_jobs(paging_app, at[0] + 1)
    assert len(twilio.calls) == 1 and twilio.problems == []
    twiml = twilio.fetch(paging_app.test_client(), twilio.calls[0])
    assert twiml.find("Gather") is None and twiml.find("Hangup") is not None  # no keys: nothing to act on
    said = " ".join(s.text for s in twiml.iter("Say"))
    spoken = re.findall(r"\d(?: \d){5}", said)
    assert len(spoken) == 2 and spoken[0] == spoken[1], said
    assert "incident" not in said.lower() and "Press 1" not in said
    code = spoken[0].replace(" ", "")
    with paging_app.app_context():
        assert checks.confirm_code(user_id, method_id, code, at[0] + 30) == "verified"
    # Once the code is used, the call's TwiML no longer says it.
    said = " ".join(s.text for s in twilio.fetch(paging_app.test_client(), twilio.calls[0]).iter("Say"))
    assert not re.search(r"\d \d \d", said) and "no longer valid" in said


def test_a_verification_call_speaks_the_person_s_language(paging_app, setup_for, twilio, at):
    setup = setup_for(paging_app)
    user_id, method_id = _voice_method(paging_app, setup, "de")
    with paging_app.app_context():
        checks.send_code(user_id, method_id, at[0], paging_app.config["SECRET_KEY"])
    run_jobs(paging_app, at[0] + 1)
    says = list(twilio.fetch(paging_app.test_client(), twilio.calls[0]).iter("Say"))
    assert {s.get("language") for s in says} == {"de-DE"}
    assert "Bestätigungscode" in says[0].text


def test_a_test_call_says_it_is_a_test_and_no_incident_exists(paging_app, setup_for, twilio, at):
    setup = setup_for(paging_app)
    user_id, method_id = _voice_method(paging_app, setup)
    with paging_app.app_context():
        assert checks.send_test(user_id, method_id, at[0]).refused is None
    run_jobs(paging_app, at[0] + 1)
    twiml = twilio.fetch(paging_app.test_client(), twilio.calls[0])
    said = " ".join(s.text for s in twiml.iter("Say"))
    assert "This is a test call from Callgoose." in said and "No incident exists" in said
    assert twiml.find("Gather") is None and "Callgoose alert" not in said


# ---- a signed callback acts once ---------------------------------------------------------------

def test_a_replayed_keypress_changes_nothing(paging_app, setup_for, twilio):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS, ana=[{"name": "phone", "type": "voice", "address": "+14155550100"}]))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "Disk full")).status_code == 201
    run_jobs(paging_app, time.time() + 1)
    call = twilio.calls[0]
    _, answer = twilio.answer(client, call, "1")
    assert "Acknowledged 1 incident" in answer.find("Say").text
    incident_id = rows(setup, "SELECT id FROM incidents")[0][0]
    with paging_app.app_context():
        incidents.unacknowledge(incident_id, time.time(), actor="ana@example.com")
    _, replay = twilio.answer(client, call, "1")  # the same signed request again, same CallSid
    assert "already" in replay.find("Say").text
    assert rows(setup, "SELECT status FROM incidents") == [("triggered",)]
    assert rows(setup, "SELECT count(*) FROM incident_events WHERE kind = 'acknowledged'") == [(1,)]


def test_a_replayed_sms_reply_changes_nothing(paging_app, setup_for, twilio):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS, ana=[{"name": "sms", "type": "sms", "address": "+14155550101"}]))
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "Queue stuck")).status_code == 201
    run_jobs(paging_app, time.time() + 1)
    status, text = twilio.reply_sms(client, f"{BASE}/twilio/sms", "+14155550101", "1", sid="SM" + "1" * 32)
    assert status == 200 and "Acknowledged 1 incident" in text
    incident_id = rows(setup, "SELECT id FROM incidents")[0][0]
    with paging_app.app_context():
        incidents.unacknowledge(incident_id, time.time(), actor="ana@example.com")
    status, text = twilio.reply_sms(client, f"{BASE}/twilio/sms", "+14155550101", "1", sid="SM" + "1" * 32)
    assert status == 200 and "already" in ET.fromstring(text).find("Message").text
    assert rows(setup, "SELECT status FROM incidents") == [("triggered",)]
    status, text = twilio.reply_sms(client, f"{BASE}/twilio/sms", "+14155550101", "1")  # a new reply acts
    assert "Acknowledged 1 incident" in text and rows(setup, "SELECT status FROM incidents") == [("acknowledged",)]
