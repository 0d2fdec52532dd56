"""PagerDuty (REST API v2) as Callgoose: people with their contact methods and notification
rules, schedules, escalation policies and services, read from the API's responses saved in a
directory:

- ``users.json``: ``GET /users?include[]=contact_methods&include[]=notification_rules`` (one
  response, or every page's response in a JSON array);
- ``schedules/<id>.json``: ``GET /schedules/<id>?since=…&until=…`` and, beside it,
  ``schedules/<id>.overrides.json``: ``GET /schedules/<id>/overrides?since=…&until=…``;
- ``escalation_policies.json``: ``GET /escalation_policies``; ``services.json``: ``GET /services``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import ExportError, Imported, PlanItem, Verdict
from .common import POLICY_NAME, SERVICE_NAME, Names, listed, load, objects, ref, renamed, text, zone_of
from .pagerduty_schedules import read_schedules

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]+")
CHANNELS = {"email_contact_method": "email", "sms_contact_method": "sms", "phone_contact_method": "voice"}
NOT_MOVED = {
    "push_notification_contact_method": "PagerDuty's app push cannot be moved; add ntfy, Pushover, Telegram or "
                                        "this browser under My notifications",
    "whatsapp_contact_method": "Callgoose does not send WhatsApp messages; add the number for SMS or calls under "
                               "My notifications",
}
MAX_DELAY = 24 * 60  # Callgoose's longest wait, in minutes (engine.paging.MAX_DELAY_MINUTES)
MAX_REPEAT = 10  # engine.paging.MAX_REPEAT


# PagerDuty's base roles: owners and admins administer; observers and read-only users only look.
ROLES = {"owner": "admin", "admin": "admin", "observer": "viewer", "read_only_user": "viewer",
         "read_only_limited_user": "viewer"}


def _method(raw: dict, who: str, taken: set[str], name: str):
    """A contact method as the document's (None: not importable) and its plan item."""
    kind = str(raw.get("type", ""))
    label = str(raw.get("label") or raw.get("summary") or kind).strip()[:60] or "PagerDuty"
    item = f"{who}: {label}"
    if kind.endswith("_reference"):
        return None, PlanItem("contact_method", item, Verdict.SKIPPED, "users.json holds only a reference: save it "
                              "with include[]=contact_methods", name)
    if kind in NOT_MOVED:
        return None, PlanItem("contact_method", item, Verdict.SKIPPED, NOT_MOVED[kind], name)
    if kind not in CHANNELS:
        return None, PlanItem("contact_method", item, Verdict.SKIPPED, f"{kind!r} is not a kind Callgoose knows", name)
    address = str(raw.get("address") or "").strip()
    if kind != "email_contact_method":
        address = "+" + re.sub(r"\D", "", f"{raw.get('country_code', '')}{address}")
    if not (EMAIL if kind == "email_contact_method" else E164).fullmatch(address):
        return None, PlanItem("contact_method", item, Verdict.SKIPPED, f"{address!r} is not a valid address", name)
    method_name, n = label, 2
    while method_name in taken:
        method_name, n = f"{label} {n}", n + 1
    taken.add(method_name)
    why = "; ".join(filter(None, [f"named {method_name!r}" if method_name != label else "",
                                  "PagerDuty had blocked this number" if raw.get("blacklisted") else ""]))
    doc = {"name": method_name, "type": CHANNELS[kind], "address": address}
    return doc, PlanItem("contact_method", f"{item} ({CHANNELS[kind]} {address})",
                         Verdict.CHANGED if why else Verdict.IMPORTED, why, name)


