"""Opsgenie's escalations and services as Callgoose escalation policies and services (issue 18,
item 4; :mod:`callgoose.importers.opsgenie`), from ``escalations.json`` (``GET /v2/escalations``)
and ``services.json`` (``GET /v1/services``).

Opsgenie notifies each rule's recipient ``delay`` after the alert opened; rules with the same
delay are one Callgoose level, whose ``escalate_after_minutes`` is the time to the next delay
(after the last: the repeat's ``waitInterval``). A rule left out keeps its time, so the others
are paged when Opsgenie would page them. A service is paged by its team's escalation (Opsgenie's
default routing rule).
"""

from __future__ import annotations

from pathlib import Path

from ..engine.paging import MAX_DELAY_MINUTES, MAX_REPEAT
from .base import ExportError, PlanItem, Verdict
from .reading import load, note, policy_name, records, renaming, service_name

MINUTES = {"minutes": 1, "hours": 60, "days": 1440}


def _delay(rule: dict) -> int:
    delay = rule.get("delay") if isinstance(rule.get("delay"), dict) else {}
    amount, unit = delay.get("timeAmount", 0), delay.get("timeUnit", "minutes")
    if isinstance(amount, bool) or not isinstance(amount, int) or unit not in MINUTES or amount < 0:
        raise ExportError(f"escalations.json: a rule's delay {delay!r} is not minutes, hours or days")
    return amount * MINUTES[unit]


def escalations(directory: Path, emails: dict, schedules: dict, plan: list) -> tuple[list[dict], dict]:
    policies, by_team, taken = [], {}, set()
    for e in records(load(directory, "escalations.json"), "escalations.json", "data"):
        title, source = str(e.get("name") or e.get("id")), f"escalations.json#{e.get('id')}"
        name = policy_name(title, taken)
        notes = renaming(name, title)
        groups: dict[int, list] = {}
        for i, rule in enumerate(e.get("rules") or [], start=1):
            delay, target = _delay(rule), None
            recipient = rule.get("recipient") if isinstance(rule.get("recipient"), dict) else {}
            kind, notify = recipient.get("type"), rule.get("notifyType", "default")
            groups.setdefault(delay, [])
            if kind == "user" and (emails.get(recipient.get("id")) or emails.get(recipient.get("username"))):
                target = {"user": emails.get(recipient.get("id")) or emails[recipient["username"]]}
            elif kind == "schedule" and (schedules.get(recipient.get("id")) or schedules.get(recipient.get("name"))):
                target = {"schedule": schedules.get(recipient.get("id")) or schedules[recipient["name"]]}
                if notify in ("next", "previous"):
                    notes.append(f"rule {i} notifies the {notify} on-call person in Opsgenie; Callgoose pages "
                                 f"whoever is on call")
            elif kind == "team":
                notes.append(f"rule {i} (team {recipient.get('name') or recipient.get('id')}) left out: Callgoose "
                             f"has no teams; add the team's people or schedule to a level")
            else:
                notes.append(f"rule {i} ({kind} {recipient.get('name') or recipient.get('username') or ''}) left "
                             f"out: not a user or schedule of this export")
            if target and rule.get("condition") == "if-not-closed":
                notes.append(f"rule {i} waits for the alert to be closed in Opsgenie; Callgoose stops escalating "
                             f"once someone acknowledges")
            if target and target not in groups[delay]:
                groups[delay].append(target)
        levels = [(delay, targets) for delay, targets in sorted(groups.items()) if targets]
        if not levels:
            note(plan, "policy", title, [], source, skipped="none of its rules notifies a user or a schedule "
                  + ("(" + "; ".join(notes) + ")" if notes else ""))
            continue
        repeat = e.get("repeat") if isinstance(e.get("repeat"), dict) else {}
        count, wait = int(repeat.get("count") or 0), int(repeat.get("waitInterval") or 0)
        if levels[0][0]:
            notes.append(f"its first rule waits {levels[0][0]} min in Opsgenie; Callgoose pages the first level at once")
        if count > MAX_REPEAT:
            notes.append(f"repeats {count} times in Opsgenie; Callgoose at most {MAX_REPEAT}")
            count = MAX_REPEAT
        if count and repeat.get("closeAlertAfterAll"):
            notes.append("Opsgenie closes the alert after the last repeat; Callgoose leaves it open, escalation finished")
        last = max(groups) + (wait if count else 0)
        doc_levels = []
        for k, (delay, targets) in enumerate(levels):
            after = (levels[k + 1][0] if k + 1 < len(levels) else last) - delay
            doc_levels.append({"escalate_after_minutes": min(max(after, 1), MAX_DELAY_MINUTES), "targets": targets})
        policies.append({"name": name, "repeat": count, "levels": doc_levels})
        note(plan, "policy", title, notes, source)
        team = e.get("ownerTeam") if isinstance(e.get("ownerTeam"), dict) else {}
        by_team.setdefault(team.get("id") or team.get("name"), []).append(name)
    return policies, by_team


def services_of(directory: Path, by_team: dict, plan: list) -> list[dict]:
    doc = load(directory, "services.json", required=False)
    found, taken = [], set()
    for s in records(doc, "services.json", "data") if doc is not None else []:
        title = str(s.get("name") or s.get("id"))
        name = service_name(title, taken)
        notes = renaming(name, title, service=True)
        policies = by_team.get(s.get("teamId"), [])
        entry = {"name": name}
        if len(policies) == 1:
            entry["escalation_policy"] = policies[0]
        elif policies:
            notes.append(f"its team has several escalations ({', '.join(policies)}): choose one on the service's page")
        else:
            notes.append("no escalation of its team is in escalations.json: nobody is paged until one is chosen")
        why = "; ".join(notes) or (f"paged by {policies[0]}, its team's escalation (Opsgenie's default routing rule; "
                                   f"other routing rules are not read)")
        plan.append(PlanItem("service", title, Verdict.CHANGED if notes else Verdict.IMPORTED, why,
                             f"services.json#{s.get('id')}"))
        found.append(entry)
    return found
