"""What every importer needs to read an export: JSON files named in their faults, paged list
responses, names made valid for Callgoose, and time zones."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from ..engine.schedules import known_zone
from .base import ExportError, PlanItem, Verdict

# Callgoose's own rules for names (engine.oncall.POLICY_NAME, engine.config.SERVICE_NAME).
POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_BYTES = 64 * 1024 * 1024  # one file of an export


def load(directory: Path, name: str, required: bool = True):
    """The JSON in ``directory/name``; None when it is absent and not ``required``.

    :raises ExportError: a required file is missing, or a file is not JSON."""
    path = directory / name
    if not path.is_file():
        if required:
            raise ExportError(f"{name}: missing (see the docs for the request that saves it)")
        return None
    if path.stat().st_size > MAX_BYTES:
        raise ExportError(f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ExportError(f"{name}: not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ExportError(f"{name}: not JSON ({getattr(exc, 'msg', 'nested too deeply')}"
                          f"{f' at line {exc.lineno}' if isinstance(exc, json.JSONDecodeError) else ''})") from None


def listed(value, key: str, name: str) -> list[dict]:
    """The objects a list endpoint returned under ``key``: one response, several pages of
    responses in a JSON array, or the objects themselves in an array.

    :raises ExportError: anything else."""
    pages = value if isinstance(value, list) else [value]
    found: list[dict] = []
    for i, page in enumerate(pages):
        if isinstance(page, dict) and isinstance(page.get(key), list):
            found.extend(page[key])
        elif isinstance(value, list) and isinstance(page, dict) and key not in page and "id" in page:
            found.append(page)
        else:
            where = f"[{i}]" if isinstance(value, list) else ""
            raise ExportError(f"{name}{where}: expected the API's response, an object with a {key!r} list")
    for i, item in enumerate(found):
        if not isinstance(item, dict):
            raise ExportError(f"{name}: {key}[{i}] is not an object")
    return found


def objects(value, name: str, path: str, dicts: bool = True) -> list:
    """A list (of objects, with ``dicts``), or None read as an empty one.

    :raises ExportError: anything else."""
    if value is None:
        return []
    if not isinstance(value, list) or (dicts and not all(isinstance(v, dict) for v in value)):
        raise ExportError(f"{name}: {path} must be a list{' of objects' if dicts else ''}")
    return value


def ref(value) -> str | None:
    """The id of a reference (``{"id": "PABC123", "type": ...}``); None when it has none."""
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def text(obj: dict, key: str, name: str, path: str, required: bool = True) -> str | None:
    """A string field of an object; :raises ExportError: when required and missing."""
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None and not required:
        return None
    raise ExportError(f"{name}: {path}.{key} must be a non-empty string")


def instant(value, name: str, path: str) -> float:
    """An ISO 8601 time with an offset (as the APIs write them) as epoch seconds."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ExportError(f"{name}: {path} must be an ISO 8601 time with an offset, not {value!r}")
    return parsed.timestamp()


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Names:
    """Names made valid for Callgoose (``pattern``) and unique among those already given."""

    def __init__(self, pattern: re.Pattern, spaces: bool):
        self.pattern, self.spaces, self.taken = pattern, spaces, set()

    def give(self, original: str) -> str:
        name = original.strip()
        if not self.pattern.fullmatch(name):
            name = re.sub(r"[^A-Za-z0-9 ._-]+", " " if self.spaces else "-", name)
            name = re.sub(r"\s+", " " if self.spaces else "-", name).strip(" ._-")
            name = re.sub(r"-{2,}", "-", name)[:60].strip(" ._-") or "imported"
        base, n = name, 2
        while name.lower() in self.taken:
            name = f"{base[:60]}-{n}" if not self.spaces else f"{base[:60]} {n}"
            n += 1
        self.taken.add(name.lower())
        return name


def renamed(kind: str, original: str, name: str, source: str, why: str = "") -> PlanItem:
    """The plan item of a resource imported under ``name``: ✅, or ⚠️ when it was renamed."""
    if name == original:
        return PlanItem(kind, original, Verdict.CHANGED if why else Verdict.IMPORTED, why, source)
    note = f"imported as {name!r} (Callgoose names allow letters, digits, spaces, '.', '_' and '-')" \
        if kind != "service" else f"imported as {name!r} (service names allow letters, digits, '.', '_' and '-')"
    return PlanItem(kind, original, Verdict.CHANGED, f"{note}; {why}" if why else note, source)


# Rails (ActiveSupport) zone names some tools use, where the city is not the IANA name's.
RAILS_ZONES = {
    "Eastern Time (US & Canada)": "America/New_York", "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver", "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Alaska": "America/Juneau", "Hawaii": "Pacific/Honolulu", "Arizona": "America/Phoenix",
    "Atlantic Time (Canada)": "America/Halifax", "Newfoundland": "America/St_Johns",
    "Indiana (East)": "America/Indiana/Indianapolis", "Mexico City": "America/Mexico_City",
    "Brasilia": "America/Sao_Paulo", "Buenos Aires": "America/Argentina/Buenos_Aires",
    "UTC": "Etc/UTC", "Edinburgh": "Europe/London", "Bern": "Europe/Zurich", "Kyiv": "Europe/Kiev",
    "Mumbai": "Asia/Kolkata", "New Delhi": "Asia/Kolkata", "Chennai": "Asia/Kolkata", "Kolkata": "Asia/Kolkata",
    "Beijing": "Asia/Shanghai", "Osaka": "Asia/Tokyo", "Sapporo": "Asia/Tokyo", "Seoul": "Asia/Seoul",
    "Hong Kong": "Asia/Hong_Kong", "Wellington": "Pacific/Auckland", "Canberra": "Australia/Sydney",
    "Pretoria": "Africa/Johannesburg", "Abu Dhabi": "Asia/Dubai", "Muscat": "Asia/Muscat",
}
_REGIONS = ("Europe", "America", "Asia", "Australia", "Africa", "Pacific", "Atlantic", "Indian")


def zone_of(value) -> str | None:
    """An IANA zone for a zone name as the tool wrote it (IANA, or Rails' city names such as
    "Pacific Time (US & Canada)" or "Berlin"); None when there is none."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if known_zone(value):
        return value
    if value in RAILS_ZONES:
        return RAILS_ZONES[value]
    city = value.replace(" ", "_")
    return next((f"{r}/{city}" for r in _REGIONS if known_zone(f"{r}/{city}")), None)
