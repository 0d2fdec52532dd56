"""Pushover emergencies that expired unacknowledged (issue 17, item 4): their person moves on
to their next notification rule, as after a call nobody answered.

Each minute: read the sent emergency pages whose incident still waits (a short read), ask
Pushover about each receipt (``GET /1/receipts/<receipt>.json``, outside any transaction), and
record each that expired unacknowledged through services.evidence (one short write each).
The job runs in the worker's tick, which escalations and everyone's pages share: all its
questions together stay within one send's deadline (``DELIVERY_DEADLINE_SECONDS``); what is
left is asked the next minute.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from ..channels.pushover import API_BASE, EMERGENCY
from ..delivery import Permanent, Settings, Temporary, webhook
from ..delivery.deadline import Budget
from ..services import evidence
from .deliver import send_seconds

log = logging.getLogger(__name__)


def run(engine, config, now: float, keep_alive=lambda: None) -> str | None:
    if not config.get("PUSHOVER_APP_TOKEN"):
        return None  # no Pushover here: nothing to ask (and no other setting read)
    settings = Settings.from_config(config)
    token = settings.get("PUSHOVER_APP_TOKEN")
    base = (settings.get("PUSHOVER_API_BASE") or API_BASE).rstrip("/")
    # An emergency can only have expired once its ``expire`` has passed since it was sent.
    found = evidence.expiring(engine, now, int(EMERGENCY["expire"]), "pushover")
    moved = 0
    give_up = time.monotonic() + send_seconds(config)
    for notification_id, receipt in found:
        keep_alive()
        left = give_up - time.monotonic()
        if left <= 0:
            break  # the rest next minute: the tick is everyone's
        url = f"{base}/1/receipts/{quote(receipt, safe='')}.json?token={quote(token, safe='')}"
        try:
            with Budget(left):
                doc = webhook.request(settings, "GET", url, headers={"Accept": "application/json"},
                                      guard=False).json()
        except (Temporary, Permanent) as exc:
            log.warning("receipts: Pushover receipt of notification %s not read: %s", notification_id, exc)
            continue
        if not isinstance(doc, dict) or doc.get("status") != 1:
            continue  # not a receipt Pushover knows (asked again only until the window below ends)
        if str(doc.get("acknowledged")) == "1":
            evidence.answered(notification_id, now, engine)
        elif str(doc.get("expired")) == "1":
            moved += bool(evidence.not_answered(notification_id, "expired", now, engine).recorded)
    return f"{moved} expired Pushover emergencies moved on" if moved else None
