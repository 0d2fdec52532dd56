"""The schedule editor's form, as plain text fields, and its way to and from the
configuration document's ``schedules[]`` entry. Pure: the page posts strings, this turns them
into the document that :func:`engine.oncall.build_schedule` checks (one place for the rules).

A layer's fields: ``name``, ``users`` (emails, one per line, in rotation order), ``start``
(``YYYY-MM-DDTHH:MM`` local), ``unit`` and ``count`` (the shift), and ``restrictions`` in
words: ``mon-fri 09:00-17:00; sat,sun 10:00-14:00`` (the days a window starts on, then its
local times; ``to`` is exclusive and ``to`` <= ``from`` crosses midnight).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .rules import SpecError
from .schedules import DAYS
from .words import Say

MAX_FORM_LAYERS = 20
FIELDS = ("name", "users", "start", "unit", "count", "restrictions")
WINDOW = re.compile(r"\s*([a-z,\s-]+?)\s+(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*")
LAYER_KEY = re.compile(r"layers-(\d{1,3})-(name|users|start|unit|count|restrictions)")


@dataclass(frozen=True)
class LayerRow:
    name: str = ""
    users: str = ""
    start: str = ""
    unit: str = "weeks"
    count: str = "1"
    restrictions: str = ""


def _days_text(days: list[str]) -> str:
    """``["mon", "tue", "wed", "fri"]`` -> ``mon-wed,fri`` (runs of three or more as ranges)."""
    order = sorted({DAYS.index(d) for d in days if d in DAYS})
    runs: list[list[int]] = []
    for d in order:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAYS[run[0]]}-{DAYS[run[-1]]}")
        else:
            parts.extend(DAYS[d] for d in run)
    return ",".join(parts)


def restrictions_text(windows: list[dict]) -> str:
    return "; ".join(f"{_days_text(w.get('days', []))} {w.get('from', '')}-{w.get('to', '')}" for w in windows)


def _days(text: str, path: str) -> list[str]:
    found: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "-" in part:
            first, _, last = (p.strip() for p in part.partition("-"))
            if first not in DAYS or last not in DAYS:
                raise SpecError(path, Say("%(part)s is not a range of days (write mon-fri)", part=repr(part)))
            a, b = DAYS.index(first), DAYS.index(last)
            found += [DAYS[(a + k) % 7] for k in range((b - a) % 7 + 1)]
        elif part in DAYS:
            found.append(part)
        else:
            raise SpecError(path, Say(
                    "%(part)s is not a day (write %(value)s)", part=repr(part), value=', '.join(DAYS)))
    if not found:
        raise SpecError(path, Say("names no day"))
    return [d for d in DAYS if d in found]


def parse_restrictions(text: str, path: str) -> list[dict]:
    """``mon-fri 09:00-17:00; sun 22:00-06:00`` -> the document's restriction windows."""
    windows = []
    for k, part in enumerate(filter(None, (p.strip() for p in re.split(r"[;\n]", text.lower())))):
        match = WINDOW.fullmatch(part)
        if not match:
            raise SpecError(f"{path}[{k}]", Say(
                    "%(part)s is not a window (write days then times, e.g. mon-fri 09:00-17:00)", part=repr(part)))
        windows.append({"days": _days(match[1], f"{path}[{k}].days"), "from": match[2], "to": match[3]})
    return windows


def rows_of(doc: dict) -> list[LayerRow]:
    """The document entry's layers as the form shows them."""
    return [LayerRow(str(lv.get("name", "")), "\n".join(map(str, lv.get("users", []))), str(lv.get("start", "")),
                     str(lv.get("shift", {}).get("unit", "weeks")), str(lv.get("shift", {}).get("count", 1)),
                     restrictions_text(lv.get("restrictions", [])))
            for lv in doc.get("layers", [])]


def rows_from_form(form: dict, action: str) -> list[LayerRow]:
    """The posted layer rows in their order, after ``action``: ``add`` (a new empty layer at
    the end), ``remove-N`` or ``up-N`` (N counts from 0 in the posted order)."""
    found: dict[int, dict] = {}
    for key, value in form.items():
        match = LAYER_KEY.fullmatch(key)
        if match:
            found.setdefault(int(match[1]), {})[match[2]] = str(value)[:20000]
    rows = [replace(LayerRow(), **found[i]) for i in sorted(found)][:MAX_FORM_LAYERS]
    verb, _, number = action.partition("-")
    at = int(number) if number.isdigit() else -1
    if verb == "add" and len(rows) < MAX_FORM_LAYERS:
        rows.append(LayerRow(name=f"layer {len(rows) + 1}"))
    elif verb == "remove" and 0 <= at < len(rows):
        del rows[at]
    elif verb == "up" and 0 < at < len(rows):
        rows[at - 1], rows[at] = rows[at], rows[at - 1]
    return rows


def document_of_rows(name: str, time_zone: str, rows: list[LayerRow], path: str = "schedule") -> dict:
    """The document entry the form says (without overrides: the editor leaves them as they are).

    :raises SpecError: a shift count or restriction that is not written as one."""
    layers = []
    for i, row in enumerate(rows):
        lpath = f"{path}.layers[{i}]"
        count = row.count.strip()
        if not count.isdigit():
            raise SpecError(f"{lpath}.shift.count", Say("must be a whole number from 1 to 1000"))
        layer = {"name": row.name.strip(), "users": [u.strip() for u in re.split(r"[\n,]", row.users) if u.strip()],
                 "start": row.start.strip(), "shift": {"unit": row.unit.strip(), "count": int(count[:6])}}
        windows = parse_restrictions(row.restrictions, f"{lpath}.restrictions")
        if windows:
            layer["restrictions"] = windows
        layers.append(layer)
    return {"name": name.strip(), "time_zone": time_zone.strip(), "layers": layers}


def in_words(path: str) -> str:
    """``schedule.layers[1].users[0]`` -> ``layer 2, users 1`` for the person reading the form."""
    words = re.sub(r"\[(\d+)\]", lambda m: f" {int(m[1]) + 1}", path.removeprefix("schedule.").removeprefix("schedule"))
    return words.replace("layers", "layer").replace(".", ", ").replace("shift, ", "shift ") or "schedule"
