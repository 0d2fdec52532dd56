"""Issue 17: Slack buttons. A slack-format webhook's pages carry Acknowledge / Resolve when
SLACK_SIGNING_SECRET is set; a press comes back to POST /slack/actions signed by Slack, and
acts as the Callgoose user the pressing Slack account is linked to (the first press of an
unknown account answers with the link that links it). Against tests/providers/misc.py's
Slack incoming webhook, response_url and signed presses."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import pytest
from helpers import ALERTMANAGER, firing, post, run_jobs
from providers.misc import FakeSlackWebhook, SlackResponseRecorder, block_actions_payload, slack_press, slack_signature

from callgoose import clock
from callgoose.engine.rules import SpecError
from callgoose.engine.signing import (
    BadLink,
    make_slack_link,
    read_action,
    read_slack_link,
    slack_valid,
)
from callgoose.extensions import db
from callgoose.services.catalog import import_config

BASE = "http://callgoose.test"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def hook():
    with FakeSlackWebhook() as fake:
        yield fake


@pytest.fixture
def responses():
    with SlackResponseRecorder() as recorder:
        yield recorder


@pytest.fixture
def slack_app(make_app, database_url, tmp_path):
    return make_app(database_url, tmp_path, BASE_URL=BASE, SLACK_SIGNING_SECRET=SECRET,
                    WEBHOOK_ALLOWED_HOSTS="127.0.0.1", DELIVERY_TIMEOUT_SECONDS=5)


def document(url: str) -> dict:
    """Ana's page goes to her Slack webhook (a channel the team shares)."""
    return {"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [
        {"name": "chat", "type": "webhook", "url": url, "format": "slack"}],
        "notification_rules": [{"contact_method": "chat", "after_minutes": 0}]}],
        "escalation_policies": [{"name": "p", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "p"}]}


def paged(app, setup, hook, title: str = "Disk full") -> dict:
    """Open an incident that pages Ana; return the message her Slack webhook got."""
    with app.app_context():
        import_config(document(hook.url), clock.now())
    assert post(app.test_client(), setup.token(), firing("g1", title)).status_code == 201
    run_jobs(app, time.time() + 1)
    hook.wait(1)
    return hook.messages[-1]


def press(app, message: dict, action: str, responses, name: str = "r1", user_id: str = "U0BO",
          username: str = "bo", secret: str = SECRET, timestamp: int | None = None) -> tuple[int, str]:
    payload = block_actions_payload(message, action, response_url=responses.url_for(name), user_id=user_id,
                                    username=username)
    return slack_press(BASE + "/slack/actions", secret, payload, timestamp=timestamp, client=app.test_client())


def incident_state(setup) -> tuple:
    status = setup.query("SELECT status FROM incidents")[0][0]
    actors = [tuple(r) for r in setup.query("SELECT kind, actor FROM incident_events WHERE kind IN "
                                            "('acknowledged', 'resolved') ORDER BY id")]
    return status, actors


def answers(responses, name: str) -> list[dict]:
    return [doc for used, doc in responses.accepted if used == name]


def link_in(text: str) -> str:
    found = re.search(r"<(http://callgoose\.test/slack/link/[^>|]+)>", text)
    assert found, text
    return found.group(1).removeprefix(BASE)


def linked_client(app, add_user, sign_in, email: str = "bo@example.com"):
    client = app.test_client()
    sign_in(client, *add_user(app, email, admin=False))
    return client


# -- the configuration, the form, codes, tests ------------------------------------------------

def test_the_document_takes_a_slack_webhook_and_names_a_bad_format_by_path(slack_app, setup_for):
    doc = document("https://hooks.slack.com/services/T/B/x")
    with slack_app.app_context():
        import_config(doc, clock.now())
        doc["users"][0]["contact_methods"][0]["format"] = "slak"
        with pytest.raises(SpecError) as caught:
            import_config(doc, clock.now())
    assert caught.value.path == "users[0].contact_methods[0].format"
    assert setup_for(slack_app).query("SELECT channel, address, format FROM contact_methods") == [
        ("webhook", "https://hooks.slack.com/services/T/B/x", "slack")]


