"""What every importer returns (issue 18, item 4): the configuration document it made, the
plan of what became of each resource, and the old tool's rendered rota to check against.

Pure: an importer reads the JSON files saved from the old tool's REST API (a directory), and
returns :class:`Imported`; it imports neither Flask nor SQLAlchemy. Checking the rota and
applying the document are the framework's (:mod:`callgoose.importers`), once for all tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(str, Enum):
    IMPORTED = "imported"  # ✅ as it was
    CHANGED = "changed"  # ⚠️ imported with a change: ``why`` says what and why
    SKIPPED = "skipped"  # ❌ not importable: ``why`` says why

    @property
    def mark(self) -> str:
        return {"imported": "✅", "changed": "⚠️", "skipped": "❌"}[self.value]


@dataclass(frozen=True)
class PlanItem:
    """One resource of the old tool and what became of it."""

    kind: str  # user | contact_method | notification_rule | schedule | layer | override | policy | service | rota
    name: str  # as the old tool names it ("Ana Ortiz", "Primary", "Checkout API")
    verdict: Verdict
    why: str = ""  # required for CHANGED and SKIPPED; English, one sentence
    source: str = ""  # the file and id it came from, e.g. "schedules/PABC123.json"


@dataclass(frozen=True)
class RotaEntry:
    """One entry of the old tool's own rendered rota (PagerDuty's
    ``final_schedule.rendered_schedule_entries``, Opsgenie's timeline, Grafana OnCall's
    final shifts): who it says is on call from ``start`` to ``end`` (epoch seconds)."""

    schedule: str  # the Callgoose schedule name it was imported as
    start: float
    end: float
    users: tuple[str, ...]  # emails; () when the old tool had nobody on call


@dataclass(frozen=True)
class Imported:
    tool: str  # pagerduty | opsgenie | grafana-oncall
    document: dict  # the configuration document (S34 and issue 9's users, schedules, policies, services)
    plan: tuple[PlanItem, ...] = ()
    rota: tuple[RotaEntry, ...] = field(default=())


class ExportError(ValueError):
    """The directory does not hold a readable export (a file missing, not JSON, the wrong
    shape): the message names the file and what is wrong."""
