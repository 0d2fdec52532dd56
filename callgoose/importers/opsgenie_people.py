"""An Opsgenie user's contact methods and new-alert notification rules as Callgoose contact
methods and notification rules (issue 18, item 4; :mod:`callgoose.importers.opsgenie`).

Files: ``users/<id>.contacts.json`` (``GET /v2/users/<id>/contacts``), and optionally
``users/<id>.notification-rules.json`` (``GET /v2/users/<id>/notification-rules``) with each
rule's ``users/<id>.notification-rules/<rule id>.steps.json`` (``…/<rule id>/steps``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..engine.paging import MAX_DELAY_MINUTES
from .base import ExportError, PlanItem, Verdict
from .reading import load, records

PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
METHODS = {"email": "email", "sms": "sms", "voice": "voice"}
MINUTES = {"minutes": 1, "hours": 60, "days": 1440}
MOBILE = ("Opsgenie's mobile app cannot be imported: add ntfy, Pushover, Telegram or browser push "
          "('Get pages on this device') on My notifications")


def contacts(directory: Path, uid: str, person: str, plan: list) -> tuple[list[dict], list[dict]]:
    name = f"users/{uid}.contacts.json"
    doc = load(directory, name, required=False)
    if doc is None:
        plan.append(PlanItem("contact_method", person, Verdict.CHANGED,
                             f"not in the export ({name}): they are paged by their sign-in email only", name))
        return [], []
    methods, by_address, counts = [], {}, {}
    for c in records(doc, name, "data"):
        method, to = c.get("method"), str(c.get("to") or "").strip()
        label = f"{person}: {method} {to}".strip()
        status = c.get("status") if isinstance(c.get("status"), dict) else {}
        if method == "mobile":
            plan.append(PlanItem("contact_method", label, Verdict.SKIPPED, MOBILE, name))
            continue
        if method not in METHODS:
            plan.append(PlanItem("contact_method", label, Verdict.SKIPPED, f"method {method!r} is not known", name))
            continue
        if status.get("enabled") is False:
            plan.append(PlanItem("contact_method", label, Verdict.SKIPPED, "disabled in Opsgenie ("
                                 f"{status.get('disabledReason') or 'no reason given'}); imported methods page at once",
                                 name))
            continue
        address = to if method == "email" else "+" + re.sub(r"[^0-9]", "", to)
        if method != "email" and not PHONE.fullmatch(address):
            plan.append(PlanItem("contact_method", label, Verdict.SKIPPED,
                                 f"{to!r} is not a phone number with its country code", name))
            continue
        counts[method] = counts.get(method, 0) + 1
        mname = method if counts[method] == 1 else f"{method} {counts[method]}"
        methods.append({"name": mname, "type": METHODS[method], "address": address})
        by_address[(method, to)] = mname
        plan.append(PlanItem("contact_method", label, Verdict.IMPORTED, "", name))
    return methods, _rules(directory, uid, person, by_address, plan)


def _minutes(step: dict, name: str) -> int:
    after = step.get("sendAfter") if isinstance(step.get("sendAfter"), dict) else {}
    amount, unit = after.get("timeAmount", 0), after.get("timeUnit", "minutes")
    if isinstance(amount, bool) or not isinstance(amount, int) or unit not in MINUTES or amount < 0:
        raise ExportError(f"{name}: sendAfter {after!r} is not minutes, hours or days")
    return min(amount * MINUTES[unit], MAX_DELAY_MINUTES)


def _rules(directory: Path, uid: str, person: str, methods: dict, plan: list) -> list[dict]:
    """The steps of the user's enabled new-alert rules, for every urgency (Callgoose has no
    rule criteria: where Opsgenie has several new-alert rules, all their steps apply)."""
    name = f"users/{uid}.notification-rules.json"
    doc = load(directory, name, required=False)
    if doc is None:
        if methods:
            plan.append(PlanItem("notification_rule", person, Verdict.CHANGED, f"not in the export ({name}): "
                                 f"Callgoose pages them by their first email at 0 minutes", name))
        return []
    rules = [r for r in records(doc, name, "data") if r.get("actionType") == "create-alert" and r.get("enabled", True)]
    found: list[dict] = []
    for rule in rules:
        steps_name = f"users/{uid}.notification-rules/{rule.get('id')}.steps.json"
        notes = ["Opsgenie picks one new-alert rule by its criteria; Callgoose applies every rule's steps "
                 "to every incident"] if len(rules) > 1 else []
        for step in records(load(directory, steps_name), steps_name, "data"):
            contact = step.get("contact") if isinstance(step.get("contact"), dict) else {}
            method = methods.get((contact.get("method"), str(contact.get("to") or "").strip()))
            if step.get("enabled") is False:
                continue
            if method is None:
                notes.append(f"its {contact.get('method')} step is left out: that contact method was not imported")
                continue
            entry = {"contact_method": method, "after_minutes": _minutes(step, steps_name), "urgency": ["high", "low"]}
            if entry not in found:
                found.append(entry)
        plan.append(PlanItem("notification_rule", f"{person}: {rule.get('name') or rule.get('id')}",
                             Verdict.CHANGED if notes else Verdict.IMPORTED, "; ".join(notes), steps_name))
    return found