def test_the_form_adds_it_a_code_verifies_it_and_a_test_arrives_without_buttons(slack_app, setup_for, hook,
                                                                                add_user, sign_in, monkeypatch):
    moment = [time.time()]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    setup = setup_for(slack_app)
    client = slack_app.test_client()
    sign_in(client, *add_user(slack_app, "ana@example.com", admin=False))
    client.post("/notifications/me/methods", data={"type": "webhook", "name": "chat", "address": hook.url,
                                                    "format": "slack"})
    [(method_id, fmt, verified)] = setup.query("SELECT id, format, verified_at FROM contact_methods "
                                               "WHERE channel = 'webhook'")
    assert fmt == "slack" and verified is None
    client.post(f"/notifications/me/methods/{method_id}/code")
    run_jobs(slack_app, moment[0] + 1)
    [code_message] = hook.wait(1) and hook.messages
    assert "blocks" not in code_message  # only pages carry buttons
    code = re.search(r"\b(\d{6})\b", code_message["text"]).group(1)
    page = client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code},
                       follow_redirects=True).get_data(as_text=True)
    assert "Verified" in page
    assert setup.query("SELECT verified_at IS NOT NULL FROM contact_methods WHERE id = :id", id=method_id) == [(True,)]
    moment[0] += 61  # codes and tests: one a minute per method
    assert "Test notification queued" in client.post(f"/notifications/me/methods/{method_id}/test",
                                                     follow_redirects=True).get_data(as_text=True)
    run_jobs(slack_app, moment[0] + 1)
    hook.wait(2)
    assert "test" in hook.messages[1]["text"].lower() and "blocks" not in hook.messages[1]


# -- the page and its buttons ------------------------------------------------------------------

def test_a_page_carries_acknowledge_and_resolve_with_signed_actions_and_text_as_fallback(slack_app, setup_for, hook):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    assert hook.problems == []  # the fake takes the blocks as Slack would
    assert "Disk full" in message["text"] and "checkout-api" in message["text"]
    section, actions = message["blocks"]
    assert section["type"] == "section" and "Disk full" in section["text"]["text"]
    buttons = {b["action_id"]: b for b in actions["elements"]}
    assert [b["text"]["text"] for b in actions["elements"]] == ["Acknowledge", "Resolve"]
    (page_id,) = setup.query("SELECT id FROM notifications WHERE kind = 'page'")[0]
    for action in ("acknowledge", "resolve"):
        fields = read_action("test", buttons[action]["value"], time.time())
        assert (fields["notification"], fields["action"], fields["whole"]) == (page_id, action, True)


