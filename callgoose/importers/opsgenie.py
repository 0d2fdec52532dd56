"""Opsgenie's people, schedules, escalations and services as a Callgoose configuration
document (issue 18, item 4), from the JSON its REST API returns, saved in one directory:

- ``users.json``: ``GET /v2/users`` (one response, or a JSON list of its pages);
  ``users/<id>.contacts.json``: ``GET /v2/users/<id>/contacts``; optionally
  ``users/<id>.notification-rules.json`` (``GET /v2/users/<id>/notification-rules``) and, for
  each rule, ``users/<id>.notification-rules/<rule id>.steps.json`` (``…/<rule id>/steps``).
- ``schedules.json``: ``GET /v2/schedules?expand=rotation``; per schedule
  ``schedules/<id>.overrides.json`` (``GET /v2/schedules/<id>/overrides``) and
  ``schedules/<id>.timeline.json`` (``GET /v2/schedules/<id>/timeline?interval=4&intervalUnit=weeks``).
- ``escalations.json``: ``GET /v2/escalations``; ``services.json``: ``GET /v1/services``.

Opsgenie notifies everyone on call in every rotation of a schedule at once; Callgoose's later
layer wins. Rotations whose restrictions do not overlap (business hours and out of hours, the
usual Opsgenie pattern) therefore mean the same; where two rotations overlap the plan says so,
and the rota check lists every span where Opsgenie had two people and Callgoose one.
"""

from __future__ import annotations

from pathlib import Path

from ..engine.schedules import DAYS
from .base import ExportError, Imported, PlanItem, RotaEntry
from .reading import (
    WEEK, hhmm, instant, iso, load, local_text, note, overlap, policy_name, records, renaming, rota,
    time_zone, week_windows)
from .opsgenie_people import contacts
from .opsgenie_policies import escalations, services_of

DAY = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}
CHECK_DAYS = 28  # without a timeline, overlaps are looked for this long after the last rotation start


# Opsgenie's roles: owners and admins administer; stakeholders see alerts and are not on call.
ROLES = {"owner": "admin", "admin": "admin", "stakeholder": "viewer"}


def read(directory: Path) -> Imported:
    directory = Path(directory)
    plan: list[PlanItem] = []
    users, emails = _users(directory, plan)
    schedules, entries, schedule_names = _schedules(directory, emails, plan)
    policies, by_team = escalations(directory, emails, schedule_names, plan)
    services = services_of(directory, by_team, plan)
    document = {"users": users, "schedules": schedules, "escalation_policies": policies, "services": services}
    return Imported("opsgenie", document, tuple(plan), entries)


# ---- people ----------------------------------------------------------------------------------

def _users(directory: Path, plan: list) -> tuple[list[dict], dict[str, str]]:
    users, emails = [], {}
    for u in records(load(directory, "users.json"), "users.json", "data"):
        uid, username = u.get("id"), u.get("username")
        if not isinstance(uid, str) or not isinstance(username, str) or "@" not in username:
            raise ExportError("users.json: every user needs an id and a username (their email)")
        email = username.strip().lower()
        emails[uid] = emails[username] = emails[email] = email
        name = str(u.get("fullName") or email).strip()[:100] or email
        role = u.get("role") if isinstance(u.get("role"), dict) else {}
        role_name = str(role.get("name") or "User")
        zone, replaced = time_zone(u.get("timeZone"))
        notes = []
        if role_name.lower() not in ("owner", "admin", "user", "stakeholder"):
            notes.append(f"Opsgenie role {role_name} has no Callgoose equivalent: imported as responder")
        if replaced:
            notes.append(f"time zone {u.get('timeZone')!r} is not an IANA zone Callgoose knows: UTC")
        if u.get("blocked"):
            notes.append("blocked in Opsgenie: deactivate them after the import if they should not be paged")
        note(plan, "user", name, notes, f"users.json#{uid}")
        methods, rules = contacts(directory, uid, name, plan)
        users.append({"email": email, "name": name, "time_zone": zone,
                      "role": ROLES.get(role_name.lower(), "responder"),
                      "contact_methods": methods, "notification_rules": rules})
    return users, emails


# ---- schedules -------------------------------------------------------------------------------

