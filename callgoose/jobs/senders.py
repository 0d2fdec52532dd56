"""The worker's senders: threads that outlive a tick, with a cap per destination.

The delivery job claims only what a sender is free to start at once, so a claimed row never
waits in a queue while its claim's deadline runs; it hands each message to a thread and
returns, and the worker goes on ticking (escalations, heartbeats, the next claim) while slow
sends are in flight. No destination (a webhook's host, the SMTP server, the Twilio API) may
hold more than ``per_destination`` senders, so one slow receiver cannot occupy them all.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)


class Room:
    """What a claim may still start: free senders, and each destination's share of them."""

    def __init__(self, free: int, busy: Counter, per_destination: int):
        self.free, self.busy, self.per_destination = free, busy, per_destination

    def take(self, destination: str) -> bool:
        """Reserve a sender for a message to ``destination``, if there is one for it."""
        if self.free <= 0 or self.busy[destination] >= self.per_destination:
            return False
        self.free -= 1
        self.busy[destination] += 1
        return True


class Senders:
    """A pool of sender threads; :meth:`room` before a claim, :meth:`start` after it."""

    def __init__(self, threads: int, per_destination: int, on_free: Callable[[], None] = lambda: None):
        self.on_free = on_free  # the worker's wake(): a freed sender may claim what waited for it
        self.threads = max(1, threads)
        self.per_destination = max(1, min(per_destination, self.threads))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="callgoose-send")
        self._lock = threading.Condition()
        self._busy: Counter = Counter()
        self._leads: set[int] = set()

    def room(self) -> Room:
        """A fresh reservation sheet (one per claim attempt: a retried transaction starts over)."""
        with self._lock:
            return Room(self.threads - sum(self._busy.values()), Counter(self._busy), self.per_destination)

    def in_flight(self) -> set[int]:
        """The lead notification ids being sent by this process now."""
        with self._lock:
            return set(self._leads)

    def start(self, destination: str, lead_id: int, send: Callable[[], str]) -> Future:
        """Send in a thread of the pool; the sender is free again when ``send`` returns."""
        with self._lock:
            self._busy[destination] += 1
            self._leads.add(lead_id)

        def run() -> str:
            try:
                return send()
            except Exception:
                log.exception("notification %s: sending or recording failed", lead_id)
                raise
            finally:
                with self._lock:
                    self._busy[destination] -= 1
                    if self._busy[destination] <= 0:
                        del self._busy[destination]
                    self._leads.discard(lead_id)
                    self._lock.notify_all()
                self.on_free()
        return self._pool.submit(run)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no send is in flight (tests, shutdown); False if some still are."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._leads, timeout)

    def shutdown(self) -> None:
        """Take no more sends; those in flight finish (each within its deadline) by themselves."""
        self._pool.shutdown(wait=False, cancel_futures=True)
