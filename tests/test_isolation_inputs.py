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
from test_paging import TWO_LEVELS, configure, paging_app, people, run_jobs, smtp, twilio  # noqa: F401

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
    assert subject == "[Callgoose] HIGH 2 updates: HIGH checkout-api: zabbix prod - CPU high on db1 and 1 more"
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
    assert subjects(smtp, 1) == ["[Callgoose] HIGH checkout-api: disk DOWN on db1 and more"]


def test_a_token_name_and_a_user_address_that_sign_actions_are_one_line(paging_app, setup_for):
    from callgoose.services.tokens import add_token
    from callgoose.services.users import add_user
    with paging_app.app_context():
        token, _ = add_token("ops\nteam\r\n", None, clock.now())
        assert token.name == "ops team"
        with pytest.raises(ValueError):
            add_user("eve\n@example.com", "correct horse battery", admin=False, now=clock.now())
        with pytest.raises(ValueError):
            add_user("eve @example.com", "correct horse battery", admin=False, now=clock.now())
