"""The plan of an import, as data (for the dashboard) and as text (the CLI and
``callgoose-import-plan.txt``): every resource with ✅ imported, ⚠️ imported with a change or
❌ not importable, grouped by kind, then the rota check and each mismatch."""

from __future__ import annotations

from . import TOOL_NAMES
from .base import Imported, Verdict
from .check import RotaCheck

KINDS = {  # the order the plan lists kinds in, and their headings
    "user": "Users",
    "contact_method": "Contact methods",
    "notification_rule": "Notification rules",
    "schedule": "Schedules",
    "layer": "Schedule layers",
    "override": "Overrides",
    "policy": "Escalation policies",
    "service": "Services",
    "rota": "Rendered rota",
}


def people_names(doc: dict) -> dict[str, str]:
    """Each user's name by email, to word who is on call."""
    return {str(u.get("email", "")).lower(): str(u.get("name") or u.get("email"))
            for u in doc.get("users", []) if isinstance(u, dict)}


def who(users: tuple[str, ...], names: dict[str, str]) -> str:
    return ", ".join(names.get(u, u) for u in users) if users else "nobody"


def data(imported: Imported, rota: RotaCheck) -> dict:
    """The plan as plain data: counts per verdict, items grouped by kind, the rota check."""
    groups: dict[str, list[dict]] = {}
    for item in imported.plan:
        groups.setdefault(item.kind, []).append({
            "kind": item.kind, "name": item.name, "verdict": item.verdict.value, "mark": item.verdict.mark,
            "why": item.why, "source": item.source})
    order = list(KINDS) + sorted(set(groups) - set(KINDS))
    names = people_names(imported.document)
    return {
        "tool": imported.tool,
        "tool_name": TOOL_NAMES.get(imported.tool, imported.tool),
        "counts": {v.value: sum(1 for i in imported.plan if i.verdict is v) for v in Verdict},
        "groups": [{"kind": k, "heading": KINDS.get(k, k), "items": groups[k]} for k in order if k in groups],
        "rota": {"entries": rota.entries, "mismatches": [
            {"schedule": m.schedule, "span": m.span, "start": m.start, "end": m.end, "why": m.why,
             "old": who(m.old, names), "new": who(m.new, names)} for m in rota.mismatches]},
    }


def text(imported: Imported, rota: RotaCheck) -> str:
    """The plan as the CLI prints it and writes it to ``callgoose-import-plan.txt``."""
    plan = data(imported, rota)
    counts = plan["counts"]
    lines = [f"Import from {plan['tool_name']}: {counts['imported']} imported, {counts['changed']} imported "
             f"with a change, {counts['skipped']} not importable"]
    for group in plan["groups"]:
        lines += ["", f"{group['heading']}:"]
        for item in group["items"]:
            line = f"  {item['mark']} {item['name']}"
            if item["why"]:
                line += f": {item['why']}"
            lines.append(line)
    found = plan["rota"]["mismatches"]
    lines += ["", f"Rota check: {plan['rota']['entries']} entries, {len(found)} mismatches"]
    for m in found:
        if m["why"]:
            lines.append(f"  ✗ {m['schedule']} {m['span']}: {plan['tool_name']} has {m['old']}; {m['why']}")
        else:
            lines.append(f"  ✗ {m['schedule']} {m['span']}: {plan['tool_name']} has {m['old']}, "
                         f"Callgoose has {m['new']}")
    return "\n".join(lines) + "\n"


__all__ = ["KINDS", "data", "people_names", "text", "who"]
