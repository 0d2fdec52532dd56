"""The email intake's SMTP listener (issue 10, item 3): aiosmtpd on
``CALLGOOSE_SMTP_INTAKE_LISTEN``, in the process that runs the worker.

- RCPT TO an address that is not a live token's intake address at
  ``CALLGOOSE_SMTP_INTAKE_DOMAIN``: 550, before any data is sent.
- A message over ``CALLGOOSE_SMTP_INTAKE_MAX_BYTES``: 552 (aiosmtpd's data limit, announced
  as SIZE in EHLO).
- Otherwise each recipient's call is processed and committed, then the mail is accepted
  (250); a failure that a retry may cure answers 451, so the sender keeps the mail and tries
  again: nothing accepted is lost.
- A mail marked ``Auto-Submitted`` (anything but ``no``, RFC 3834) is accepted (250) and not
  acted on, with a log line: a page of ours forwarded back must not open an incident.
- At most :data:`MAX_RECIPIENTS` intake addresses per mail (an address named twice counts
  once); the others are answered 452 (RFC 5321 4.5.3.1.10: the sender sends them again).
- Lines may be as long as a whole mail may be (real senders exceed RFC 5321's 1,000 bytes).
"""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from . import clock
from .services import intake

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20  # intake addresses per mail; each is a call
MAX_ANSWER = 400  # characters of a 250 line's list of calls (a reply line has at most 512 octets)


class _Handler:
    def __init__(self, app):
        self.app = app
        self.domain = app.config["SMTP_INTAKE_DOMAIN"]

    def _open(self, address: str):
        local = intake.local_part(address, self.domain)
        if local is None:
            return None
        with self.app.app_context():
            from .extensions import db
            return intake.open_intake(db.engine, self.app.extensions["callgoose_specs"], local)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in (a.lower() for a in envelope.rcpt_tos):
            return "250 OK"  # named again: still one call
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, self._open, address)
        except Exception:  # noqa: BLE001 - the database is away: the sender tries again later
            log.exception("intake: cannot look up %s", address)
            return "451 4.3.0 Temporary failure, try again later"
        if found is None:
            return "550 5.1.1 No such intake address here"
        envelope.rcpt_tos.append(address)
        session.intakes = {**getattr(session, "intakes", {}), address: found}
        return "250 OK"

    def _process(self, envelope, intakes: dict) -> list[str]:
        from .extensions import db
        loop = intake.loop_keyword(envelope.original_content or envelope.content)
        if loop is not None:
            log.info("intake: a mail from %s marked Auto-Submitted: %s, not acted on (RFC 3834)",
                     envelope.mail_from, loop)
            return [f"not acted on: Auto-Submitted: {loop} (RFC 3834)"]
        said = []
        with self.app.app_context():
            for address in envelope.rcpt_tos:
                result = intake.process_mail(db.engine, intakes[address], envelope.original_content or envelope.content,
                                             envelope.mail_from or "", address, clock.now(),
                                             self.app.config["DUPLICATE_WINDOW_SECONDS"])
                said.append(f"{result.status} {result.call_id}")
        return said

    async def handle_DATA(self, server, session, envelope):
        try:
            said = await asyncio.get_running_loop().run_in_executor(
                None, self._process, envelope, getattr(session, "intakes", {}))
        except Exception:  # noqa: BLE001 - nothing was committed for the failing call: ask for a retry
            log.exception("intake: a mail from %s could not be processed", envelope.mail_from)
            return "451 4.3.0 Temporary failure, try again later"
        return "250 OK " + _listed(said)


def _listed(said: list[str]) -> str:
    """What each recipient's call did, as much as fits one short reply line."""
    text = ", ".join(said)
    if len(text) <= MAX_ANSWER:
        return text
    shown = []
    for item in said:
        if len(", ".join(shown + [item])) > MAX_ANSWER - 20:
            break
        shown.append(item)
    return ", ".join(shown) + f" and {len(said) - len(shown)} more"


class _Server(SMTP):
    """aiosmtpd's SMTP with lines as long as the mail may be (its default refuses a line over
    1,000 bytes: 500, a permanent failure for mail real senders send)."""

    def __init__(self, handler, *, line_length_limit: int, **kwargs):
        self.line_length_limit = line_length_limit  # read by SMTP.__init__ for its stream
        super().__init__(handler, **kwargs)


class _Listener(Controller):
    def factory(self):
        return _Server(self.handler, line_length_limit=self.SMTP_kwargs["data_size_limit"] + 2,
                       **self.SMTP_kwargs)


def start_listener(app) -> Controller | None:
    """Start the listener when ``SMTP_INTAKE_LISTEN`` is set; None when it is off."""
    listen = (app.config.get("SMTP_INTAKE_LISTEN") or "").strip()
    if not listen:
        return None
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    controller = _Listener(_Handler(app), hostname=host, port=int(port),
                            data_size_limit=int(app.config["SMTP_INTAKE_MAX_BYTES"]), enable_SMTPUTF8=True,
                            server_hostname=app.config["SMTP_INTAKE_DOMAIN"])
    controller.start()
    log.info("email intake on %s:%s for *@%s", host, port, app.config["SMTP_INTAKE_DOMAIN"])
    return controller
