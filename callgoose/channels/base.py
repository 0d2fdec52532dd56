"""What every channel is: one interface, implemented once per channel module.

A channel knows its address fields and their checks, its label, how a message is worded
within its limits, how it is sent (returning the provider's id, or raising
:class:`~callgoose.delivery.Temporary` / :class:`~callgoose.delivery.Permanent` as the outbox
classifies), whether its pages carry action buttons, and which server settings it needs.
No Flask and no database here: ``jobs/deliver.py`` builds an :class:`Outgoing` from the
claimed rows and calls :meth:`Channel.prepare`; the services check fields through
:meth:`Channel.check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ..delivery import Settings
from ..engine.messages import Item, Message, Words
from ..engine.oncall import check_email, check_url
from ..engine.page import fact_lines  # noqa: F401  (the channels' address checks)
from ..engine.rules import SpecError
from ..engine.words import Say

Check = Callable[[object, str], str]  # (value, path) -> the value kept; raises SpecError(path, Say)
Transmit = Callable[[], "str | None"]  # sends; returns the provider's id, raises Temporary / Permanent
Signer = Callable[[int, str], str]  # (notification id, action) -> a signed action's absolute URL

E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def check_phone(value, path: str) -> str:
    number = re.sub(r"[\s().-]", "", value) if isinstance(value, str) else ""
    if not E164.fullmatch(number):
        raise SpecError(path, Say("must be a phone number in E.164 form, e.g. +14155550100"))
    return number


def check_token(value, path: str) -> str:
    """An access token or key as a provider issues it: printable, no spaces, at most 200."""
    if not isinstance(value, str) or not re.fullmatch(r"[!-~]{1,200}", value.strip()):
        raise SpecError(path, Say("must be 1-200 printable characters without spaces"))
    return value.strip()


def choice(*choices: str) -> Check:
    def check(value, path: str) -> str:
        if value not in choices:
            raise SpecError(path, Say("must be one of %(choices)s", choices=", ".join(choices)))
        return value
    return check


@dataclass(frozen=True)
class Field:
    """One address field: its key in the configuration document (S34) and in the form, its
    label, its check, and where it is kept: the method's ``address`` (the first field), its
    ``format`` column (webhooks), or its ``options`` (the rest)."""

    key: str
    label: Say
    check: Check
    required: bool = True
    secret: bool = False  # shown masked once saved (an access token)
    choices: tuple[str, ...] = ()  # a select
    default: str | None = None
    hint: str | None = None  # the form's placeholder: an example, in no language
    kept: str = "options"  # address | format | options


@dataclass(frozen=True)
class Address:
    """A method's checked fields, as the database keeps them."""

    address: str
    format: str | None = None
    options: dict = field(default_factory=dict)

    def value(self, key: str, fields: tuple[Field, ...]) -> str | None:
        for f in fields:
            if f.key == key:
                return self.address if f.kept == "address" else self.format if f.kept == "format" \
                    else self.options.get(key)
        return None


@dataclass(frozen=True)
class Earlier:
    """A page this method was sent before, carrying some of a follow-up's incidents: what a
    channel that rewrites its pages as their incidents change (:attr:`Channel.edits`) needs."""

    notification_id: int  # the page's lead row (its signed actions act on everything it carried)
    provider_id: str  # what the channel's send returned for it
    items: tuple[Item, ...]  # every incident it carried, with its status now


@dataclass(frozen=True)
class Outgoing:
    """One message to send: the claimed rows worded for the recipient, and what the sender needs."""

    settings: Settings
    target: str  # the method's address
    format: str | None
    options: dict
    items: list[Item]
    message: Message  # engine.messages.compose's wording of the items
    words: Words  # the recipient's language
    delivery_id: str  # the lead row's, the same on every retry
    notification_id: int  # the lead row's id (a provider's idempotency key, a call's TwiML)
    row_ids: tuple[int, ...]  # every row the message carries that has its own incident
    kind: str  # the lead's engine.paging.Kind
    size: int  # how many rows the bundle holds
    now: float
    sign: Signer = lambda _nid, _action: ""  # noqa: E731
    earlier: tuple[Earlier, ...] = ()  # a follow-up's pages sent before (channels that edit them)

    @property
    def pages(self) -> bool:
        return self.kind == "page"

    def action_url(self, action: str) -> str:
        """The signed URL that does ``action`` (acknowledge, resolve) for every incident this
        message carries, as its recipient; empty when the message is not a page."""
        return self.sign(self.notification_id, action) if self.pages else ""


class Refused(Exception):
    """A callback that is not the provider's: a wrong signature or secret (answered 403)."""


@dataclass(frozen=True)
class Inbound:
    """A provider's callback as the web layer hands it over (no Flask here)."""

    headers: dict  # lower-case names
    body: bytes
    form: dict
    args: dict
    url: str  # as the provider called it (behind a proxy: from BASE_URL)
    # words in a language (services.languages.words_for), for an answer in the language the
    # provider says its user reads (a Telegram press's toast); English unless given
    words_for: Callable[[str | None], Words] = lambda _language: str  # noqa: E731

    def json(self):
        import json

        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass(frozen=True)
class Presser:
    """Whoever pressed a button where many people see the message (a Slack channel), as the
    provider names them: they act as themselves, the Callgoose user their account is linked
    to, not as the person the page went to. ``answer(problem, action, words)`` is the HTTP
    answer once acting was tried (``words``: the presser's language); ``introduce(url,
    words)`` answers someone whose account is not linked yet, with the URL of the page that
    links it (services.actions makes both)."""

    team: str
    user: str
    name: str  # how the linking page shows the account ("@ana (acme)")
    answer: Callable[[str | None, str | None, Words], tuple[int, object]]
    introduce: Callable[[str, Words], tuple[int, object]]


