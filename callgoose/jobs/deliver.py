"""The delivery job: claim what the outbox has due, send it, record how it went.

Claiming and recording are short write transactions; sending happens between them, outside
any transaction, a few messages at a time. Ingestion never waits for any of it.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

from .. import clock
from ..delivery import Permanent, Settings, Temporary, mail, twilio, webhook
from ..engine.messages import Item, compose, webhook_body
from ..engine.signing import make_link, webhook_signature
from ..engine.words import from_data
from ..services import outbox
from ..services.languages import words_for
from ..store.transactions import run_write

log = logging.getLogger(__name__)
SENDERS = 4  # messages sent at once


def items_of(batch: outbox.Batch, settings: Settings, key: str, now: float, links: bool) -> list[Item]:
    found = []
    for row in batch.rows:
        body = row.body or {}
        url = f"{settings.base_url}/incidents/{row.incident_id}" if row.incident_id else None
        ack = resolve = None
        if links and row.kind == "page" and row.incident_id is not None:
            ack = f"{settings.base_url}/l/{make_link(key, row.incident_id, 'acknowledge', row.user_id, now)}"
            resolve = f"{settings.base_url}/l/{make_link(key, row.incident_id, 'resolve', row.user_id, now)}"
        found.append(Item(kind=row.kind, incident_id=row.incident_id, title=row.title or "",
                          service=row.service or "", urgency=row.urgency or "high", status=row.status or "",
                          actor=body.get("actor"), url=url, ack_url=ack, resolve_url=resolve,
                          text=from_data(body["say"]) if "say" in body else body.get("text")))
    return found


def event_chat(fmt: str, doc: dict, base_url: str) -> dict:
    """A service event as a chat message (a webhook whose format is slack or teams)."""
    incident = doc.get("incident") or {}
    item = Item(kind={"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}.get(
        doc.get("event"), "page"), incident_id=incident.get("id"), title=incident.get("title", ""),
        service=(incident.get("service") or {}).get("name", ""), urgency=incident.get("urgency", "high"),
        url=f"{base_url}/incidents/{incident.get('id')}")
    return webhook_body(fmt, compose([item]), [item], "", doc.get("sent_at", ""))


def send(batch: outbox.Batch, settings: Settings, key: str, now: float) -> str | None:
    """Send one message; return the provider's id, or raise Temporary / Permanent."""
    lead = batch.lead
    if lead.kind == "event":
        if batch.webhook_secret is None:
            raise Permanent("the webhook was deleted before it could be sent")
        doc = {**(lead.body or {}), "sent_at": clock.iso(clock.to_db(now))}
        if batch.format in ("slack", "teams"):
            doc = event_chat(batch.format, doc, settings.base_url)
        body = json.dumps(doc, ensure_ascii=False).encode()
        return webhook.post(settings, batch.target, body, {
            "Callgoose-Delivery": lead.delivery_id,
            "Callgoose-Signature": webhook_signature(batch.webhook_secret, int(now), body)})
    if not batch.target:
        raise Permanent("the contact method was deleted before it could be sent")
    items = items_of(batch, settings, key, now, links=batch.channel == "email")
    words = words_for(lead.language)  # the recipient's language
    message = compose(items, batch.size, words)
    if batch.channel == "email":
        return mail.send(settings, batch.target, message, lead.delivery_id)
    if batch.channel == "webhook":
        body = json.dumps(webhook_body(batch.format or "json", message, items, lead.delivery_id,
                                       clock.iso(clock.to_db(now)), words), ensure_ascii=False).encode()
        return webhook.post(settings, batch.target, body, {"Callgoose-Delivery": lead.delivery_id})
    if batch.channel == "sms":
        return twilio.send_sms(settings, batch.target, message.short)
    if batch.channel == "voice":
        return twilio.place_call(settings, batch.target, f"{settings.base_url}/twilio/voice/{lead.id}")
    raise Permanent(f"unknown channel {batch.channel!r}")


def _deliver(engine, batch: outbox.Batch, settings: Settings, key: str, now: float) -> str:
    provider = temporary = permanent = None
    try:
        provider = send(batch, settings, key, now)
    except Temporary as exc:
        temporary = str(exc)
    except Permanent as exc:
        permanent = str(exc)
    except Exception as exc:  # a bug must not leave the rows "sending" until they read "unknown"
        log.exception("notification %s could not be sent", batch.lead.id)
        temporary = f"{type(exc).__name__}: {exc}"
    return run_write(engine, lambda cursor: outbox.record(cursor, batch, now, provider_id=provider,
                                                           temporary=temporary, permanent=permanent))


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    settings = Settings.from_config(config)
    key = config["SECRET_KEY"]
    unknown = run_write(engine, lambda cursor: outbox.mark_unknown(cursor, now))
    claimed = run_write(engine, lambda cursor: outbox.claim(cursor, now))
    outcomes: dict[str, int] = {}
    if claimed.batches:
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(claimed.batches)),
                                thread_name_prefix="callgoose-send") as pool:
            for state in pool.map(lambda b: _deliver(engine, b, settings, key, now), claimed.batches):
                outcomes[state] = outcomes.get(state, 0) + 1
                keep_alive()
    if not (unknown or claimed.batches or claimed.postponed):
        return None
    parts = [f"{n} {state}" for state, n in sorted(outcomes.items())]
    if claimed.postponed:
        parts.append(f"{claimed.postponed} held by rate limits")
    if unknown:
        parts.append(f"{unknown} outcome unknown")
    return ", ".join(parts)
