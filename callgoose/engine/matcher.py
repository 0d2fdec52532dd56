"""Which of many items occur in a text, in one pass over the text (S16 at scale).

A service may hold 50 rules x 5 conditions x 20 items (S18). Trying each item with ``in``
costs one scan of the value per item: 5,000 scans of a 1 MiB payload, and items crafted
against the substring search (``"a"*100 + "b" + "a"*99`` on repetitive text) cost ms each.
So every item on one json key, across all of a service's rules, goes into one
multi-literal automaton (Hyperscan, each item reported once), and a condition then asks a
set. Maintenance tags work the same way over the whole payload.

The caller passes text that is already case-folded (S16), so the automaton matches bytes
exactly: UTF-8 is self-synchronising, so a byte substring of a folded text is a character
substring too. Without Hyperscan (a platform it has no build for) the same answers come
from ``in``, only slower.
"""

from __future__ import annotations

import threading
import weakref

try:
    import hyperscan
except ImportError:  # pragma: no cover - every supported platform has a wheel
    hyperscan = None

_local = threading.local()


class ItemMatcher:
    """A fixed set of folded items; :meth:`present` returns those that occur in a text."""

    def __init__(self, items: tuple[str, ...]):
        self.items = items
        self._database = None
        if hyperscan is not None and items:
            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            database.compile(expressions=[item.encode("utf-8") for item in items],
                             ids=list(range(len(items))), elements=len(items),
                             flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(items), literal=True)
            self._database = database

    def _scratch(self):
        # Scratch space may not be shared by two scans at once: one per thread and database.
        scratches = getattr(_local, "scratches", None)
        if scratches is None:
            scratches = _local.scratches = weakref.WeakKeyDictionary()
        scratch = scratches.get(self)
        if scratch is None:
            scratch = scratches[self] = hyperscan.Scratch(self._database)
        return scratch

    def present(self, folded: str) -> frozenset[int]:
        """The items that occur in ``folded``."""
        if not self.items:
            return frozenset()
        if self._database is None:
            return frozenset(item for item in self.items if item in folded)
        found: set[int] = set()

        def on_match(item_id, _start, _end, _flags, _context):
            found.add(item_id)
            return len(found) == len(self.items)  # True stops the scan: everything is found

        try:
            self._database.scan(folded.encode("utf-8"), match_event_handler=on_match,
                                scratch=self._scratch())
        except hyperscan.ScanTerminated:
            pass
        return frozenset(self.items[i] for i in found)
