"""Grafana OnCall's escalation chains and integrations as Callgoose escalation policies and
services (issue 18, item 4; :mod:`callgoose.importers.grafana_oncall`), from
``escalation_chains.json``, ``escalation_policies.json`` (the chains' steps) and
``integrations.json`` (``GET /api/v1/…/``).

A chain's notify steps up to a ``wait`` are one level; the wait is its ``escalate_after_minutes``.
An integration is a service paged by its default route's chain (other routes are not read).
"""

from __future__ import annotations

from pathlib import Path

from ..engine.paging import MAX_DELAY_MINUTES
from .reading import load, note, policy_name, records, renaming, service_name


def people(ids, emails: dict, notes: list) -> list[str]:
    found = [emails[i] for i in ids or [] if i in emails]
    if len(found) < len(ids or []):
        notes.append("a user of it is not in users.json: left out")
    return found



def escalation_chains(directory: Path, emails: dict, schedules: dict, plan: list) -> tuple[list[dict], dict]:
    steps = records(load(directory, "escalation_policies.json"), "escalation_policies.json", "results")
    policies, names, taken = [], {}, set()
    for chain in records(load(directory, "escalation_chains.json"), "escalation_chains.json", "results"):
        title, source = str(chain.get("name") or chain.get("id")), f"escalation_chains.json#{chain.get('id')}"
        name = policy_name(title, taken)
        notes = renaming(name, title)
        levels, targets, repeat = [], [], 0
        own = sorted((p for p in steps if p.get("escalation_chain_id") == chain.get("id")),
                     key=lambda p: p.get("position") or 0)
        for i, step in enumerate(own, start=1):
            kind = step.get("type")
            if kind == "wait":
                minutes = min(max(1, -(-int(step.get("duration") or 60) // 60)), MAX_DELAY_MINUTES)
                if targets:
                    levels.append({"escalate_after_minutes": minutes, "targets": targets})
                    targets = []
                elif levels:
                    levels[-1]["escalate_after_minutes"] = min(levels[-1]["escalate_after_minutes"] + minutes,
                                                               MAX_DELAY_MINUTES)
                else:
                    notes.append(f"step {i} waits before anyone is notified; Callgoose pages the first level at once")
            elif kind in ("notify_persons", "notify_person_next_each_time"):
                field = "persons_to_notify" if kind == "notify_persons" else "persons_to_notify_next_each_time"
                targets += [{"user": e} for e in people(step.get(field), emails, notes) if {"user": e} not in targets]
                if kind == "notify_person_next_each_time":
                    notes.append(f"step {i} notifies one of its people in turn in Grafana OnCall; Callgoose pages them all")
            elif kind == "notify_on_call_from_schedule" and step.get("notify_on_call_from_schedule") in schedules:
                target = {"schedule": schedules[step["notify_on_call_from_schedule"]]}
                targets += [target] if target not in targets else []
            elif kind == "repeat_escalation":
                repeat = 5
                notes.append(f"step {i} repeats the chain (at most 5 times in Grafana OnCall): repeat 5")
            else:
                notes.append(f"step {i} ({kind}) left out: Callgoose levels page people and schedules only")
            if step.get("important"):
                notes.append(f"step {i} is 'important' in Grafana OnCall; Callgoose pages by the incident's urgency")
        if targets:
            levels.append({"escalate_after_minutes": 1, "targets": targets})
        if not levels:
            note(plan, "policy", title, [], source, skipped="none of its steps notifies a user or a schedule")
            continue
        policies.append({"name": name, "repeat": repeat, "levels": levels})
        names[chain.get("id")] = name
        note(plan, "policy", title, notes, source)
    return policies, names


def integrations(directory: Path, chains: dict, plan: list) -> list[dict]:
    doc = load(directory, "integrations.json", required=False)
    found, taken = [], set()
    for s in records(doc, "integrations.json", "results") if doc is not None else []:
        title = str(s.get("name") or s.get("id"))
        name = service_name(title, taken)
        notes = renaming(name, title, service=True)
        route = s.get("default_route") if isinstance(s.get("default_route"), dict) else {}
        entry = {"name": name}
        if route.get("escalation_chain_id") in chains:
            entry["escalation_policy"] = chains[route["escalation_chain_id"]]
        else:
            notes.append("its default route names no imported escalation chain: nobody is paged until one is chosen")
        note(plan, "service", title, notes, f"integrations.json#{s.get('id')}")
        found.append(entry)
    return found
