"""Telegram's updates by long poll, for a server Telegram cannot reach (``TELEGRAM_UPDATES=poll``):
behind NAT, with no public URL, button presses still arrive.

The leader runs :func:`run` on every tick; it returns at once, keeping one thread of this
process polling ``getUpdates`` (a long poll of ``TELEGRAM_POLL_SECONDS``, outside any
transaction and outside the tick, so no other job waits for it). Each update goes through the
webhook's own handler (``services.actions.callback``, in an application context of the
thread's), so a press acts exactly as it does by webhook. The thread stops by itself when no
tick has renewed it for a worker lease: a process that is no longer the leader stops polling.

The offset is kept in memory only. Telegram keeps the updates not yet confirmed (for 24 hours)
and hands them out again after a restart or to a new leader, and a press acted on twice
changes nothing the second time: its signed action works once.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from .. import clock
from ..channels import telegram
from ..channels.base import Inbound
from ..delivery import Permanent, Settings, Temporary
from ..delivery.deadline import Budget
from ..services import actions
from ..services.languages import words_for

log = logging.getLogger(__name__)
KEY = "callgoose_telegram_poller"  # the app's poller, in app.extensions
PAUSE_SECONDS = 5  # after a failed poll
FAILING_SECONDS = 60  # a poll failing this long is the job's error (/healthz, the admins' banner)
TRIES = 3  # an update whose handling fails (the database away) is tried this often, then skipped


def run(engine, config, now: float, keep_alive=lambda: None, app=None) -> str | None:
    """Keep this process's poller running while it leads; raise while polling keeps failing."""
    if app is None or not telegram.polling(Settings.from_config(config)) or not config.get("TELEGRAM_BOT_TOKEN"):
        return None
    poller = app.extensions.get(KEY) or app.extensions.setdefault(KEY, Poller(app))
    poller.renew(float(config.get("WORKER_LEASE_SECONDS") or 20))
    failing = poller.failing()
    if failing:
        raise RuntimeError(f"Telegram updates cannot be fetched: {failing}")
    return None


def poll_seconds(settings: Settings) -> int:
    """How long one long poll waits (TELEGRAM_POLL_SECONDS: 1-50, else 20)."""
    try:
        return min(max(int(settings.get("TELEGRAM_POLL_SECONDS") or 20), 1), 50)
    except ValueError:
        return 20


def stop(app, timeout: float = 5) -> None:
    """Stop the app's poller (tests; a process that stops the worker)."""
    poller = app.extensions.get(KEY)
    if poller is not None:
        poller.stop(timeout)


class Poller:
    """One thread that long-polls while ticks renew it."""

    def __init__(self, app):
        self.app = app
        self.offset: int | None = None
        self.until = 0.0  # time.monotonic() after which the thread stops unless renewed
        self.error: str | None = None
        self.failing_since: float | None = None
        self.tries: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def renew(self, seconds: float) -> None:
        with self._lock:
            self.until = time.monotonic() + seconds
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="callgoose-telegram", daemon=True)
                self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def failing(self) -> str | None:
        """The poll's error, once it has failed for :data:`FAILING_SECONDS`."""
        since = self.failing_since
        return self.error if since is not None and time.monotonic() - since > FAILING_SECONDS else None

    def _loop(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self.until:
            settings = Settings.from_config(self.app.config)
            seconds = poll_seconds(settings)
            try:
                with Budget(seconds + settings.timeout):  # a server that drips cannot hold the poll
                    updates = telegram.get_updates(settings, self.offset, seconds)
            except (Temporary, Permanent) as exc:
                if str(exc) != self.error:
                    log.warning("telegram: getUpdates failed: %s", exc)
                self.error = str(exc)
                self.failing_since = self.failing_since or time.monotonic()
                self._stop.wait(PAUSE_SECONDS)
                continue
            self.error = self.failing_since = None
            for update in updates:
                if not self._handle(update, settings):
                    self._stop.wait(PAUSE_SECONDS)
                    break  # from this update again: it is not confirmed until the offset passes it
                self.offset = update["update_id"] + 1

    def _handle(self, update: dict, settings: Settings) -> bool:
        """Hand one update to the webhook's handler, as Telegram would have POSTed it; False
        when it failed and should be tried again."""
        update_id = update["update_id"]
        inbound = Inbound(headers={telegram.SECRET_HEADER: telegram.webhook_secret(
            settings.get("SECRET_KEY") or "", settings.get("TELEGRAM_BOT_TOKEN") or "")},
            body=json.dumps(update).encode(), form={}, args={}, url="", words_for=words_for)
        try:
            with self.app.app_context():
                actions.callback("telegram", inbound, self.app.config["SECRET_KEY"], self.app.config, clock.now())
        except Exception:
            self.tries[update_id] = self.tries.get(update_id, 0) + 1
            log.exception("telegram: update %s could not be handled (try %s of %s)", update_id,
                          self.tries[update_id], TRIES)
            if self.tries[update_id] < TRIES:
                return False
        self.tries.pop(update_id, None)
        return True