def test_without_the_secret_a_page_is_text_only(make_app, database_url, tmp_path, setup_for, hook):
    app = make_app(database_url, tmp_path, BASE_URL=BASE, WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    message = paged(app, setup_for(app), hook)
    assert "Disk full" in message["text"] and "blocks" not in message


def test_the_buttons_are_worded_in_the_recipient_s_language(slack_app, setup_for, hook):
    setup = setup_for(slack_app)
    with slack_app.app_context():
        import_config(document(hook.url), clock.now())
        db.session.execute(db.text("UPDATE users SET language = 'de' WHERE email = 'ana@example.com'"))
        db.session.commit()
    assert post(slack_app.test_client(), setup.token(), firing("g1", "Disk full")).status_code == 201
    run_jobs(slack_app, time.time() + 1)
    [message] = hook.wait(1) and hook.messages
    assert [b["text"]["text"] for b in message["blocks"][1]["elements"]] == ["Bestätigen", "Beheben"]


# -- pressing --------------------------------------------------------------------------------

def test_an_unknown_presser_gets_a_link_and_once_linked_acts_as_themself_via_slack(slack_app, setup_for, hook,
                                                                                  responses, add_user, sign_in):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    assert press(slack_app, message, "acknowledge", responses, "r1") == (200, "")
    [reply] = answers(responses, "r1")
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert incident_state(setup) == ("triggered", [])  # an unknown account acts on nothing
    link = link_in(reply["text"])

    bo = linked_client(slack_app, add_user, sign_in)
    asked = bo.get(link)
    assert asked.status_code == 200 and "Link this Slack account to you?" in asked.get_data(as_text=True)
    assert "@bo (callgoose-test)" in asked.get_data(as_text=True)
    assert setup.query("SELECT count(*) FROM slack_identities") == [(0,)]  # a GET links nothing
    done = bo.post(link)
    assert done.status_code == 200 and "Slack account linked" in done.get_data(as_text=True)
    assert setup.query("SELECT i.team_id, i.slack_user_id, u.email FROM slack_identities i JOIN users u "
                       "ON u.id = i.user_id") == [("T0CALLGOOSE", "U0BO", "bo@example.com")]
    assert "@bo (callgoose-test)" in bo.get("/notifications/me").get_data(as_text=True)

    # The same button again: Bo (not Ana, whose page it was) acknowledges, through Slack.
    assert press(slack_app, message, "acknowledge", responses, "r2") == (200, "")
    assert incident_state(setup) == ("acknowledged", [("acknowledged", "bo@example.com (via Slack)")])
    [updated] = answers(responses, "r2")
    assert updated["replace_original"] is True and updated["text"] == message["text"]
    actions = [b for b in updated["blocks"] if b["type"] == "actions"]
    assert [[e["action_id"] for e in b["elements"]] for b in actions] == [["resolve"]]
    assert updated["blocks"][-1]["elements"][0]["text"] == "Acknowledged by <@U0BO>."

    # Resolve from the updated message: the buttons go, the state stays.
    assert press(slack_app, updated, "resolve", responses, "r3") == (200, "")
    assert incident_state(setup) == ("resolved", [("acknowledged", "bo@example.com (via Slack)"),
                                                  ("resolved", "bo@example.com (via Slack)")])
    [final] = answers(responses, "r3")
    assert [b["type"] for b in final["blocks"]] == ["section", "context"]
    assert final["blocks"][-1]["elements"][0]["text"] == "Resolved by <@U0BO>."


def test_a_replayed_press_acts_once(slack_app, setup_for, hook, responses, add_user, sign_in):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    press(slack_app, message, "acknowledge", responses, "r1")
    bo = linked_client(slack_app, add_user, sign_in)
    assert bo.post(link_in(answers(responses, "r1")[0]["text"])).status_code == 200
    payload = block_actions_payload(message, "acknowledge", response_url=responses.url_for("r2"), user_id="U0BO")
    stamp = int(time.time())
    client = slack_app.test_client()
    for _ in range(2):  # the very same signed request, twice (a retry, or a replay)
        assert slack_press(BASE + "/slack/actions", SECRET, payload, timestamp=stamp, client=client) == (200, "")
    assert incident_state(setup) == ("acknowledged", [("acknowledged", "bo@example.com (via Slack)")])
    first, second = answers(responses, "r2")
    assert first["replace_original"] is True
    assert second == {"response_type": "ephemeral", "replace_original": False,
                      "text": "This button has been used already; nothing changed."}


def _raw(app, body: bytes, headers: dict):
    return app.test_client().post("/slack/actions", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **headers})


