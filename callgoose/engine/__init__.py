"""The pure decision core: body reading, keys, matching, dedup and maintenance decisions.

Nothing here imports Flask, SQLAlchemy or Werkzeug, or does I/O; ``now`` is always
passed in as epoch seconds. ``tests/test_engine_purity.py`` keeps it that way.
"""

from .config import export_config, parse_config
from .decide import (
    Evaluation,
    Flags,
    MaintenanceWindow,
    Marker,
    ServiceSpec,
    evaluate,
    in_maintenance,
    is_replay,
    mapping_key,
    resolve_values,
)
from .payload import Part, Payload, clean, split
from .rules import Condition, Limits, ResolveRule, SpecError, TriggerRule

__all__ = [
    "Condition", "Evaluation", "Flags", "Limits", "MaintenanceWindow", "Marker", "Part", "Payload",
    "ResolveRule", "ServiceSpec", "SpecError", "TriggerRule", "clean", "evaluate",
    "export_config", "in_maintenance", "is_replay", "mapping_key", "parse_config",
    "resolve_values", "split",
]
