"""The delivery job: claim what the outbox has due, send it, record how it went.

Claiming and recording are short write transactions; sending happens between them, outside
any transaction, in the worker's sender threads (jobs/senders.py), each send within its own
deadline. Ingestion never waits for any of it, and neither does the worker's next tick.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Callable

from .. import channels, clock
from ..channels.base import Earlier, Outgoing
from ..delivery import Permanent, Settings, Temporary, webhook
from ..delivery.deadline import Budget
from ..engine.messages import Item, compose, webhook_body
from ..engine.page import first_lines, web_url
from ..engine.paging import SEND_DEADLINE_SECONDS
from ..engine.signing import make_action, webhook_signature
from ..engine.words import from_data
from ..services import outbox
from ..services.languages import words_for
from ..store.transactions import run_read, run_write, transient_errors
from .senders import Senders

log = logging.getLogger(__name__)
THREADS = 8  # messages sent at once (CALLGOOSE_DELIVERY_SENDERS)
PER_DESTINATION = 3  # of them at most to one host (CALLGOOSE_DELIVERY_SENDERS_PER_DESTINATION)
DEADLINE_SECONDS = 20  # one send, all of it (CALLGOOSE_DELIVERY_DEADLINE_SECONDS); at most half the claim's
RECORD_SECONDS = 300  # how long recording an outcome is tried while the database refuses it
RECORD_PAUSE_SECONDS = 0.5


def items_of(batch: outbox.Batch, settings: Settings, key: str, now: float, links: bool) -> list[Item]:
    found = []
    for row in batch.rows:
        body = row.body or {}
        url = f"{settings.base_url}/incidents/{row.incident_id}" if row.incident_id else None
        ack = resolve = None
        if links and row.kind == "page" and row.incident_id is not None:
            ack = action_url(settings, key, row.id, "acknowledge", False, now)
            resolve = action_url(settings, key, row.id, "resolve", False, now)
        facts = row.facts if isinstance(row.facts, dict) else {}
        found.append(Item(kind=row.kind, incident_id=row.incident_id, title=row.title or "",
                          service=row.service or "", urgency=row.urgency or "high", status=row.status or "",
                          actor=body.get("actor"), url=url, ack_url=ack, resolve_url=resolve,
                          text=from_data(body["say"]) if "say" in body else body.get("text"),
                          description=first_lines(row.description), labels=labels_of(facts),
                          runbook=web_url(facts.get("runbook")), repeats=row.repeats, opened=row.opened,
                          zone=row.time_zone or "UTC", priority=row.priority))
    return found


def labels_of(facts: dict) -> tuple[tuple[str, str], ...]:
    """The stored labels as pairs of text (a row written by hand or by an older release may
    hold anything)."""
    labels = facts.get("labels")
    if not isinstance(labels, list):
        return ()
    return tuple((pair[0], pair[1]) for pair in labels
                 if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair))


def earlier_of(batch: outbox.Batch, settings: Settings) -> tuple[Earlier, ...]:
    """The pages sent before that a follow-up's incidents were in, each with every incident it
    carried as it stands now (a channel that edits its pages rewrites them)."""
    pages: dict[int, tuple[str, dict[int, Item]]] = {}
    for lead, provider_id, incident_id, title, urgency, status, service in batch.earlier:
        carried = pages.setdefault(lead, (provider_id, {}))[1]
        carried.setdefault(incident_id, Item(kind="page", incident_id=incident_id, title=title or "",
                                             service=service or "", urgency=urgency or "high", status=status or "",
                                             url=f"{settings.base_url}/incidents/{incident_id}"))
    return tuple(Earlier(lead, provider_id, tuple(carried.values())) for lead, (provider_id, carried) in pages.items())


def action_url(settings: Settings, key: str, notification_id: int, action: str, whole: bool, now: float) -> str:
    """The absolute URL of a signed action (web/outside.py: a GET asks, a POST acts)."""
    return f"{settings.base_url}/l/{make_action(key, notification_id, action, whole, now)}"


def event_chat(fmt: str, doc: dict, base_url: str) -> dict:
    """A service event as a chat message (a webhook whose format is slack or teams)."""
    incident = doc.get("incident") or {}
    item = Item(kind={"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}.get(
        doc.get("event"), "page"), incident_id=incident.get("id"), title=incident.get("title", ""),
        service=(incident.get("service") or {}).get("name", ""), urgency=incident.get("urgency", "high"),
        priority=incident.get("priority"), url=f"{base_url}/incidents/{incident.get('id')}")
    return webhook_body(fmt, compose([item]), [item], "", doc.get("sent_at", ""))


def _build(batch: outbox.Batch, settings: Settings, key: str, now: float) -> Callable[[], str | None]:
    """Build one message; return the call that sends it (or raise Permanent)."""
    lead = batch.lead
    if lead.kind == "event":
        if batch.webhook_secret is None:
            raise Permanent("the webhook was deleted before it could be sent")
        doc = {**(lead.body or {}), "sent_at": clock.iso(clock.to_db(now))}
        if batch.format in ("slack", "teams"):
            doc = event_chat(batch.format, doc, settings.base_url)
        body = json.dumps(doc, ensure_ascii=False).encode()
        headers = {"Callgoose-Delivery": lead.delivery_id,
                   "Callgoose-Signature": webhook_signature(batch.webhook_secret, int(now), body)}
        return lambda: webhook.post(settings, batch.target, body, headers)
    if not batch.target:
        raise Permanent("the contact method was deleted before it could be sent")
    channel = channels.get(batch.channel)
    if channel is None:
        raise Permanent(f"unknown channel {batch.channel!r}")
    items = items_of(batch, settings, key, now, links=channel.links)
    words = words_for(lead.language)  # the recipient's language
    out = Outgoing(settings=settings, target=batch.target, format=batch.format, options=batch.options or {},
                   items=items, message=compose(items, batch.size, words), words=words,
                   delivery_id=lead.delivery_id, notification_id=lead.id,
                   row_ids=tuple(r.id for r in batch.rows if r.incident_id is not None), kind=lead.kind,
                   size=batch.size, now=now, earlier=earlier_of(batch, settings),
                   sign=lambda nid, action: action_url(settings, key, nid, action, True, now))
    return channel.prepare(out)


def send(batch: outbox.Batch, settings: Settings, key: str, now: float) -> str | None:
    """Send one message; return the provider's id, or raise Temporary / Permanent.

    A message that cannot be built (a header with a line break from a row stored long ago, a
    bug in wording it) fails for good, alone: retrying cannot build it either."""
    try:
        transmit = _build(batch, settings, key, now)
    except (Temporary, Permanent):
        raise
    except Exception as exc:
        log.exception("notification %s could not be built", batch.lead.id)
        raise Permanent(f"the message could not be built: {type(exc).__name__}: {exc}"[:500]) from None
    return transmit()


def destination(channel: str, target: str, options: dict | None = None) -> str:
    """Where a message goes, for the cap of senders per destination: a webhook's host, the
    SMTP server, a provider's API (each channel says)."""
    found = channels.get(channel)
    return found.destination(target, options or {}) if found is not None else channel