def test_slack_s_signature_is_checked_and_a_refused_press_changes_nothing(slack_app, setup_for, hook, responses,
                                                                         add_user, sign_in):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    # Bo is linked already, so a press that got through would act.
    bo = linked_client(slack_app, add_user, sign_in)
    assert bo.post("/slack/link/" + make_slack_link("test", "T0CALLGOOSE", "U0BO", "@bo", time.time())
                   ).status_code == 200
    payload = block_actions_payload(message, "acknowledge", response_url=responses.url_for("x"), user_id="U0BO")
    body = urlencode({"payload": json.dumps(payload)}).encode()
    now = int(time.time())

    def signed(secret=SECRET, stamp=now, over=body):
        return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": slack_signature(secret, stamp, over)}

    tampered = body.replace(b"U0BO", b"U0AN")
    refused = [
        _raw(slack_app, body, signed(secret="not the signing secret")),
        _raw(slack_app, body, signed(stamp=now - 301)),  # older than five minutes
        _raw(slack_app, body, signed(stamp=now + 330)),  # from the future (with a margin for the
        # request's own time; the exact bounds: test_slack_valid_takes_five_minutes_either_way_...)
        _raw(slack_app, tampered, signed()),  # signed over another body
        _raw(slack_app, body, {"X-Slack-Request-Timestamp": str(now)}),  # no signature
        _raw(slack_app, body, {"X-Slack-Signature": signed()["X-Slack-Signature"]}),  # no timestamp
        _raw(slack_app, body, {**signed(), "X-Slack-Signature": signed()["X-Slack-Signature"].upper()}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert incident_state(setup) == ("triggered", []) and responses.accepted == []
    assert setup.query("SELECT count(*) FROM used_links") == [(0,)]
    # The same press, signed right, acts.
    assert _raw(slack_app, body, signed()).status_code == 200
    assert incident_state(setup)[0] == "acknowledged"


def test_without_the_secret_every_press_is_refused(slack_app, setup_for, hook, responses):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    slack_app.config["SLACK_SIGNING_SECRET"] = None  # the setting removed, the message still in Slack
    for secret in (SECRET, "", "anything"):
        assert press(slack_app, message, "acknowledge", responses, secret=secret)[0] == 403
    assert incident_state(setup) == ("triggered", []) and responses.accepted == []


def test_presses_that_are_not_our_buttons_are_acknowledged_and_do_nothing(slack_app, setup_for, hook, responses):
    setup = setup_for(slack_app)
    paged(slack_app, setup, hook)
    other = {"text": "x", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
         "value": "v"}]}]}
    assert press(slack_app, other, "approve", responses) == (200, "")
    assert incident_state(setup) == ("triggered", []) and responses.accepted == []


def test_a_forged_or_foreign_button_value_acts_on_nothing(slack_app, setup_for, hook, responses, add_user, sign_in):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    bo = linked_client(slack_app, add_user, sign_in)
    assert bo.post("/slack/link/" + make_slack_link("test", "T0CALLGOOSE", "U0BO", "@bo", time.time())
                   ).status_code == 200
    forged = json.loads(json.dumps(message))
    value = forged["blocks"][1]["elements"][0]["value"]
    forged["blocks"][1]["elements"][0]["value"] = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    assert press(slack_app, forged, "acknowledge", responses, "f") == (200, "")
    assert answers(responses, "f") == [{"response_type": "ephemeral", "replace_original": False,
                                        "text": "This button is not valid."}]
    assert incident_state(setup) == ("triggered", [])


# -- linking -------------------------------------------------------------------------------

