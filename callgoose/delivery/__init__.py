"""Sending: one module per channel, each a function that sends one message and says how it
went. No database here; ``jobs/deliver.py`` claims rows, calls these and records the outcome.

A sender returns the provider's id for the message (or None), or raises :class:`Temporary`
(try again later: a timeout, a 5xx, a server away) or :class:`Permanent` (an invalid
address, a 4xx: trying again cannot help).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIMEOUT_SECONDS = 10
TWILIO_API_BASE = "https://api.twilio.com"


class Temporary(Exception):
    """A failure that a later attempt may not meet."""


class Permanent(Exception):
    """A failure that no retry can cure."""


def _text(value) -> str | None:
    """A text setting (instance/config.py may give a number for a password of digits)."""
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class Settings:
    """What the senders need from the configuration (``CALLGOOSE_...`` settings)."""

    base_url: str
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"  # none | starttls | tls
    mail_from: str = "callgoose@localhost"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_base: str = TWILIO_API_BASE
    webhook_allowed_hosts: frozenset = field(default_factory=frozenset)
    timeout: float = TIMEOUT_SECONDS
    extra: dict = field(default_factory=dict, repr=False)  # every setting, for the channels' own (channels.base.Channel.config)

    def get(self, name: str):
        """A setting by name (a channel's own, ``PUSHOVER_APP_TOKEN``), as text; None when unset."""
        return _text(self.extra.get(name))

    @classmethod
    def from_config(cls, config) -> "Settings":
        host = str(config.get("HOST") or "127.0.0.1")
        if host in ("0.0.0.0", "::"):  # listening everywhere: no address to link to; set BASE_URL
            host = "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        base = config.get("BASE_URL") or f"http://{host}:{config.get('PORT', 8000)}"
        hosts = config.get("WEBHOOK_ALLOWED_HOSTS") or ""
        if isinstance(hosts, str):
            hosts = hosts.split(",")
        port = config.get("SMTP_PORT")
        extra = {name: value for name, value in config.items() if isinstance(name, str) and name.isupper()}
        return cls(
            base_url=str(base).rstrip("/"),
            smtp_host=_text(config.get("SMTP_HOST")),
            smtp_port=int(port) if port not in (None, "") else None,
            smtp_username=_text(config.get("SMTP_USERNAME")),
            smtp_password=_text(config.get("SMTP_PASSWORD")),
            smtp_security=str(config.get("SMTP_SECURITY") or "none").lower(),
            mail_from=_text(config.get("MAIL_FROM")) or "callgoose@localhost",
            twilio_account_sid=_text(config.get("TWILIO_ACCOUNT_SID")),
            twilio_auth_token=_text(config.get("TWILIO_AUTH_TOKEN")),
            twilio_from=_text(config.get("TWILIO_FROM")),
            twilio_api_base=str(config.get("TWILIO_API_BASE") or TWILIO_API_BASE).rstrip("/"),
            webhook_allowed_hosts=frozenset(h.strip().lower() for h in hosts if str(h).strip()),
            timeout=float(config.get("DELIVERY_TIMEOUT_SECONDS") or TIMEOUT_SECONDS),
            extra=extra,
        )
