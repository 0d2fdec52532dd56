"""Isolation: inputs that must not stop anyone's pages (RELIABILITY "Isolation").

A line break in what becomes an incident title or a mail header, from the endpoint's payload,
its ``from`` parameter, an intake mail's encoded subject, a token's name or a user's address:
the title is one line (S21) and the page mail reaches a real SMTP server on loopback.
"""

from __future__ import annotations

import smtplib

import pytest
from helpers import firing, post
from receivers import free_port
from test_paging import BASE, TWO_LEVELS, configure, people, run_jobs

from callgoose import clock
from callgoose.intake import start_listener

DOMAIN = "intake.test"


def subjects(server, count: int) -> list[str]:
    mails = server.mailbox.wait(count)
    assert len(mails) == count, [m["Subject"] for m in mails]
    return [m["Subject"] for m in mails]


def test_multi_line_summary_and_from_give_one_line_titles_whose_pages_arrive(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, people(TWO_LEVELS))
    token = setup.token()
    client = paging_app.test_client()
    answer = post(client, token, firing("g1", "CPU high\non db1\r\n"), query="?from=zabbix%0Aprod")
    assert answer.status_code == 201
    assert post(client, token, firing("g2", None), query="?from=zabbix%0D%0Aprod").status_code == 201
    titles = [t for (t,) in setup.query("SELECT title FROM incidents ORDER BY id")]
    assert titles == ["zabbix prod - CPU high on db1", "Incident from zabbix prod"]
    run_jobs(paging_app, clock.now() + 1)
    [subject] = subjects(smtp, 1)  # both pages, bundled in one mail to Ana
    assert subject == "[Callgoose] HIGH 2 updates: P2 HIGH checkout-api: zabbix prod - CPU high on db1 and 1 more"
    states = setup.query("SELECT status, error FROM notifications ORDER BY id")
    assert states == [("sent", None), ("sent", None)]


MAILWATCH = {
    "name": "checkout-api", "escalation_policy": "checkout",
    "trigger": [{"conditions": [{"json_key": "subject", "contains": ["DOWN"]}], "title_from": "subject",
                 "map_incident_with": "headers.X-Monitor"}],
}


@pytest.fixture
def intake_paging(paging_app, setup_for):
    """The paging app with the email intake listening, a service that pages Ana, and its address."""
    port = free_port()
    paging_app.config.update(SMTP_INTAKE_LISTEN=f"127.0.0.1:{port}", SMTP_INTAKE_DOMAIN=DOMAIN,
                             SMTP_INTAKE_MAX_BYTES=1024 * 1024)
    setup = setup_for(paging_app)
    configure(paging_app, {**people(TWO_LEVELS), "services": [MAILWATCH]})
    setup.token("mail", service="checkout-api")
    address = setup.query("SELECT intake_id FROM api_tokens")[0][0] + "@" + DOMAIN
    listener = start_listener(paging_app)
    yield setup, port, address
    listener.stop()


def raw_mail(address: str, subject: str, monitor: str = "disk-db1", headers: str = "", body: str = "disk full") -> bytes:
    return (f"From: nagios@example.com\r\nTo: {address}\r\nSubject: {subject}\r\nX-Monitor: {monitor}\r\n{headers}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode("utf-8")


def test_an_encoded_line_break_in_an_intake_subject_gives_a_one_line_title_and_a_page(intake_paging, smtp,
                                                                                         paging_app):
    setup, port, address = intake_paging
    subject = "=?utf-8?q?disk_DOWN=0D=0Aon_db1?= =?utf-8?b?" + "CmFuZCBtb3Jl" + "?="  # "\nand more"
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("nagios@example.com", [address], raw_mail(address, subject)) == {}
    [(title,)] = setup.query("SELECT title FROM incidents")
    assert title == "disk DOWN on db1 and more"
    run_jobs(paging_app, clock.now() + 1)
    assert subjects(smtp, 1) == ["[Callgoose] P2 HIGH checkout-api: disk DOWN on db1 and more"]


def test_a_token_name_and_a_user_address_that_sign_actions_are_one_line(paging_app, setup_for):
    from callgoose.services.tokens import add_token
    from callgoose.services.users import add_user
    with paging_app.app_context():
        token, _ = add_token("ops\nteam\r\n", None, clock.now())
        assert token.name == "ops team"
        with pytest.raises(ValueError):
            add_user("eve\n@example.com", "correct horse battery", role="responder", now=clock.now())
        with pytest.raises(ValueError):
            add_user("eve @example.com", "correct horse battery", role="responder", now=clock.now())


# -- The email intake: loops, recipients, long lines (item 11) ------------------------------

from test_intake import intake, mail, send  # noqa: E402,F401


@pytest.mark.parametrize("value", ["auto-generated", "auto-replied", "Auto-Notified", "auto-generated (Callgoose)"])
def test_auto_submitted_mail_is_accepted_but_not_acted_on(intake, value, caplog):
    app, setup, port, address = intake
    message = mail(address, "PROBLEM: disk DOWN on db1", **{"Auto-Submitted": value})
    with caplog.at_level("INFO", logger="callgoose.intake"), smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("pager@callgoose.test")
        client.rcpt(address)
        code, said = client.data(message.as_bytes())
    assert code == 250 and "not acted on" in said.decode() and "RFC 3834" in said.decode()
    assert setup.query("SELECT count(*) FROM api_calls") == [(0,)]
    assert setup.query("SELECT count(*) FROM incidents") == [(0,)]
    assert any("Auto-Submitted" in r.getMessage() and "not acted on" in r.getMessage() for r in caplog.records)


def test_auto_submitted_no_is_a_person_s_mail_and_acted_on(intake):
    app, setup, port, address = intake
    assert send(port, mail(address, "PROBLEM: disk DOWN on db1", **{"Auto-Submitted": "no"})) == {}
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]