def test_a_linked_account_cannot_be_taken_over_and_can_be_unlinked(slack_app, setup_for, hook, responses,
                                                                   add_user, sign_in):
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    bo = linked_client(slack_app, add_user, sign_in)
    token = make_slack_link("test", "T0CALLGOOSE", "U0BO", "@bo", time.time())
    assert bo.post(f"/slack/link/{token}").status_code == 200
    assert bo.post(f"/slack/link/{token}").status_code == 200  # again: nothing changes
    cy = linked_client(slack_app, add_user, sign_in, "cy@example.com")
    taken = cy.post(f"/slack/link/{token}")
    assert taken.status_code == 410 and "linked to another Callgoose user" in taken.get_data(as_text=True)
    assert setup.query("SELECT u.email FROM slack_identities i JOIN users u ON u.id = i.user_id") == [
        ("bo@example.com",)]
    expired = make_slack_link("test", "T0CALLGOOSE", "U0CY", "@cy", time.time() - 15 * 60 - 5)
    assert cy.get(f"/slack/link/{expired}").status_code == 410
    assert cy.post(f"/slack/link/{expired}").status_code == 410
    forged = make_slack_link("not the key", "T0CALLGOOSE", "U0CY", "@cy", time.time())
    assert cy.post(f"/slack/link/{forged}").status_code == 410
    assert setup.query("SELECT count(*) FROM slack_identities") == [(1,)]
    # Bo unlinks: the next press by that account gets the link again and acts on nothing.
    [(identity_id,)] = setup.query("SELECT id FROM slack_identities")
    assert cy.post(f"/notifications/me/slack/{identity_id}/delete").status_code == 404  # not Cy's
    assert bo.post(f"/notifications/me/slack/{identity_id}/delete").status_code == 302
    assert setup.query("SELECT count(*) FROM slack_identities") == [(0,)]
    linked = [c for (c,) in setup.query("SELECT changes FROM audit_entries WHERE subject_name = 'bo@example.com' "
                                        "AND action = 'changed' ORDER BY id")]
    assert [json.loads(c) if isinstance(c, str) else c for c in linked] == [  # the audit log has both
        [{"path": ["slack_accounts"], "old": [], "new": ["@bo (T0CALLGOOSE)"]}],
        [{"path": ["slack_accounts"], "old": ["@bo (T0CALLGOOSE)"], "new": []}]]
    press(slack_app, message, "acknowledge", responses, "r9")
    assert "/slack/link/" in answers(responses, "r9")[0]["text"]
    assert incident_state(setup) == ("triggered", [])


def test_the_link_page_needs_a_sign_in(slack_app, add_user):
    add_user(slack_app)  # past the first run's setup page
    token = make_slack_link("test", "T0CALLGOOSE", "U0BO", "@bo", time.time())
    client = slack_app.test_client()
    for method in ("GET", "POST"):
        answer = client.open(f"/slack/link/{token}", method=method)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def _linked_then(slack_app, setup_for, hook, add_user, sign_in, change: str):
    """A page in Slack, Bo's Slack account linked to Bo, then Bo's user row changed (``change``:
    an SQL assignment); the setup and the message."""
    setup = setup_for(slack_app)
    message = paged(slack_app, setup, hook)
    bo = linked_client(slack_app, add_user, sign_in)
    assert bo.post("/slack/link/" + make_slack_link("test", "T0CALLGOOSE", "U0BO", "@bo", time.time())
                   ).status_code == 200
    with slack_app.app_context():
        db.session.execute(db.text(f"UPDATE users SET {change} WHERE email = 'bo@example.com'"))
        db.session.commit()
    return setup, message


def test_a_deactivated_presser_acts_on_nothing(slack_app, setup_for, hook, responses, add_user, sign_in):
    setup, message = _linked_then(slack_app, setup_for, hook, add_user, sign_in, "active = false")
    press(slack_app, message, "acknowledge", responses, "d")
    assert answers(responses, "d")[0]["text"] == "Your Callgoose account is no longer active."
    assert incident_state(setup) == ("triggered", [])


def test_a_viewer_s_press_in_a_shared_channel_acts_on_nothing(slack_app, setup_for, hook, responses, add_user,
                                                              sign_in):
    """Issue 19: a press acts as the presser, and a viewer changes nothing (a page sent to a
    viewer by a policy is their own: its mail link acts as them, like anyone's)."""
    setup, message = _linked_then(slack_app, setup_for, hook, add_user, sign_in, "role = 'viewer'")
    press(slack_app, message, "acknowledge", responses, "v")
    assert answers(responses, "v")[0]["text"] == "Your Callgoose role is viewer: you cannot act on incidents."
    assert incident_state(setup) == ("triggered", [])


