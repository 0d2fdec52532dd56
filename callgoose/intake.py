"""The email intake's SMTP listener (issue 10, item 3): aiosmtpd on
``CALLGOOSE_SMTP_INTAKE_LISTEN``, in the process that runs the worker.

- RCPT TO an address that is not a live token's intake address at
  ``CALLGOOSE_SMTP_INTAKE_DOMAIN``: 550, before any data is sent.
- A message over ``CALLGOOSE_SMTP_INTAKE_MAX_BYTES``: 552 (aiosmtpd's data limit, announced
  as SIZE in EHLO).
- Otherwise each recipient's call is processed and committed, then the mail is accepted
  (250); a failure that a retry may cure answers 451, so the sender keeps the mail and tries
  again: nothing accepted is lost.
"""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.controller import Controller

from . import clock
from .services import intake

log = logging.getLogger(__name__)


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
        return "250 OK " + ", ".join(said)


def start_listener(app) -> Controller | None:
    """Start the listener when ``SMTP_INTAKE_LISTEN`` is set; None when it is off."""
    listen = (app.config.get("SMTP_INTAKE_LISTEN") or "").strip()
    if not listen:
        return None
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    controller = Controller(_Handler(app), hostname=host, port=int(port),
                            data_size_limit=int(app.config["SMTP_INTAKE_MAX_BYTES"]), enable_SMTPUTF8=True,
                            server_hostname=app.config["SMTP_INTAKE_DOMAIN"])
    controller.start()
    log.info("email intake on %s:%s for *@%s", host, port, app.config["SMTP_INTAKE_DOMAIN"])
    return controller