def _schedules(directory: Path, emails: dict, plan: list) -> tuple[list[dict], tuple[RotaEntry, ...], dict]:
    docs, entries, names, taken = [], [], {}, set()
    for s in records(load(directory, "schedules.json"), "schedules.json", "data"):
        sid, title = s.get("id"), s.get("name")
        if not isinstance(sid, str) or not isinstance(title, str):
            raise ExportError("schedules.json: every schedule needs an id and a name")
        if not isinstance(s.get("rotations"), list):
            raise ExportError(f"schedules.json: schedule {title!r} has no rotations (save it with ?expand=rotation)")
        source = f"schedules.json#{sid}"
        name = policy_name(title, taken)
        zone, replaced = time_zone(s.get("timezone"))
        notes = renaming(name, title)
        if replaced:
            notes.append(f"time zone {s.get('timezone')!r} is not an IANA zone Callgoose knows: UTC")
        if s.get("enabled") is False:
            notes.append("disabled in Opsgenie; a Callgoose schedule is always on, so a policy naming it pages its people")
        layers, layer_names, starts = [], set(), []
        for i, r in enumerate(s["rotations"]):
            layer = _layer(r, i, zone, emails, f"{source}/rotations/{r.get('id', i)}", title, layer_names, plan)
            if layer is not None:
                layers.append(layer)
                starts.append(instant(r["startDate"], "schedules.json"))
        if not layers:
            note(plan, "schedule", title, [], source, skipped="no rotation of it names a user Callgoose can import")
            continue
        doc = {"name": name, "time_zone": zone, "layers": layers,
               "overrides": _overrides(directory, sid, title, emails, plan)}
        found = _timeline(directory, sid, name, title, emails, plan)
        window = (found[0].start, found[-1].end) if found else (max(starts), max(starts) + CHECK_DAYS * 86400)
        clash = overlap(doc, set(emails.values()), *window)
        if clash:
            notes.append(f"rotations {clash[1]!r} and {clash[2]!r} are on call at the same time (first {iso(clash[0])}): "
                         f"Opsgenie notifies both, Callgoose the later one's person only")
        note(plan, "schedule", title, notes, source)
        names[sid] = names[title] = name
        docs.append(doc)
        entries.extend(found)
    return docs, tuple(entries), names


def _layer(r: dict, i: int, zone: str, emails: dict, source: str, schedule: str, taken: set, plan: list):
    label = f"{schedule}: {r.get('name') or f'rotation {i + 1}'}"
    unit, count = UNITS.get(r.get("type")), r.get("length", 1)
    if unit is None:
        note(plan, "layer", label, [], source, skipped=f"rotation type {r.get('type')!r} is not hourly, daily or weekly")
        return None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        note(plan, "layer", label, [], source, skipped=f"length {count!r} is not a whole number from 1 to 1000")
        return None
    start = instant(r.get("startDate"), "schedules.json")
    users, notes = [], []
    for p in r.get("participants") or []:
        kind = p.get("type") if isinstance(p, dict) else None
        email = emails.get(p.get("id")) or emails.get(p.get("username")) if kind == "user" else None
        if email:
            users.append(email)
        elif kind == "user":
            notes.append(f"participant {p.get('username') or p.get('id')!r} is not in users.json: left out")
        else:
            who = p.get("name") or kind if isinstance(p, dict) else p
            notes.append(f"participant {who!r} ({kind}) left out: Callgoose rotates people only, so the order "
                         f"of the others changes")
    if not users:
        note(plan, "layer", label, notes, source, skipped="it names no user (teams, escalations and 'none' cannot rotate)")
        return None
    if r.get("endDate"):
        notes.append(f"ends {r['endDate']} in Opsgenie; Callgoose layers do not end: remove it then")
    name = str(r.get("name") or f"Rotation {i + 1}").strip()[:60] or f"Rotation {i + 1}"
    while name in taken:
        name = f"{name[:56]} ({i + 1})"
    taken.add(name)
    layer = {"name": name, "users": users, "start": local_text(start, zone), "shift": {"unit": unit, "count": count}}
    windows = _restriction(r.get("timeRestriction"))
    if windows:
        layer["restrictions"] = windows
    note(plan, "layer", label, notes, source)
    return layer


def _minute(r: dict, edge: str) -> int:
    hour, minute = r.get(f"{edge}Hour"), r.get(f"{edge}Min", 0)
    if not isinstance(hour, int) or not isinstance(minute, int) or not 0 <= hour <= 24 or not 0 <= minute < 60:
        raise ExportError(f"schedules.json: a time restriction's {edge}Hour/{edge}Min is not a time of day")
    return hour * 60 + minute