def test_one_address_named_500_times_is_one_call_with_a_short_answer(intake):
    app, setup, port, address = intake
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("nagios@example.com")
        for _ in range(500):
            assert client.rcpt(address)[0] in (250, 452)
        code, said = client.data(mail(address, "disk DOWN").as_bytes())
    assert code == 250 and len(said) < 200, said
    assert setup.query("SELECT count(*) FROM api_calls") == [(1,)]


def test_recipients_past_the_cap_get_452_and_the_reply_line_stays_short(intake):
    from callgoose.intake import MAX_RECIPIENTS
    app, setup, port, address = intake
    addresses = [address]
    for n in range(MAX_RECIPIENTS + 2):
        setup.token(f"mail{n}", service="mailwatch")
    addresses = [f"{i}@{DOMAIN}" for (i,) in setup.query("SELECT intake_id FROM api_tokens ORDER BY id")]
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("nagios@example.com")
        codes = [client.rcpt(a) for a in addresses]
        code, said = client.data(mail(address, "disk DOWN").as_bytes())
    assert [c for c, _ in codes] == [250] * MAX_RECIPIENTS + [452] * 3
    assert b"too many recipients" in codes[-1][1].lower()
    assert code == 250 and len(said) <= 500, len(said)
    assert setup.query("SELECT count(*) FROM api_calls") == [(MAX_RECIPIENTS,)]


def test_lines_over_1000_bytes_and_8bit_text_are_accepted(intake):
    app, setup, port, address = intake
    long_line = "db1 " + "é" * 3000 + " end"  # one line of about 6,000 bytes, sent as 8-bit UTF-8
    raw = (f"From: nagios@example.com\r\nTo: {address}\r\nSubject: disk DOWN {'x' * 1500}\r\n"
           "X-Monitor: disk-db1\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Transfer-Encoding: 8bit\r\n\r\n{long_line}\r\n").encode("utf-8")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("nagios@example.com", [address], raw, mail_options=["BODY=8BITMIME"]) == {}
    [(description,)] = setup.query("SELECT description FROM incidents")
    assert description == long_line


# -- Chat webhooks: a title is text, never a mention or a link -------------------------------

HOSTILE = "<!channel> deploy & roll <https://evil.example|click> [click](https://evil.example)"


def test_slack_and_teams_receive_titles_escaped(paging_app, setup_for):
    from receivers import WebhookReceiver
    setup = setup_for(paging_app)
    with WebhookReceiver() as receiver:
        ana = [{"name": "slack", "type": "webhook", "url": receiver.url + "?slack", "format": "slack"},
               {"name": "teams", "type": "webhook", "url": receiver.url + "?teams", "format": "teams"}]
        configure(paging_app, people(TWO_LEVELS, ana=ana))
        assert post(paging_app.test_client(), setup.token(), firing("g1", HOSTILE)).status_code == 201
        run_jobs(paging_app, clock.now() + 1)
        got = {r["path"].rpartition("?")[2]: r["json"] for r in receiver.requests}
    slack, teams = got["slack"]["text"], got["teams"]["text"]
    assert "<!channel>" not in slack and "<https://evil" not in slack
    assert "&lt;!channel&gt; deploy &amp; roll &lt;https://evil.example|click&gt;" in slack
    assert f"<{BASE}/incidents/" in slack  # our own link stays a link
    assert "[click](https://evil.example)" not in teams and "\\[click\\](https://evil.example)" in teams
    assert "\\<!channel\\>" in teams and f"]({BASE}/incidents/" in teams


# -- A repeat with a higher urgency raises the incident's urgency (S26) ----------------------