def _rules(raws: list, methods: dict[str, str], who: str, name: str):
    """Notification rules (merged per method and delay, both urgencies in one) and their items."""
    merged: dict[tuple[str, int], list[str]] = {}
    items = []
    for r in raws:
        method = r.get("contact_method") if isinstance(r, dict) else None
        if not isinstance(method, dict) or "start_delay_in_minutes" not in r:
            items.append(PlanItem("notification_rule", who, Verdict.SKIPPED, "users.json holds only a reference: "
                                  "save it with include[]=notification_rules", name))
            continue
        delay, urgency = r.get("start_delay_in_minutes"), r.get("urgency", "high")
        label = f"{who}: {method.get('summary') or ref(method)} after {delay} min ({urgency})"
        if ref(method) not in methods:
            items.append(PlanItem("notification_rule", label, Verdict.SKIPPED, "its contact method is not imported",
                                  name))
            continue
        if not isinstance(delay, int) or delay < 0 or urgency not in ("high", "low"):
            raise ExportError(f"{name}: a notification rule of {who} needs start_delay_in_minutes and urgency")
        kept = min(delay, MAX_DELAY)
        urgencies = merged.setdefault((methods[ref(method)], kept), [])
        urgencies.append(urgency)
        items.append(PlanItem("notification_rule", label, Verdict.CHANGED if kept != delay else Verdict.IMPORTED,
                              f"Callgoose waits at most {MAX_DELAY} minutes" if kept != delay else "", name))
    docs = [{"contact_method": m, "after_minutes": d, "urgency": [u for u in ("high", "low") if u in found]}
            for (m, d), found in merged.items()]
    return docs, items


def read_users(directory: Path):
    """users.json: the document's users, plan items, and each PagerDuty id's email."""
    name = "users.json"
    users, items, people = [], [], {}
    for i, raw in enumerate(listed(load(directory, name), "users", name)):
        uid = text(raw, "id", name, f"users[{i}]")
        email = text(raw, "email", name, f"users[{i}]").lower()
        if not EMAIL.fullmatch(email):
            raise ExportError(f"{name}: users[{i}].email {email!r} is not an email address")
        who = str(raw.get("name") or email).strip()[:100]
        zone = zone_of(raw.get("time_zone")) or "UTC"
        role = ROLES.get(str(raw.get("role")), "responder")
        why = f"time zone {raw.get('time_zone')!r} read as {zone}" if zone != raw.get("time_zone") else ""
        items.append(PlanItem("user", f"{who} ({email})", Verdict.CHANGED if why else Verdict.IMPORTED, why, name))
        people[uid] = email
        methods, taken, ids = [], set(), {}
        for raw_method in objects(raw.get("contact_methods"), name, f"users[{i}].contact_methods", dicts=False):
            doc, item = _method(raw_method if isinstance(raw_method, dict) else {}, who, taken, name)
            items.append(item)
            if doc is not None:
                methods.append(doc)
                ids[ref(raw_method)] = doc["name"]
        rules, rule_items = _rules(objects(raw.get("notification_rules"), name, f"users[{i}].notification_rules",
                                           dicts=False), ids, who, name)
        items += rule_items
        users.append({"email": email, "name": who, "role": role, "time_zone": zone,
                      "contact_methods": methods, "notification_rules": rules})
    return users, items, people


def _targets(rule: dict, people: dict, schedules: dict, name: str, path: str):
    targets, dropped = [], []
    for j, t in enumerate(objects(rule.get("targets"), name, f"{path}.targets")):
        kind, tid = t.get("type"), ref(t)
        if kind in ("user", "user_reference"):
            if tid not in people:
                raise ExportError(f"{name}: {path}.targets[{j}] is user {tid!r}, who is not in users.json")
            targets.append({"user": people[tid]})
        elif kind in ("schedule", "schedule_reference") and tid in schedules:
            targets.append({"schedule": schedules[tid]})
        elif kind == "schedule_v3_reference":
            dropped.append(f"the flexible (v3) schedule {t.get('summary') or t.get('id')} cannot be imported")
        elif kind in ("schedule", "schedule_reference"):
            dropped.append(f"the schedule {t.get('summary') or t.get('id')} is not among the saved schedules")
        else:
            dropped.append(f"the target {tid!r} ({kind}) is not a user or a schedule")
    return targets, dropped