def record(engine, batch: outbox.Batch, now: float, **outcome) -> str:
    """Write how a message went, trying again while the database is locked or away (a send
    that certainly failed must not read "outcome unknown" because the record was refused)."""
    give_up = time.monotonic() + RECORD_SECONDS
    while True:
        try:
            return run_write(engine, lambda cursor: outbox.record(cursor, batch, now, **outcome))
        except transient_errors(engine) as exc:
            if time.monotonic() > give_up:
                raise
            log.warning("notification %s: recording its outcome failed, trying again: %s", batch.lead.id,
                        type(exc).__name__)
            time.sleep(RECORD_PAUSE_SECONDS)


def _deliver(engine, batch: outbox.Batch, settings: Settings, key: str, now: float, seconds: float) -> str:
    """Send one message within its deadline, then record it; ``now`` is the claim's (the
    outcome is recorded at the claim's clock plus the time the send took)."""
    provider = temporary = permanent = None
    started = time.monotonic()
    try:
        with Budget(seconds):
            provider = send(batch, settings, key, now)
    except Temporary as exc:
        temporary = str(exc)
    except Permanent as exc:
        permanent = str(exc)
    except Exception as exc:  # a bug must not leave the rows "sending" until they read "unknown"
        log.exception("notification %s could not be sent", batch.lead.id)
        temporary = f"{type(exc).__name__}: {exc}"
    return record(engine, batch, now + (time.monotonic() - started), provider_id=provider,
                  temporary=temporary, permanent=permanent)


def send_seconds(config) -> float:
    """Each send's overall deadline, kept well below the claim's (SEND_DEADLINE_SECONDS)."""
    seconds = float(config.get("DELIVERY_DEADLINE_SECONDS") or DEADLINE_SECONDS)
    return max(1.0, min(seconds, SEND_DEADLINE_SECONDS / 2))


def senders_for(config, on_free=lambda: None) -> Senders:
    return Senders(int(config.get("DELIVERY_SENDERS") or THREADS),
                   int(config.get("DELIVERY_SENDERS_PER_DESTINATION") or PER_DESTINATION), on_free)


def run(engine, config, now: float, keep_alive=lambda: None, senders: Senders | None = None) -> str | None:
    """Mark what died mid-send, claim what a sender is free for, and start sending it.

    With ``senders`` (the worker's pool) the sends go on after this returns; without (tests,
    a one-off run) every claimed message is sent before it returns."""
    settings = Settings.from_config(config)
    key, seconds = config["SECRET_KEY"], send_seconds(config)
    ours = senders is None
    if not run_read(engine, lambda cursor: outbox.has_work(cursor, now)):
        return None  # an idle tick: one read, no write transaction
    senders = senders or senders_for(config)
    unknown = run_write(engine, lambda cursor: outbox.mark_unknown(cursor, now, senders.in_flight()))

    def claim(cursor):
        room = None if ours else senders.room()  # alone, it sends whatever is due (queued here)
        return outbox.claim(cursor, now, room=room and (
            lambda ch, target, options=None: room.take(destination(ch, target, options))))
    claimed = run_write(engine, claim)
    started = [senders.start(destination(b.channel, b.target, b.options), b.lead.id,
                             lambda b=b: _deliver(engine, b, settings, key, now, seconds)) for b in claimed.batches]
    outcomes: dict[str, int] = {}
    if ours:
        for future in started:
            state = future.result()
            outcomes[state] = outcomes.get(state, 0) + 1
            keep_alive()
        senders.shutdown()
    elif started:
        outcomes["started"] = len(started)
    if not (unknown or claimed.batches or claimed.postponed or claimed.held):
        return None
    parts = [f"{n} {state}" for state, n in sorted(outcomes.items())]
    if claimed.held:
        parts.append(f"{claimed.held} held (shadow run)")
    if claimed.postponed:
        parts.append(f"{claimed.postponed} held by rate limits")
    if unknown:
        parts.append(f"{unknown} outcome unknown")
    return ", ".join(parts)
