"""Grafana OnCall's users, schedules, escalation chains and integrations as a Callgoose
configuration document (issue 18, item 4), from the JSON its public API returns (each list one
response or a JSON list of its pages, ``{"results": [...], "next": ...}``), saved in one directory:
``users.json`` (``GET /api/v1/users/``), ``schedules.json`` (``/api/v1/schedules/``),
``on_call_shifts.json`` (``/api/v1/on_call_shifts/``), per schedule
``schedules/<id>.final_shifts.json`` (``/api/v1/schedules/<id>/final_shifts?start_date=…&end_date=…``),
``escalation_chains.json``, ``escalation_policies.json`` and ``integrations.json``.

A ``rolling_users`` shift is a layer (its ``level`` orders the layers: the higher wins, as
Callgoose's later layer does); a shift shorter than its rotation step becomes restriction
windows; ``override`` shifts are overrides.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ..engine.schedules import DAYS, instant as local_instant, zone
from .base import ExportError, Imported, PlanItem, RotaEntry
from .grafana_oncall_policies import escalation_chains, integrations, people as users_of
from .reading import (
    instant, iso, load, note, overlap, policy_name, records, renaming, rota, time_zone, week_windows)

ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
UNITS = {"hourly": ("hours", 3600), "daily": ("days", 86400), "weekly": ("weeks", 7 * 86400)}
CHECK_DAYS = 28


def read(directory: Path) -> Imported:
    directory = Path(directory)
    plan: list[PlanItem] = []
    users, emails = _users(directory, plan)
    schedules, entries, names = _schedules(directory, emails, plan)
    policies, chains = escalation_chains(directory, emails, names, plan)
    services = integrations(directory, chains, plan)
    document = {"users": users, "schedules": schedules, "escalation_policies": policies, "services": services}
    return Imported("grafana-oncall", document, tuple(plan), entries)


def _users(directory: Path, plan: list) -> tuple[list[dict], dict]:
    users, emails = [], {}
    for u in records(load(directory, "users.json"), "users.json", "results"):
        email = str(u.get("email") or "").strip().lower()
        if not isinstance(u.get("id"), str) or "@" not in email:
            raise ExportError("users.json: every user needs an id and an email")
        emails[u["id"]] = email
        zone_name, replaced = time_zone(u.get("timezone"))
        notes = [f"time zone {u.get('timezone')!r} is not an IANA zone Callgoose knows: UTC"] if replaced else []
        name = str(u.get("username") or email)[:100]
        note(plan, "user", name, notes, f"users.json#{u['id']}")
        users.append({"email": email, "name": name, "time_zone": zone_name,
                      "role": {"admin": "admin", "observer": "viewer"}.get(str(u.get("role")), "responder"),
                      "contact_methods": [{"name": "email", "type": "email", "address": email}]})
    if users:
        note(plan, "contact_method", "every user", ["the public API lists no phone number, Slack, Telegram or "
              "mobile app: each user's email is imported; add the rest on My notifications"], "users.json")
    return users, emails


# ---- schedules -------------------------------------------------------------------------------

def _schedules(directory: Path, emails: dict, plan: list) -> tuple[list[dict], tuple[RotaEntry, ...], dict]:
    shifts = records(load(directory, "on_call_shifts.json"), "on_call_shifts.json", "results")
    docs, entries, names, taken = [], [], {}, set()
    for s in records(load(directory, "schedules.json"), "schedules.json", "results"):
        sid, title = s.get("id"), str(s.get("name") or s.get("id"))
        source = f"schedules.json#{sid}"
        if s.get("type") == "ical":
            note(plan, "schedule", title, [], source, skipped="an iCal schedule's shifts live in an outside "
                  "calendar, not in Grafana OnCall: rebuild its rotations as layers")
            continue
        zone_name, replaced = time_zone(s.get("time_zone"))
        name = policy_name(title, taken)
        notes = renaming(name, title)
        if replaced:
            notes.append(f"time zone {s.get('time_zone')!r} is not an IANA zone Callgoose knows: UTC")
        if s.get("ical_url_overrides"):
            notes.append("its iCal overrides calendar is not imported")
        own = [sh for sh in shifts if sh.get("schedule") == sid or sh.get("id") in (s.get("shifts") or [])]
        found = _final(directory, sid, name, title, plan)
        window = (found[0].start, found[-1].end) if found else None
        layers, levels, overrides, layer_names = [], [], [], set()
        for shift in sorted(own, key=lambda sh: sh.get("level") or 0):
            label, src = f"{title}: {shift.get('name') or shift.get('id')}", f"on_call_shifts.json#{shift.get('id')}"
            if shift.get("type") in ("override", "single_event"):
                overrides.extend(_override(shift, zone_name, emails, label, src, plan))
            elif shift.get("type") in ("rolling_users", "recurrent_event"):
                layer = _layer(shift, zone_name, emails, label, src, window, layer_names, plan)
                if layer:
                    layers.append(layer)
                    levels.append(shift.get("level") or 0)
            else:
                note(plan, "layer", label, [], src, skipped=f"shift type {shift.get('type')!r} is not known")
        if not layers:
            note(plan, "schedule", title, [], source, skipped="none of its shifts is a rotation Callgoose can import")
            continue
        doc = {"name": name, "time_zone": zone_name, "layers": layers, "overrides": _apart(overrides, title, plan)}
        if window is None:
            first = min(local_instant(datetime.fromisoformat(lv["start"]), zone(zone_name)) for lv in layers)
            window = (first, first + CHECK_DAYS * 86400)
        clash = overlap(doc, set(emails.values()), *window, ranks=levels)
        if clash:
            notes.append(f"shifts {clash[1]!r} and {clash[2]!r} are on call at the same time (first {iso(clash[0])}): "
                         f"at the same level Grafana OnCall notifies both, Callgoose the later one's person only")
        note(plan, "schedule", title, notes, source)
        names[sid] = name
        docs.append(doc)
        entries.extend(found)
    return docs, tuple(entries), names


def _layer(shift: dict, zone_name: str, emails: dict, label: str, source: str, window, taken: set, plan: list):
    notes: list[str] = []
    frequency = shift.get("frequency")
    if frequency not in UNITS:
        note(plan, "layer", label, [], source, skipped=f"frequency {frequency!r}: Callgoose rotates hourly, daily "
              f"or weekly")
        return None
    groups = shift.get("rolling_users") if shift.get("type") == "rolling_users" else [shift.get("users") or []]
    first = shift.get("start_rotation_from_user_index") or 0
    groups = (groups or [])[first:] + (groups or [])[:first]
    users = []
    for group in groups:
        people = users_of(group, emails, notes)
        if len(people) > 1:
            notes.append(f"{', '.join(people)} are on call together in Grafana OnCall; a Callgoose layer has "
                         f"one person per shift: {people[0]}")
        if people:
            users.append(people[0])
    if not users:
        note(plan, "layer", label, notes, source, skipped="it names no user of users.json")
        return None
    tz = shift.get("time_zone") or zone_name
    if tz != zone_name:
        notes.append(f"its time zone {tz} is not the schedule's: handoffs follow {zone_name}'s clock")
    try:
        start = datetime.fromisoformat(str(shift.get("start")))
        moved = (datetime.fromisoformat(str(shift.get("rotation_start") or shift.get("start"))))
    except ValueError:
        raise ExportError(f"on_call_shifts.json: shift {shift.get('id')} has no start time") from None
    if tz != zone_name:
        start = datetime.fromtimestamp(local_instant(start, zone(tz)), zone(zone_name)).replace(tzinfo=None)
    unit, seconds = UNITS[frequency]
    interval = shift.get("interval") or 1
    duration = int(shift.get("duration") or 0)
    step = seconds * interval
    days = [d for d in shift.get("by_day") or [] if d in ICAL_DAYS]
    minute = start.hour * 60 + start.minute
    windows: list[dict] = []
    if frequency == "weekly" and days:
        week_start = ICAL_DAYS.index(shift.get("week_start") or "SU")
        start -= timedelta(days=(start.weekday() - week_start) % 7)  # each week's turn starts on week_start
    if days and duration < 86400 * 7:
        windows = week_windows([(ICAL_DAYS.index(d) * 1440 + minute, duration // 60) for d in days])
        if frequency != "weekly":
            notes.append("a daily rotation on some weekdays only hands over on those days in Grafana OnCall; "
                         "Callgoose counts every day")
    elif duration < step and frequency == "weekly":
        windows = week_windows([(start.weekday() * 1440 + minute, duration // 60)])
    elif duration < step and frequency == "daily" and interval == 1:
        windows = [{"days": list(DAYS), "from": f"{start:%H:%M}",
                    "to": f"{start + timedelta(seconds=duration):%H:%M}"}]
    elif duration != step:
        notes.append(f"each shift lasts {duration // 60} min of every {step // 60} min in Grafana OnCall; "
                     f"Callgoose's shifts take the whole step")
    turns = max(0, int((moved - start) / timedelta(seconds=step))) if moved > start else 0
    if turns:  # Grafana OnCall renders turns from rotation_start on: start there, in the same order
        start += timedelta(seconds=step * turns)
        users = users[turns % len(users):] + users[:turns % len(users)]
    if shift.get("until"):
        until = local_instant(datetime.fromisoformat(str(shift["until"])), zone(tz))
        if window and until <= window[0]:
            note(plan, "layer", label, [], source, skipped=f"it ended {iso(until)}")
            return None
        notes.append(f"ends {iso(until)} in Grafana OnCall; Callgoose layers do not end: remove it then")
    name = str(shift.get("name") or "Rotation")[:60]
    while name in taken:
        name = f"{name[:56]} ({len(taken) + 1})"
    taken.add(name)
    layer = {"name": name, "users": users, "start": f"{start:%Y-%m-%dT%H:%M}", "shift": {"unit": unit, "count": interval}}
    if windows:
        layer["restrictions"] = windows
    note(plan, "layer", label, notes, source)
    return layer


def _override(shift: dict, zone_name: str, emails: dict, label: str, source: str, plan: list) -> list[dict]:
    notes: list[str] = []
    people = users_of(shift.get("users") or [u for g in shift.get("rolling_users") or [] for u in g], emails, notes)
    if not people:
        note(plan, "override", label, notes, source, skipped="it names no user of users.json")
        return []
    if len(people) > 1:
        notes.append(f"{', '.join(people)} together in Grafana OnCall; a Callgoose override names one: {people[0]}")
    if shift.get("type") == "single_event":
        notes.append("a one-off shift: imported as an override, which wins over every layer")
    tz = shift.get("time_zone") or zone_name
    try:
        start = local_instant(datetime.fromisoformat(str(shift.get("start"))), zone(tz))
    except ValueError:
        raise ExportError(f"on_call_shifts.json: shift {shift.get('id')} has no start time") from None
    end = start + int(shift.get("duration") or 0)
    if end <= start:
        note(plan, "override", label, [], source, skipped="it has no duration")
        return []
    return [{"user": people[0], "start": iso(start), "end": iso(end), "_plan": (label, notes, source)}]


def _apart(overrides: list[dict], schedule: str, plan: list) -> list[dict]:
    """The overrides in time order, each one overlapping one before it left out (Callgoose allows
    one at a time); every override gets its plan item here."""
    kept, last = [], None
    for o in sorted(overrides, key=lambda o: o["start"]):
        label, notes, source = o.pop("_plan")
        if last is not None and o["start"] < last:
            note(plan, "override", label, [], source, skipped="it overlaps the override before it (Callgoose "
                  "allows one at a time)")
            continue
        note(plan, "override", label, notes, source)
        kept.append(o)
        last = o["end"]
    return kept


def _final(directory: Path, sid: str, name: str, title: str, plan: list) -> tuple[RotaEntry, ...]:
    fname = f"schedules/{sid}.final_shifts.json"
    doc = load(directory, fname, required=False)
    if doc is None:
        note(plan, "rota", title, [f"not checked: save {fname} to compare"], fname)
        return ()
    spans = []
    for r in records(doc, fname, "results"):
        email = str(r.get("user_email") or "").strip().lower()
        if "@" not in email:
            raise ExportError(f"{fname}: every final shift needs a user_email")
        spans.append((instant(r.get("shift_start"), fname), instant(r.get("shift_end"), fname), email))
    if not spans:
        return ()
    return rota(name, spans, min(s for s, _, _ in spans), max(e for _, e, _ in spans))