# -- delivery failures ---------------------------------------------------------------------

def test_a_5xx_or_429_is_retried_and_a_4xx_fails_for_good_in_the_ledger(slack_app, setup_for, hook, add_user,
                                                                        sign_in):
    setup = setup_for(slack_app)
    with slack_app.app_context():
        import_config(document(hook.url), clock.now())
    hook.fail_next(1, 503)
    hook.fail_next(1, 429, retry_after=1)
    client, token = slack_app.test_client(), setup.token()
    assert post(client, token, firing("g1", "Disk full")).status_code == 201
    start = time.time()
    run_jobs(slack_app, start + 1)
    page = setup.query("SELECT status, error, attempts FROM notifications WHERE kind = 'page'")
    assert page == [("pending", "attempt 1 failed, retrying: the receiver answered HTTP 503", 1)]
    run_jobs(slack_app, start + 62)  # the retry is due after 30 s; the method's rate limit allows one a minute
    page = setup.query("SELECT status, error, attempts FROM notifications WHERE kind = 'page'")
    assert page == [("pending", "attempt 2 failed, retrying: the receiver answered HTTP 429", 2)]
    run_jobs(slack_app, start + 62 + 61)
    assert setup.query("SELECT status, attempts FROM notifications WHERE kind = 'page'") == [("sent", 3)]
    assert len(hook.messages) == 1 and hook.messages[0]["blocks"]

    hook.fail_next(1, 404)
    assert post(client, token, firing("g2", "Disk fuller")).status_code == 201
    run_jobs(slack_app, start + 200)
    run_jobs(slack_app, start + 400)  # a 4xx is not retried
    failed = setup.query("SELECT status, error FROM notifications WHERE kind = 'page' ORDER BY id")[-1]
    assert failed == ("failed", "the receiver answered HTTP 404")
    sign_in(client, *add_user(slack_app))
    ledger = client.get("/notifications?status=failed&channel=webhook").get_data(as_text=True)
    assert "the receiver answered HTTP 404" in ledger


# -- the signature and the link, without a server --------------------------------------------

def test_slack_valid_takes_five_minutes_either_way_and_nothing_else():
    body, stamp = b"payload=%7B%7D", 1_700_000_000
    good = slack_signature(SECRET, stamp, body)
    assert slack_valid(SECRET, str(stamp), body, good, stamp + 300)
    assert slack_valid(SECRET, str(stamp), body, good, stamp - 300)
    assert not slack_valid(SECRET, str(stamp), body, good, stamp + 301)
    assert not slack_valid(SECRET, str(stamp), body, good, stamp - 301)
    assert not slack_valid(SECRET, str(stamp), body + b"x", good, stamp)
    assert not slack_valid("another", str(stamp), body, good, stamp)
    assert not slack_valid(None, str(stamp), body, good, stamp)
    assert not slack_valid(SECRET, f" {stamp}", body, good, stamp)
    assert not slack_valid(SECRET, "١٧٠٠٠٠٠٠٠٠", body, good, stamp)  # digits, but not ASCII ones
    assert not slack_valid(SECRET, str(stamp), body, "v0=é" + good[4:], stamp)


def test_a_slack_link_names_the_account_and_expires_after_fifteen_minutes():
    now = 1_700_000_000
    token = make_slack_link("key", "T1", "U1", "@ana (acme)", now)
    assert read_slack_link("key", token, now + 15 * 60) == {"team": "T1", "user": "U1", "name": "@ana (acme)"}
    with pytest.raises(BadLink, match="expired"):
        read_slack_link("key", token, now + 15 * 60 + 1)
    with pytest.raises(BadLink, match="not valid"):
        read_slack_link("other key", token, now)
    with pytest.raises(BadLink, match="not valid"):
        read_slack_link("key", "nonsense", now)