@dataclass(frozen=True)
class Callback:
    """What a callback asks: act on the signed action ``token`` (none: only answer), pressed by
    ``who`` as the provider names them (a chat id, a user key: it must be the address the
    notification went to; None: the token alone says who); ``answer(problem, action)`` is the
    HTTP answer, (status, JSON-able body or text), given what acting did."""

    token: str | None = None
    who: str | None = None
    answer: Callable[[str | None, str | None], tuple[int, object]] = lambda problem, _action: (  # noqa: E731
        (410, {"error": problem}) if problem else (200, {"ok": True}))
    presser: Presser | None = None  # set: the presser acts as themself (``who`` and ``answer`` unused)


class Channel:
    """The interface; each channel module defines one subclass instance as ``CHANNEL``."""

    name: str = ""  # the S34 type and the stored channel
    label: Say = None  # type: ignore[assignment]  # "Telegram", "Phone call": a form's choice, a ledger's column
    noun: Say | None = None  # inside a sentence ("by phone call"); None: the label
    help: Say | None = None  # what the add form says about it (where to find a chat id)
    needs: tuple[str, ...] = ()  # the CALLGOOSE_ settings it cannot send without (for the page's hint)
    instead: tuple[str, ...] = ()  # settings that do instead of ``needs`` (SMS: a gateway instead of Twilio)
    fields: tuple[Field, ...] = ()  # the first is kept as the address
    limit: int = 4096  # how much text a message may carry (the channel's own unit)
    follow_ups: bool = True  # gets "acknowledged by" and "resolved"
    buttons: bool = False  # its pages carry Acknowledge / Resolve buttons
    edits: bool = False  # a follow-up rewrites the pages it follows (Outgoing.earlier)
    exported: bool = True  # written to the configuration document
    form: bool = True  # added on My notifications by its fields (Web Push: by the browser instead)
    wakes: bool = True  # can wake a person (reports count its pages as interruptions; not email)
    calls: bool = False  # rings a phone: stricter limits on codes, tests and pages
    url_field: str | None = None  # the field whose URL the user gives (the SSRF guard checks it)
    links: bool = False  # each item of a page carries its own signed links (mail)
    config: dict[str, object] = {}  # the CALLGOOSE_ settings it reads, with their defaults

    def __init__(self):
        if self.noun is None:
            self.noun = self.label

    def ready(self, settings: Settings) -> bool:
        """Whether this server can send it: every setting it needs is set."""
        return all(settings.get(name) for name in self.needs)

    def check(self, values: dict, path: str = "") -> Address:
        """Check a method's fields (a form's or the document's): :raises SpecError:."""
        address, fmt, options = "", None, {}
        for f in self.fields:
            where = f"{path}.{f.key}" if path else f.key
            raw = values.get(f.key)
            if raw in (None, ""):
                if f.required and f.default is None:
                    raise SpecError(where, Say("is required"))
                if f.default is None:
                    continue
                raw = f.default
            kept = f.check(raw, where)
            if f.kept == "address":
                address = kept
            elif f.kept == "format":
                fmt = kept
            else:
                options[f.key] = kept
        return Address(address, fmt, options)

    def from_form(self, form) -> dict:
        """A form's values by field key: its first field is the form's ``address``."""
        return {f.key: form.get("address" if f.kept == "address" else f.key) for f in self.fields}

    def document(self, address: str, fmt: str | None, options: dict | None) -> dict:
        """A method's fields as the configuration document writes them."""
        stored = Address(address, fmt, options or {})
        found = {}
        for f in self.fields:
            value = stored.value(f.key, self.fields)
            if value not in (None, ""):
                found[f.key] = value
        return found

    def shown(self, address: str, options: dict | None) -> str:
        """The address as My notifications shows it."""
        return address

    def destination(self, target: str, options: dict) -> str:
        """Where its messages go, for the cap of senders per destination (a host, a provider)."""
        return self.name

    def callback(self, inbound: Inbound, settings: Settings) -> Callback:
        """Read and verify a provider's callback (``POST /channels/<name>/callback``): a button
        pressed, a message acknowledged. :raises Refused: it is not the provider's."""
        raise Refused("this channel takes no callbacks")

    def prepare(self, out: Outgoing) -> Transmit:
        """Word the message and return the call that sends it; raise Permanent when it cannot
        be built (retrying cannot build it either)."""
        raise NotImplementedError


def one_page(out: Outgoing) -> Item | None:
    """The page a message carries when it carries exactly one (it then tells its facts)."""
    first = out.items[0]
    return first if out.size == 1 and len(out.items) == 1 and first.paged else None


def facts(out: Outgoing) -> list[str]:
    """The lines below a lone page's headline, in order (engine.page.fact_lines: description,
    labels, runbook, repeats, when it opened); none for a bundle, a follow-up, a code or a test."""
    page = one_page(out)
    return [line.text for line in fact_lines(page, out.words)] if page is not None else []


def cut(text: str, limit: int, unit: str = "chars") -> str:
    """``text`` within ``limit`` characters (or UTF-8 bytes, ``unit="bytes"``), ending in "…"
    when cut."""
    if unit == "bytes":
        data = text.encode()
        if len(data) <= limit:
            return text
        return data[:limit - 3].decode(errors="ignore") + "…"
    return text if len(text) <= limit else text[:limit - 1] + "…"
