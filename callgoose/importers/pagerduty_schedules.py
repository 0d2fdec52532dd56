"""PagerDuty schedules (REST API v2, ``GET /schedules/{id}?since=&until=`` and
``GET /schedules/{id}/overrides?since=&until=``) as Callgoose schedules, and their final
schedule's rendered entries as the rota to check.

PagerDuty's meaning, as its API reference and knowledge base describe it:
- a layer's shifts start at ``rotation_virtual_start + k × rotation_turn_length_seconds``,
  user *k* mod n of ``users`` on shift *k*; the layer has nobody before ``start`` and after
  ``end``;
- restrictions (``daily_restriction``, ``weekly_restriction`` with ``start_day_of_week`` 1 =
  Monday, ``start_time_of_day`` and ``duration_seconds``) mask the rotation, in the
  schedule's zone;
- of overlapping layers the higher one wins ("Layer 2" over "Layer 1"); ``GET`` lists the
  layers highest first (the reverse of the order they are created in), while Callgoose's
  later layer wins, so the order is reversed here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .base import ExportError, PlanItem, RotaEntry, Verdict
from .common import POLICY_NAME, Names, instant, iso, listed, load, objects, ref, renamed, zone_of

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNITS = (("weeks", 7 * 86400), ("days", 86400), ("hours", 3600))
KNOWN_FILES = {"users.json", "escalation_policies.json", "services.json"}


def schedule_files(directory: Path) -> list[str]:
    """The saved schedules: ``schedules/<id>.json``, or beside the other files when they
    were uploaded one by one (the dashboard keeps no folders then)."""
    found = sorted(f"schedules/{p.name}" for p in (directory / "schedules").glob("*.json")
                   if not p.name.endswith(".overrides.json")) if (directory / "schedules").is_dir() else []
    loose = [p.name for p in sorted(directory.glob("*.json")) if p.name not in KNOWN_FILES
             and not p.name.endswith(".overrides.json") and not p.name.startswith("callgoose-import")]
    return found + loose


def _local(at: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(at, tz).replace(tzinfo=None)


def _who(user, people: dict[str, str], name: str, path: str) -> str:
    """The email of a user reference; :raises ExportError: one users.json does not hold."""
    uid = ref(user)
    if uid not in people:
        raise ExportError(f"{name}: {path} is user {uid!r}, who is not in users.json (save every page of "
                          f"GET /users)")
    return people[uid]


def _hhmm(seconds: int) -> str:
    seconds %= 86400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def windows(restrictions: list, name: str, path: str) -> tuple[list[dict] | None, list[str]]:
    """PagerDuty's restrictions as Callgoose windows (None: no restriction at all), and what
    changed. A span over a day is cut at midnight into one window per day."""
    spans: list[tuple[int, int, int]] = []  # (day, start second of that day, length)
    notes: list[str] = []
    for i, r in enumerate(objects(restrictions, name, f"{path}.restrictions")):  # None: none
        rpath = f"{path}.restrictions[{i}]"
        kind, length = r.get("type") if isinstance(r, dict) else None, r.get("duration_seconds")
        try:
            h, m, s = (int(x) for x in str(r.get("start_time_of_day", "")).split(":"))
            assert 0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60 and isinstance(length, int) and length > 0
        except (ValueError, AssertionError):
            raise ExportError(f"{name}: {rpath} needs start_time_of_day HH:MM:SS and duration_seconds") from None
        if s or length % 60:
            notes.append(f"restriction {i + 1} rounded to whole minutes")
        start, length = h * 3600 + m * 60, length - length % 60 or 60
        if kind == "daily_restriction":
            if length >= 86400:
                return None, notes
            spans += [(day, start, length) for day in range(7)]
        elif kind == "weekly_restriction":
            day = r.get("start_day_of_week")
            if not isinstance(day, int) or not 1 <= day <= 7:
                raise ExportError(f"{name}: {rpath}.start_day_of_week must be 1 (Monday) to 7")
            if length >= 7 * 86400:
                return None, notes
            spans.append((day - 1, start, length))
        else:
            raise ExportError(f"{name}: {rpath}.type must be daily_restriction or weekly_restriction")
    cut: dict[tuple[str, str], list[str]] = {}
    for day, start, length in spans:
        while length > 0:  # one window each day it touches, but one may end the next day
            if length <= 86400:
                piece, after = length, 0
            else:
                piece, after = 86400 - start, length - (86400 - start)
            cut.setdefault((_hhmm(start), _hhmm(start + piece)), []).append(DAYS[day % 7])
            day, start, length = day + 1, 0, after
    found = [{"days": sorted(set(days), key=DAYS.index), "from": a, "to": b} for (a, b), days in cut.items()]
    return found, notes


def layer(raw: dict, tz: ZoneInfo, people: dict, since: float | None, name: str, path: str):
    """One layer as a Callgoose layer (None: not importable) and its verdict and why."""
    users = [_who(u.get("user") if isinstance(u, dict) else None, people, name, f"{path}.users[{j}]")
             for j, u in enumerate(objects(raw.get("users"), name, f"{path}.users"))]
    length = raw.get("rotation_turn_length_seconds")
    if not users:
        return None, Verdict.SKIPPED, "it has no users"
    whole = isinstance(length, int) and not isinstance(length, bool) and length > 0
    unit = next(((u, length // s) for u, s in UNITS if whole and length % s == 0), None)
    if unit is None or unit[1] > 1000:
        return None, Verdict.SKIPPED, f"its turn of {length} seconds is not a whole number of hours (up to 1000)"
    virtual = _local(instant(raw.get("rotation_virtual_start"), name, f"{path}.rotation_virtual_start"), tz)
    begins = instant(raw.get("start"), name, f"{path}.start")
    notes = []
    if raw.get("end"):
        end = instant(raw["end"], name, f"{path}.end")
        if since is not None and end <= since:
            return None, Verdict.SKIPPED, f"it ended at {iso(end)}"
        notes.append(f"PagerDuty ends it at {iso(end)}; Callgoose layers do not end: remove it then")
    step = timedelta(seconds=length)
    k = (_local(begins, tz) - virtual) // step  # the shift its start falls in, counted from the virtual start
    first = virtual + k * step
    if first.second or first.microsecond:
        notes.append("its handoffs are moved to the whole minute")
        first = first.replace(second=0, microsecond=0)
    if _local(begins, tz) != first and (since is None or begins > since):
        notes.append(f"it starts at the handoff {first:%Y-%m-%d %H:%M} before its start {iso(begins)}")
    shift = k % len(users)
    doc = {"name": "", "users": users[shift:] + users[:shift], "start": first.strftime("%Y-%m-%dT%H:%M"),
           "shift": {"unit": unit[0], "count": unit[1]}}
    found, more = windows(raw.get("restrictions"), name, path)
    if found:
        doc["restrictions"] = found
    notes += more
    return doc, Verdict.CHANGED if notes else Verdict.IMPORTED, "; ".join(notes)


def overrides(raws: list[dict], people: dict, label: str, name: str, key: str):
    """Overrides as Callgoose's (which may not overlap: where two do, the later-starting one
    is kept whole and the earlier cut around it), with a plan item each."""
    kept: list[list] = []  # [user, start, end, index]
    items = []
    raws = objects(raws, name, key)
    for i, o in enumerate(sorted(raws, key=lambda o: str(o.get("start")))):
        email = _who(o.get("user"), people, name, f"{key}[{i}].user")
        start, end = instant(o.get("start"), name, f"{key}[{i}].start"), instant(o.get("end"), name, f"{key}[{i}].end")
        if end <= start:
            items.append(PlanItem("override", f"{label}: {email} {iso(start)}", Verdict.SKIPPED,
                                  "it ends before it starts", name))
            continue
        for k in list(kept):
            if k[1] < end and start < k[2]:
                kept.remove(k)
                pieces = [p for p in ((k[1], start), (end, k[2])) if p[1] > p[0]]
                kept += [[k[0], a, b, k[3]] for a, b in pieces]
                items[k[3]] = PlanItem("override", items[k[3]].name, Verdict.CHANGED if pieces else Verdict.SKIPPED,
                                       f"it overlaps {email}'s override from {iso(start)}, which is kept whole", name)
        kept.append([email, start, end, len(items)])
        items.append(PlanItem("override", f"{label}: {email} {iso(start)} – {iso(end)}", Verdict.IMPORTED, "", name))
    docs = [{"user": u, "start": iso(a), "end": iso(b)} for u, a, b, _ in sorted(kept, key=lambda k: k[1])]
    return docs, items


def rota(schedule: dict, people: dict, label: str, name: str) -> list[RotaEntry]:
    """The final schedule's rendered entries (who PagerDuty will have on call), gaps between
    them as entries with nobody; a user users.json does not hold is kept by id."""
    final = schedule.get("final_schedule") or {}
    entries = objects((final.get("rendered_schedule_entries") or []) if isinstance(final, dict) else [],
                      name, "final_schedule.rendered_schedule_entries")
    found: list[RotaEntry] = []
    for i, e in enumerate(sorted(entries, key=lambda e: str(e.get("start")))):
        path = f"final_schedule.rendered_schedule_entries[{i}]"
        start, end = instant(e.get("start"), name, f"{path}.start"), instant(e.get("end"), name, f"{path}.end")
        uid = ref(e.get("user"))
        if found and found[-1].end < start:
            found.append(RotaEntry(label, found[-1].end, start, ()))
        found.append(RotaEntry(label, start, end, (people.get(uid, str(uid)),)))
    return found


def read_schedule(directory: Path, file: str, people: dict, names: Names):
    """One saved schedule: its document entry, its plan items, its rota, its PagerDuty id."""
    raw = load(directory, file)
    schedule = raw.get("schedule") if isinstance(raw, dict) else None
    if not isinstance(schedule, dict) or not isinstance(schedule.get("schedule_layers"), list):
        raise ExportError(f"{file}: expected the response of GET /schedules/{{id}}, an object with a "
                          f"'schedule' holding 'schedule_layers'")
    original = str(schedule.get("name") or schedule.get("id") or Path(file).stem)
    label = names.give(original)
    zone = zone_of(schedule.get("time_zone"))
    if zone is None:
        return None, [PlanItem("schedule", original, Verdict.SKIPPED,
                               f"its time zone {schedule.get('time_zone')!r} is unknown", file)], [], ref(schedule)
    notes = [] if zone == schedule.get("time_zone") else [f"time zone {schedule.get('time_zone')!r} read as {zone}"]
    entries = rota(schedule, people, label, file)
    since = entries[0].start if entries else None
    items, layers, tz, taken = [], [], ZoneInfo(zone), set()
    for i, raw_layer in reversed(list(enumerate(objects(schedule["schedule_layers"], file,
                                                         "schedule.schedule_layers")))):
        path = f"schedule.schedule_layers[{i}]"
        layer_name = str(raw_layer.get("name") or f"Layer {len(schedule['schedule_layers']) - i}")[:60].strip()
        doc, verdict, why = layer(raw_layer, tz, people, since, file, path)
        items.append(PlanItem("layer", f"{label} / {layer_name}", verdict, why, file))
        if doc is not None:
            while layer_name in taken:
                layer_name += "'"
            taken.add(layer_name)
            layers.append({**doc, "name": layer_name})
    saved = load(directory, file.removesuffix(".json") + ".overrides.json", required=False)
    if saved is None:
        raws = ((schedule.get("overrides_subschedule") or {}).get("rendered_schedule_entries") or [])
        key = "schedule.overrides_subschedule.rendered_schedule_entries"
        if raws:
            notes.append("no saved overrides file: overrides taken from the rendered window")
    else:
        raws, key = listed(saved, "overrides", file.removesuffix(".json") + ".overrides.json"), "overrides"
    docs, override_items = overrides(raws, people, label, file, key)
    items += override_items
    items.insert(0, renamed("schedule", original, label, file, "; ".join(notes)))
    if entries:
        items.append(PlanItem("rota", label, Verdict.IMPORTED, f"{len(entries)} entries from "
                              f"{iso(entries[0].start)} to {iso(entries[-1].end)} to check", file))
    else:
        items.append(PlanItem("rota", label, Verdict.SKIPPED, "no rendered entries to check: save the schedule "
                              "with since and until", file))
    doc = {"name": label, "time_zone": zone, "layers": layers, "overrides": docs}
    return doc, items, entries, ref(schedule)


def read_schedules(directory: Path, people: dict):
    """Every saved schedule: document entries, plan items, rota, and names by PagerDuty id."""
    names = Names(POLICY_NAME, spaces=True)
    docs, items, entries, by_id = [], [], [], {}
    for file in schedule_files(directory):
        doc, found, rota_entries, sid = read_schedule(directory, file, people, names)
        items += found
        entries += rota_entries
        if doc is not None:
            docs.append(doc)
            by_id[sid] = doc["name"]
    return docs, items, entries, by_id
