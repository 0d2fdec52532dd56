"""Group commit: the write transactions of concurrent calls, committed together (issue 22).

On SQLite one process's writers take their turns anyway (the write lock, ``BEGIN
IMMEDIATE``), and each turn pays for itself: the lock, BEGIN, and a commit whose fsync
(``synchronous=FULL``) waits for the disk with the lock held. Here the calls that arrive
while a transaction is running wait for it to end; then one of them, the leader, runs all
their works in one transaction, one after another as they would have run alone, and
commits once. Every caller returns only after the commit that holds its writes: nothing
durable is given up, and a batch of one is the transaction it always was.

A work that raises undoes the whole batch; each of its works then runs alone
(``run_write``, with its retries), so one call's failure is that call's alone, as before.
Works must be callable twice, as every ``run_write`` work is.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

from .hotpath import Cursor, write_cursor

T = TypeVar("T")
MAX_WORKS = 64  # a batch's size: its transaction holds the lock this many works' time at most


class _Slot:
    __slots__ = ("work", "done", "leads", "result", "error")

    def __init__(self, work):
        self.work = work
        self.done = threading.Event()
        self.leads = False  # woken to lead the next batch rather than with its outcome
        self.result = None
        self.error: BaseException | None = None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """One engine's batched write transactions (``engine.callgoose_batch``; SQLite only)."""

    def __init__(self, engine, run_alone: Callable[[Callable[[Cursor], T]], T]):
        self._engine = engine
        self._run_alone = run_alone  # store.transactions.run_write for this engine: retries included
        self._mutex = threading.Lock()
        self._queue: list[_Slot] = []
        self._leading = False
        self.batches = self.works = 0  # counted for the tests and bench/ (how much was shared)

    def run(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work(cursor)`` in a committed write transaction, maybe shared with others."""
        slot = _Slot(work)
        with self._mutex:
            self._queue.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            slot.done.wait()
            if not slot.leads:
                return slot.outcome()
            slot.done.clear()
        self._lead()
        return slot.outcome()

    def _lead(self) -> None:
        """Run the queue's first works as one transaction, then hand the lead on (or give it up)."""
        with self._mutex:
            batch, self._queue = self._queue[:MAX_WORKS], self._queue[MAX_WORKS:]
        try:
            self._commit(batch)
        finally:
            with self._mutex:
                following = self._queue[0] if self._queue else None
                self._leading = following is not None
            for slot in batch:
                slot.done.set()
            if following is not None:
                following.leads = True
                following.done.set()

    def _commit(self, batch: list[_Slot]) -> None:
        if len(batch) == 1:  # alone: the transaction it always was, run_write's retries included
            self._alone(batch[0])
            return
        try:
            with write_cursor(self._engine) as cursor:
                results = [slot.work(cursor) for slot in batch]
        except Exception:  # undone whole: each on its own, so that only the failing one fails
            for slot in batch:
                self._alone(slot)
            return
        except BaseException as exc:  # an interpreter shutting down: every caller hears it
            for slot in batch:
                slot.error = exc
            raise
        for slot, result in zip(batch, results):
            slot.result = result
        self.batches += 1
        self.works += len(batch)

    def _alone(self, slot: _Slot) -> None:
        try:
            slot.result = self._run_alone(slot.work)
        except Exception as exc:
            slot.error = exc
        else:
            self.batches += 1
            self.works += 1