def _restriction(tr) -> list[dict]:
    """Opsgenie's time restriction as Callgoose windows (local time of the schedule)."""
    if not tr:
        return []
    if tr.get("type") == "time-of-day":
        r = tr.get("restriction") or {}
        return [{"days": list(DAYS), "from": hhmm(_minute(r, "start")), "to": hhmm(_minute(r, "end"))}]
    if tr.get("type") == "weekday-and-time-of-day":
        spans = []
        for r in tr.get("restrictions") or []:
            if r.get("startDay") not in DAY or r.get("endDay") not in DAY:
                raise ExportError("schedules.json: a restriction's startDay/endDay is not a weekday")
            begin = DAY[r["startDay"]] * 1440 + _minute(r, "start")
            end = DAY[r["endDay"]] * 1440 + _minute(r, "end")
            spans.append((begin, (end - begin) % WEEK or WEEK))
        return week_windows(spans)
    raise ExportError(f"schedules.json: time restriction type {tr.get('type')!r} is not known")


def _overrides(directory: Path, sid: str, schedule: str, emails: dict, plan: list) -> list[dict]:
    name = f"schedules/{sid}.overrides.json"
    doc = load(directory, name, required=False)
    if doc is None:
        note(plan, "override", schedule, [f"not in the export ({name}): no override imported"], name)
        return []
    found, last_end = [], None
    items = records(doc, name, "data")
    for o in sorted(items, key=lambda o: instant(o.get("startDate"), name)):
        start, end = instant(o.get("startDate"), name), instant(o.get("endDate"), name)
        user = o.get("user") if isinstance(o.get("user"), dict) else {}
        label = f"{schedule}: {iso(start)} to {iso(end)}"
        email = emails.get(user.get("id")) or emails.get(user.get("username")) if user.get("type") == "user" else None
        if email is None:
            note(plan, "override", label, [], name, skipped=f"it names {user.get('type') or 'nobody'} "
                  f"{user.get('username') or user.get('name') or ''}".rstrip() + ", not a user of users.json")
            continue
        if end <= start or (last_end is not None and start < last_end):
            note(plan, "override", label, [], name, skipped="it overlaps the override before it (Callgoose "
                  "allows one at a time)" if end > start else "it ends before it starts")
            continue
        rotations = [r.get("name") or r.get("id") for r in o.get("rotations") or [] if isinstance(r, dict)]
        notes = [f"applies to rotation {', '.join(map(str, rotations))} only in Opsgenie; a Callgoose override "
                 f"replaces whoever the whole schedule has"] if rotations else []
        note(plan, "override", label, notes, name)
        found.append({"user": email, "start": iso(start), "end": iso(end)})
        last_end = end
    return found


def _timeline(directory: Path, sid: str, name: str, title: str, emails: dict, plan: list) -> tuple[RotaEntry, ...]:
    """The final timeline's periods as rota entries (the span of ``historical`` periods is left
    out: it is what happened, under settings that may have changed since)."""
    fname = f"schedules/{sid}.timeline.json"
    doc = load(directory, fname, required=False)
    if doc is None:
        note(plan, "rota", title, [f"not checked: save {fname} to compare"], fname)
        return ()
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("finalTimeline"), dict):
        raise ExportError(f'{fname}: expected a response with "data.finalTimeline"')
    start, end = instant(data.get("startDate"), fname), instant(data.get("endDate"), fname)
    periods = [p for rot in data["finalTimeline"].get("rotations") or [] for p in rot.get("periods") or []]
    spans = []
    for p in periods:
        if not isinstance(p, dict):
            raise ExportError(f"{fname}: every period must be an object")
        if p.get("type") == "historical":
            start = max(start, instant(p.get("endDate"), fname))
            continue
        who = p.get("recipient") if isinstance(p.get("recipient"), dict) else {}
        if who.get("type") != "user":
            continue
        email = emails.get(who.get("id")) or emails.get(who.get("name")) or str(who.get("name") or "").lower()
        spans.append((instant(p.get("startDate"), fname), instant(p.get("endDate"), fname), email))
    return rota(name, spans, start, end) if start < end else ()