SEVERITY = {
    "name": "checkout-api", "escalation_policy": "checkout",
    "trigger": [{"urgency": "high", "conditions": [{"json_key": "commonLabels.severity", "contains": ["critical"]}],
                 "title_from": "commonAnnotations.summary", "map_incident_with": "groupKey"},
                {"urgency": "low", "conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "commonAnnotations.summary", "map_incident_with": "groupKey"}],
}
ANA_PAGER = [{"name": "mail", "type": "email", "address": "ana@example.com"},
             {"name": "pager", "type": "email", "address": "ana-pager@example.com"}]


def severity_setup(app, setup_for):
    setup = setup_for(app)
    doc = people(TWO_LEVELS, ana=ANA_PAGER)
    doc["users"][0]["notification_rules"] = [{"contact_method": "mail", "after_minutes": 0},
                                             {"contact_method": "pager", "after_minutes": 0, "urgency": ["high"]}]
    configure(app, {**doc, "services": [SEVERITY]})
    return setup, setup.token()


def test_a_repeat_at_high_urgency_raises_the_incident_and_pages_its_high_urgency_rules(paging_app, setup_for, smtp):
    setup, token = severity_setup(paging_app, setup_for)
    client = paging_app.test_client()
    assert post(client, token, firing("g1", "disk filling", commonLabels={"severity": "warning"})).status_code == 201
    run_jobs(paging_app, clock.now() + 1)
    assert [(m["To"], m["Subject"]) for m in smtp.mailbox.wait(1)] == [
        ("ana@example.com", "[Callgoose] P4 LOW checkout-api: disk filling")]
    answer = post(client, token, firing("g1", "disk filling", commonLabels={"severity": "critical"}))
    assert answer.status_code == 208  # still a repeat of the open incident (S26) ...
    assert setup.query("SELECT urgency, duplicate_count FROM incidents") == [("high", 1)]  # ... now high
    events = setup.query("SELECT kind, note, api_call_id FROM incident_events ORDER BY id")
    assert events[-1] == ("urgency_raised", "from low to high: 1 notification queued", answer.get_json()["id"])
    run_jobs(paging_app, clock.now() + 2)
    mails = smtp.mailbox.wait(2)
    assert [(m["To"], m["Subject"]) for m in mails[1:]] == [
        ("ana-pager@example.com", "[Callgoose] P4 HIGH checkout-api: disk filling")]  # Ana's mail was paged already
    assert post(client, token, firing("g1", "disk filling", commonLabels={"severity": "warning"})).status_code == 208
    assert setup.query("SELECT urgency FROM incidents") == [("high",)]  # never lowered
    assert setup.query("SELECT count(*) FROM incident_events WHERE kind = 'urgency_raised'") == [(1,)]
    # the next level is paged at high urgency
    run_jobs(paging_app, clock.now() + 5 * 60 + 5)
    run_jobs(paging_app, clock.now() + 5 * 60 + 6)
    assert [(m["To"], m["Subject"]) for m in smtp.mailbox.wait(3)[2:]] == [
        ("bo@example.com", "[Callgoose] P4 HIGH checkout-api: disk filling")]


def test_an_acknowledged_incident_rises_without_paging(paging_app, setup_for, smtp):
    setup, token = severity_setup(paging_app, setup_for)
    client = paging_app.test_client()
    assert post(client, token, firing("g1", "disk filling", commonLabels={"severity": "warning"})).status_code == 201
    with paging_app.app_context():
        from callgoose.engine.lifecycle import Action
        from callgoose.services import incidents
        incidents.act(Action.ACKNOWLEDGE, setup.query("SELECT id FROM incidents")[0][0], clock.now(), actor="ana")
    assert post(client, token, firing("g1", "disk filling", commonLabels={"severity": "critical"})).status_code == 208
    assert setup.query("SELECT urgency, status FROM incidents") == [("high", "acknowledged")]
    assert setup.query("SELECT note FROM incident_events WHERE kind = 'urgency_raised'") == [("from low to high",)]
    assert setup.query("SELECT count(*) FROM notifications WHERE kind = 'page' AND status = 'pending'") == [(0,)]


def test_the_urgency_rule_and_what_a_rise_adds_engine_tables():
    from callgoose.engine.lifecycle import raises_urgency
    from callgoose.engine.paging import PersonalRule, added_by_urgency
    assert [raises_urgency(a, b) for a, b in (("low", "high"), ("high", "low"), ("low", "low"), ("high", "high"))] \
        == [True, False, False, False]
    rules = [PersonalRule(1, 10, 0, ("high", "low"), "email", True),  # paged at low already
             PersonalRule(1, 11, 0, ("high",), "sms", True),  # high only: added
             PersonalRule(1, 12, 5, ("high",), "voice", True),  # high only, after 5 minutes: added
             PersonalRule(2, 20, 0, ("high",), "email", False),  # not verified: never
             PersonalRule(3, 30, 0, ("low",), "email", True)]  # low only: nothing more
    added = added_by_urgency((1, 2, 3), rules, "low", "high")
    assert [(p.user_id, p.method_id, p.delay) for p in added] == [(1, 11, 0), (1, 12, 300)]
