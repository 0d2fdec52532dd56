"""Log redaction (S4): no log line carries a token, whatever logger wrote it."""

from __future__ import annotations

import logging
import re

_QUERY_TOKEN = re.compile(r"(?<![\w-])(token=)[^&\s\"']*", re.IGNORECASE)
_BARE_TOKEN = re.compile(r"\bcg_[A-Za-z0-9_-]{8,}")
_LINK = re.compile(r"(/l/)[A-Za-z0-9_.-]{16,}")  # a mail's signed acknowledge or resolve link


def redact(text: str) -> str:
    """Replace ``token=<secret>`` and anything shaped like a Callgoose token."""
    text = _QUERY_TOKEN.sub(r"\1[REDACTED]", text)
    text = _LINK.sub(r"\1[REDACTED]", text)
    return _BARE_TOKEN.sub("cg_[REDACTED]", text)


def _make_factory(previous):
    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # leave a broken record for logging to report as usual
            return record
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return record

    factory.callgoose_redacts = True
    return factory


def install_redaction() -> None:
    """Redact every log record of the process, once (werkzeug and waitress included)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "callgoose_redacts", False):
        logging.setLogRecordFactory(_make_factory(current))
