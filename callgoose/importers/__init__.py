"""Importers (issue 18, item 4): read what another tool's REST API returned, saved as files,
into Callgoose's configuration document, a plan and the old tool's rendered rota.

Each tool has a module exposing ``read(directory: pathlib.Path) -> Imported``
(:mod:`callgoose.importers.base`), loaded only when asked for; what is the same for every
tool (checking the rota, wording the plan) lives here, in :mod:`.check` and :mod:`.plan`.
Pure: nothing here imports Flask or SQLAlchemy (services/importing.py applies a document).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from .base import ExportError, Imported

IMPORTERS = {
    "pagerduty": "callgoose.importers.pagerduty",
    "opsgenie": "callgoose.importers.opsgenie",
    "grafana-oncall": "callgoose.importers.grafana_oncall",
}
TOOL_NAMES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie", "grafana-oncall": "Grafana OnCall"}


def importer(tool: str):
    """The module that reads ``tool``'s export.

    :raises ExportError: an unknown tool, or one whose importer this version lacks."""
    name = IMPORTERS.get(tool)
    if name is None:
        raise ExportError(f"unknown tool {tool!r}: choose one of {', '.join(IMPORTERS)}")
    try:
        return import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # a module the importer needs is missing: a real fault
            raise
        raise ExportError(f"this version of Callgoose has no {TOOL_NAMES[tool]} importer yet") from None


def read(tool: str, directory: Path) -> Imported:
    """Read ``tool``'s export in ``directory``.

    :raises ExportError: the directory does not hold a readable export of that tool."""
    if not directory.is_dir():
        raise ExportError("not a directory")
    return importer(tool).read(directory)


__all__ = ["IMPORTERS", "TOOL_NAMES", "ExportError", "Imported", "importer", "read"]