def read_policies(directory: Path, people: dict, schedules: dict):
    """escalation_policies.json: the document's policies, plan items, names by PagerDuty id."""
    name = "escalation_policies.json"
    names, docs, items, by_id = Names(POLICY_NAME, spaces=True), [], [], {}
    for i, raw in enumerate(listed(load(directory, name), "escalation_policies", name)):
        original = text(raw, "name", name, f"escalation_policies[{i}]")
        notes, levels = [], []
        rules = objects(raw.get("escalation_rules"), name, f"escalation_policies[{i}].escalation_rules")
        for r, rule in enumerate(rules):
            path = f"escalation_policies[{i}].escalation_rules[{r}]"
            targets, dropped = _targets(rule, people, schedules, name, path)
            notes += [f"level {r + 1}: {d}" for d in dropped]
            if rule.get("escalation_rule_assignment_strategy") == "round_robin":
                notes.append(f"level {r + 1} assigned round robin; Callgoose pages every target of a level")
            delay = rule.get("escalation_delay_in_minutes")
            if not isinstance(delay, int):
                raise ExportError(f"{name}: {path}.escalation_delay_in_minutes must be a number")
            if not 1 <= delay <= MAX_DELAY:
                notes.append(f"level {r + 1} escalates after {min(max(delay, 1), MAX_DELAY)} minutes, not {delay}")
            if targets:
                levels.append({"escalate_after_minutes": min(max(delay, 1), MAX_DELAY), "targets": targets})
            else:
                notes.append(f"level {r + 1} is left out: none of its targets is imported")
        loops = raw.get("num_loops") or 0
        if not isinstance(loops, int) or loops < 0:
            raise ExportError(f"{name}: escalation_policies[{i}].num_loops must be a whole number")
        if loops > MAX_REPEAT:
            notes.append(f"repeats {MAX_REPEAT} times, not {loops}")
        if not levels:
            items.append(PlanItem("policy", original, Verdict.SKIPPED, "no level has a target Callgoose imports"
                                  + (f" ({'; '.join(notes)})" if notes else ""), name))
            continue
        label = names.give(original)
        by_id[ref(raw)] = label
        docs.append({"name": label, "repeat": min(loops, MAX_REPEAT), "levels": levels})
        items.append(renamed("policy", original, label, name, "; ".join(notes)))
    return docs, items, by_id


def read_services(directory: Path, policies: dict):
    """services.json: the document's services (no rules: senders switch to /v2/enqueue)."""
    name = "services.json"
    names, docs, items = Names(SERVICE_NAME, spaces=False), [], []
    for i, raw in enumerate(listed(load(directory, name), "services", name)):
        original = text(raw, "name", name, f"services[{i}]")
        label = names.give(original)
        policy = policies.get(ref(raw.get("escalation_policy")))
        notes = [f"send its events to /v2/enqueue with a routing key from `flask --app callgoose create-token "
                 f"NAME --service {label} --routing-key`"]
        if policy is None:
            notes.append("its escalation policy is not imported: nobody is paged until one is chosen")
        if raw.get("status") == "disabled":
            notes.append("disabled, as in PagerDuty")
        urgency = raw.get("incident_urgency_rule") or {}
        if isinstance(urgency, dict) and urgency.get("type", "constant") != "constant":
            notes.append("its support-hours urgency rule is not imported")
        docs.append({"name": label, "enabled": raw.get("status") != "disabled", "escalation_policy": policy})
        item = renamed("service", original, label, name, "; ".join(notes[1:]))
        items.append(PlanItem(item.kind, item.name, item.verdict, "; ".join(filter(None, [item.why, notes[0]])), name))
    return docs, items


def read(directory: Path) -> Imported:
    """Read a PagerDuty export saved in ``directory``.

    :raises ExportError: a file is missing, not JSON, or not what the API returns."""
    users, items, people = read_users(directory)
    schedules, schedule_items, rota, schedule_ids = read_schedules(directory, people)
    policies, policy_items, policy_ids = read_policies(directory, people, schedule_ids)
    services, service_items = read_services(directory, policy_ids)
    document = {"users": users, "schedules": schedules, "escalation_policies": policies, "services": services}
    return Imported("pagerduty", document, tuple(items + schedule_items + policy_items + service_items), tuple(rota))
