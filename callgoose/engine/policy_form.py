"""The escalation policy's form, as posted fields, and its faults in words. Pure: the page
posts strings, this turns them into rows that ``services.policies.save_policy`` checks (one place
for the rules), and a refused form is shown again from the same rows.

A level's fields: ``level{i}_users`` and ``level{i}_schedules`` (ids, several of each: a
schedule target pages whoever is on call in it when the level is notified) and
``level{i}_after`` (minutes to the next level). Empty slots are left out, so the level
numbers a fault names are the ones the form shows again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .words import Say

MAX_SLOTS = 20  # what the form shows at most (engine.paging.MAX_LEVELS)


@dataclass(frozen=True)
class LevelRow:
    after: str = ""  # as typed
    users: tuple[int, ...] = ()
    schedules: tuple[int, ...] = ()

    @property
    def minutes(self) -> int:
        """The typed minutes, or -1 (refused by the check) when they are not a whole number."""
        text = self.after.strip()
        return int(text) if text.isdigit() and len(text) < 7 else -1


@dataclass(frozen=True)
class PolicyForm:
    name: str = ""
    repeat: str = "0"
    levels: tuple[LevelRow, ...] = field(default_factory=tuple)

    @property
    def repeat_count(self) -> int:
        text = self.repeat.strip()
        return int(text) if text.isdigit() and len(text) < 4 else -1


def _ids(values) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(v) for v in values if str(v).isdigit() and len(str(v)) < 12))


def form_of(getlist, get) -> PolicyForm:
    """The posted form (``getlist(key)`` and ``get(key)`` read it) as rows, empty slots left out."""
    levels = []
    for i in range(MAX_SLOTS):
        row = LevelRow(str(get(f"level{i}_after") or "")[:20], _ids(getlist(f"level{i}_users")),
                       _ids(getlist(f"level{i}_schedules")))
        if row.users or row.schedules or row.after.strip():
            levels.append(row)
    return PolicyForm(str(get("name") or "")[:200], str(get("repeat") or "0")[:20], tuple(levels))


def form_of_levels(name: str, repeat: int, levels: list[dict]) -> PolicyForm:
    """A stored policy (its ``levels`` JSON) as the form shows it."""
    return PolicyForm(name, str(repeat), tuple(
        LevelRow(str(lv.get("escalate_after_minutes", "")),
                 tuple(int(t["user"]) for t in lv.get("targets", []) if "user" in t),
                 tuple(int(t["schedule"]) for t in lv.get("targets", []) if "schedule" in t))
        for lv in levels))


PATH = re.compile(r"levels\[(\d+)\](?:\.(targets|escalate_after_minutes))?(?:\[(\d+)\])?(?:\.\w+)?")


def in_words(path: str) -> Say:
    """``levels[1].targets[0]`` -> ``level 2, target 1``; ``levels[0].escalate_after_minutes``
    -> ``level 1, minutes to the next level`` (counted from 1, as the form shows them)."""
    found = PATH.fullmatch(path)
    if found is None:
        return {"name": Say("name"), "repeat": Say("repeat")}.get(path) or Say("levels")
    num = int(found[1]) + 1
    if found[3] is not None:
        return Say("level %(num)s, target %(target)s", num=num, target=int(found[3]) + 1)
    if found[2] == "escalate_after_minutes":
        return Say("level %(num)s, minutes to the next level", num=num)
    return Say("level %(num)s", num=num)
