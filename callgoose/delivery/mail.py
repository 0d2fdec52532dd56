"""Email through the configured SMTP server (``CALLGOOSE_SMTP_*``), plain text and HTML."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..engine.messages import Message
from . import Permanent, Settings, Temporary, deadline


class _SMTP(smtplib.SMTP):
    """SMTP whose socket is under the send's deadline (the greeting included)."""

    def _get_socket(self, host, port, timeout):
        return deadline.connect((host, port), timeout)


class _SMTPS(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        return deadline.wrap(self.context, deadline.connect((host, port), timeout), self._host, timeout)


def build(settings: Settings, to: str, message: Message, delivery_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or "callgoose")
    mail["Callgoose-Delivery"] = delivery_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text)
    mail.add_alternative(f"<!doctype html><html><body>{message.html}</body></html>", subtype="html")
    return mail


def send(settings: Settings, to: str, message: Message, delivery_id: str,
         mail: EmailMessage | None = None) -> str | None:
    """Send ``mail`` (or the one built from ``message``); a mail that cannot be built fails for good."""
    if not settings.smtp_host:
        raise Temporary("no SMTP server is configured (set CALLGOOSE_SMTP_HOST)")
    security = settings.smtp_security
    if security not in ("none", "starttls", "tls"):
        raise Temporary(f"CALLGOOSE_SMTP_SECURITY must be none, starttls or tls, not {security!r}")
    if mail is None:
        try:
            mail = build(settings, to, message, delivery_id)
        except (ValueError, TypeError) as exc:  # e.g. a header with a line break
            raise Permanent(f"the message could not be built: {type(exc).__name__}: {exc}") from None
    port = settings.smtp_port or (465 if security == "tls" else 587 if security == "starttls" else 25)
    try:
        if security == "tls":
            client = _SMTPS(settings.smtp_host, port, timeout=settings.timeout,
                                      context=ssl.create_default_context())
        else:
            client = _SMTP(settings.smtp_host, port, timeout=settings.timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
                deadline.arm(client.sock, settings.timeout)  # the TLS socket replaced the armed one
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        reason = "; ".join(f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                           for code, msg in exc.recipients.values())
        if codes and all(code >= 500 for code in codes):
            raise Permanent(f"the mail server refused the address: {reason}") from None
        raise Temporary(f"the mail server refused the address for now: {reason}") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise Temporary(f"the mail server refused the login: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        if exc.smtp_code >= 500:
            raise Permanent(f"the mail server refused the message: {exc.smtp_code} {text}") from None
        raise Temporary(f"the mail server answered {exc.smtp_code} {text}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise Temporary(f"the mail server could not be reached: {type(exc).__name__}: {exc}") from None
    return mail["Message-ID"]
