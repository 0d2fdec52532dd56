"""Email intake (issue 10, item 3), the mail counterpart of the HTTP endpoint: a mail to a
token's intake address is a call with that token, through the same pipeline (rules, dedup,
maintenance, the API log, the answer's reason)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..engine.inbound import auto_submitted, mail_payload
from ..extensions import db
from ..store.models import ApiToken
from .catalog import SpecCache
from .ingestion import CallResult, open_with, process_call
from .tokens import TokenInfo, token_by_intake

SOURCE = None  # no ``from``: S21 would put it in front of every title (the payload has the sender)


@dataclass(frozen=True)
class Intake:
    """What the listener needs to know of one RCPT: the token and the specs it reaches."""

    token: TokenInfo
    specs: list


def local_part(address: str, domain: str) -> str | None:
    """The intake id of ``<id>@<domain>`` (the domain compared case-insensitively), or None."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or host.lower().rstrip(".") != domain.lower().rstrip(".") or not local:
        return None
    return local.lower()


def open_intake(engine, cache: SpecCache, intake_id: str) -> Intake | None:
    """The live token with this intake address and its specs, or None (refused at RCPT)."""
    found = open_with(engine, cache, lambda cursor: token_by_intake(cursor, intake_id))
    return None if found is None else Intake(*found)


def process_mail(engine, intake: Intake, raw: bytes, envelope_from: str, recipient: str, now: float,
                 default_window: int) -> CallResult:
    """Run one mail for one intake address as a call (committed before the mail is accepted)."""
    text = mail_payload(raw, envelope_from, recipient)
    return process_call(engine, intake.token, intake.specs, text.encode("utf-8"), "application/json", SOURCE, now,
                        default_window)


def loop_keyword(raw: bytes) -> str | None:
    """Why a mail must not be acted on: its ``Auto-Submitted`` keyword (RFC 3834), or None."""
    return auto_submitted(raw)


def address_of(token_name: str, domain: str) -> str | None:
    """The intake address of the live token with this name (the CLI), or None."""
    intake_id = db.session.execute(select(ApiToken.intake_id).where(
        ApiToken.name == token_name, ApiToken.revoked_at.is_(None))).scalar_one_or_none()
    return f"{intake_id}@{domain}" if intake_id else None
