"""Email intake (issue 10, item 3): real mail, sent with smtplib to the aiosmtpd listener on
loopback, runs through the same pipeline as a call."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage

import pytest
from helpers import as_json
from receivers import free_port

from callgoose import clock
from callgoose.intake import start_listener

DOMAIN = "intake.test"
MAILWATCH = {
    "name": "mailwatch",
    "trigger": [{"conditions": [{"json_key": "subject", "contains": ["DOWN"]}], "title_from": "subject",
                 "description_from": "text", "map_incident_with": "headers.X-Monitor"}],
    "resolve": [{"conditions": [{"json_key": "subject", "contains": ["UP"]}], "incident_mapped_with": "headers.X-Monitor"}],
}


@pytest.fixture
def intake(make_app, database_url, tmp_path, setup_for):
    port = free_port()
    app = make_app(database_url, tmp_path, SMTP_INTAKE_LISTEN=f"127.0.0.1:{port}", SMTP_INTAKE_DOMAIN=DOMAIN,
                   SMTP_INTAKE_MAX_BYTES=64 * 1024)
    setup = setup_for(app)
    setup.services(MAILWATCH)
    setup.token("mail", service="mailwatch")
    address = setup.query("SELECT intake_id FROM api_tokens")[0][0] + "@" + DOMAIN
    listener = start_listener(app)
    yield app, setup, port, address
    listener.stop()


def mail(to: str, subject: str, monitor: str = "disk-db1", body: str = "Disk at 97% on db1", **headers):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["X-Monitor"] = "nagios@example.com", to, subject, monitor
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message


def send(port: int, message: EmailMessage, to: list[str] | None = None):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return smtp.send_message(message, to_addrs=to)


def test_a_mail_to_the_intake_address_opens_an_incident_and_its_recovery_resolves_it(intake):
    app, setup, port, address = intake
    assert send(port, mail(address, "PROBLEM: disk DOWN on db1")) == {}
    [(title, status, mapping)] = setup.query("SELECT title, status, mapping_value FROM incidents")
    assert (title, status, mapping) == ("PROBLEM: disk DOWN on db1", "triggered", "disk-db1")
    call = setup.query("SELECT source, status, content_type, payload_digest FROM api_calls")[0]
    assert call[:3] == (None, 201, "application/json")
    payload = json.loads(setup.query("SELECT text FROM payloads WHERE digest = :d", d=call[3])[0][0])
    assert set(payload) == {"from", "to", "subject", "text", "html", "headers"}
    assert payload["from"] == "nagios@example.com" and payload["to"] == address
    assert payload["text"] == "Disk at 97% on db1" and payload["headers"]["X-Monitor"] == "disk-db1"
    send(port, mail(address, "RECOVERY: disk UP on db1"))
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]


def test_the_same_mail_again_is_a_replay_and_the_smtp_answer_says_what_happened(intake):
    app, setup, port, address = intake
    message = mail(address, "disk DOWN")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)
        code, text = smtp.noop()
        assert code == 250
        smtp.mail("nagios@example.com")
        smtp.rcpt(address)
        code, said = smtp.data(message.as_bytes())
    assert code == 250 and said.decode().startswith("OK 208 ")
    assert [s for (s,) in setup.query("SELECT status FROM api_calls ORDER BY received_at")] == [201, 208]
    assert setup.query("SELECT duplicate_count FROM incidents") == [(0,)]


def test_unknown_and_revoked_addresses_are_refused_at_rcpt(intake):
    app, setup, port, address = intake
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(port, mail("nobody-here@" + DOMAIN, "disk DOWN"))
    assert refused.value.recipients["nobody-here@" + DOMAIN][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(port, mail(address.replace(DOMAIN, "elsewhere.test"), "disk DOWN"))
    with app.app_context():
        from callgoose.services.tokens import rotate
        token_id = setup.query("SELECT id FROM api_tokens")[0][0]
        rotate(token_id, clock.now())
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(port, mail(address, "disk DOWN"))  # the old token's address went with it
    new = setup.query("SELECT intake_id FROM api_tokens WHERE revoked_at IS NULL")[0][0] + "@" + DOMAIN
    assert new != address and send(port, mail(new, "disk DOWN")) == {}
    assert setup.query("SELECT count(*) FROM api_calls") == [(1,)]  # refused mail leaves nothing


def test_an_oversized_mail_is_refused_with_552(intake):
    app, setup, port, address = intake
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        send(port, mail(address, "disk DOWN", body="x" * 100_000))
    assert refused.value.smtp_code == 552
    assert setup.query("SELECT count(*) FROM api_calls") == [(0,)]


def test_a_failure_answers_451_so_the_sender_keeps_the_mail(intake, monkeypatch):
    app, setup, port, address = intake
    from callgoose.services import intake as service

    def broken(*args, **kwargs):
        raise RuntimeError("the database is away")
    monkeypatch.setattr(service, "process_mail", broken)
    with pytest.raises(smtplib.SMTPDataError) as failed:
        send(port, mail(address, "disk DOWN"))
    assert failed.value.smtp_code == 451
    monkeypatch.undo()
    assert send(port, mail(address, "disk DOWN")) == {}  # the sender's retry is processed
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]


def test_html_only_odd_charsets_and_maintenance(intake):
    app, setup, port, address = intake
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["X-Monitor"] = "x@example.com", address, "api DOWN", "api"
    message.add_alternative("<p>API <b>down</b></p>", subtype="html")
    send(port, message)
    payload = json.loads(setup.query("SELECT p.text FROM payloads p JOIN api_calls c ON c.payload_digest = p.digest")[0][0])
    assert payload["text"] == "" and "<b>down</b>" in payload["html"]
    raw = (f"From: a@example.com\r\nTo: {address}\r\nSubject: =?x-unknown?q?db_DOWN?=\r\nX-Monitor: db\r\n"
           "Content-Type: text/plain; charset=x-unknown\r\n\r\nbody \xff\r\n").encode("latin-1")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        assert smtp.sendmail("a@example.com", [address], raw) == {}
    assert len(setup.query("SELECT id FROM api_calls")) == 2  # stored and answered, whatever the charset
    setup.services({**MAILWATCH, "maintenance": [{"starts_at": None, "ends_at": None}]})
    send(port, mail(address, "web DOWN", monitor="web"))
    last = as_json(setup.query("SELECT results FROM api_calls ORDER BY received_at DESC LIMIT 1")[0][0])
    assert last[0]["note"] == "maintenance"


def test_the_cli_and_the_token_tab_show_the_address(intake):
    app, setup, port, address = intake
    result = app.test_cli_runner().invoke(args=["intake-address", "mail"])
    assert result.exit_code == 0 and result.output.strip() == address
    missing = app.test_cli_runner().invoke(args=["intake-address", "nope"])
    assert missing.exit_code != 0 and "no live token named 'nope'" in missing.output
    from conftest import _add_user, _sign_in
    with app.test_client() as browser:
        _sign_in(browser, *_add_user(app))
        page = browser.get("/tokens").get_data(as_text=True)
    assert address in page and "Email intake is on" in page



@pytest.mark.slow
@pytest.mark.parametrize("worker_process", [False, True], ids=["serve", "flask-worker"])
def test_the_listener_runs_in_the_process_that_runs_the_worker(make_app, database_url, tmp_path, setup_for,
                                                              worker_process):
    """`serve` runs it with its worker; with --no-worker, the `flask worker` process runs it."""
    import time

    from servers import running_servers
    app = make_app(database_url, tmp_path)
    setup = setup_for(app)
    setup.services(MAILWATCH)
    setup.token("mail", service="mailwatch")
    address = setup.query("SELECT intake_id FROM api_tokens")[0][0] + "@" + DOMAIN
    port = free_port()
    with running_servers(database_url, tmp_path, worker_process=worker_process,
                         CALLGOOSE_SMTP_INTAKE_LISTEN=f"127.0.0.1:{port}", CALLGOOSE_SMTP_INTAKE_DOMAIN=DOMAIN):
        deadline = time.monotonic() + 20  # a bound for the process to start listening
        while True:
            try:
                send(port, mail(address, "disk DOWN"))
                break
            except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]
