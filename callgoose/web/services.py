"""The Services tab: services, their rules (an editor), settings, maintenance, import/export.

Rules are built by the engine's own builders, so the editor refuses exactly what the engine
and the import refuse (S18), with the message next to the field at fault.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from .. import clock
from ..engine import SpecError
from ..engine.config import (
    build_tags,
    check_split_on,
    check_window_seconds,
    parse_document,
    parse_time,
)
from ..engine.rules import build_resolve, build_trigger
from ..services import audit, catalog, heartbeats
from .access import admin_required
from .i18n import fault, say, viewer_zone
from .params import whole_number

bp = Blueprint("services", __name__)
SLOTS = 5  # condition rows in the rule form (the limit of S18)
KEY_FIELDS = {"trigger": ("title_from", "description_from", "map_incident_with"),
              "resolve": ("incident_mapped_with",)}
PRIORITY_FIELDS = ("priority", "priority_from", "priority_map")
_PATH = re.compile(r"^rule(?:\.conditions\[(\d+)\](?:\.(json_key|mode|contains))?|\.(\w+))?")


def _found(value):
    """A service call's answer, or 404 when the service (or rule) is gone."""
    if value is None:
        abort(404, _("No such service (it may have been deleted)."))
    return value


def _to_service(service_id: int, message: str, category: str = "message"):
    flash(str(message), category)
    return redirect(url_for("services.service", service_id=service_id))


@bp.get("/services")
@login_required
def services():
    """Every service with its state, open incidents and rule counts."""
    return render_template("services/services.html", rows=catalog.overview(clock.now()),
                           config_text=request.args.get("config", ""))


@bp.post("/services")
@admin_required
def create():
    name = request.form.get("name", "").strip()
    try:
        service = catalog.create_service(name, clock.now())
    except SpecError as exc:
        flash(_("Not created: the name %(message)s.", message=say(exc.message))
              if exc.path == "name" and "exists" not in exc.message
              else _("Not created: %(message)s.", message=say(exc.message)), "error")
        return redirect(url_for("services.services"))
    return _to_service(service.id, _("Service %(name)s created. Add a trigger rule so that it opens incidents.",
                                     name=name))


@bp.post("/services/import")
@admin_required
def import_():
    """Import the JSON configuration (S34); a fault names its path and nothing is saved."""
    text = request.form.get("config", "")
    try:
        with audit.acting_as("import", current_user.id, current_user.email):
            names = catalog.import_config(parse_document(text), clock.now())
    except SpecError as exc:
        return render_template("services/services.html", rows=[], config_text=text,
                               import_error=fault(exc)), 422
    flash(ngettext("Imported %(num)d service: %(names)s.", "Imported %(num)d services: %(names)s.", len(names),
                   names=", ".join(names) or "-"))
    return redirect(url_for("services.services"))


@bp.get("/services/export")
@admin_required  # the document holds webhook secrets and everyone's contact methods
def export():
    try:
        body = json.dumps(catalog.current_config(), indent=2, ensure_ascii=False) + "\n"
    except SpecError as exc:  # a stored service cannot be rebuilt: the list, with the reason
        flash(fault(exc), "error")
        return render_template("services/services.html", rows=catalog.overview(clock.now()), config_text=""), 409
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=callgoose-config.json"})


@bp.get("/services/<int:service_id>")
@login_required
def service(service_id: int):
    """One service: settings, maintenance windows and its rules in order."""
    return _service_page(service_id)


def _service_page(service_id: int, maintenance: dict | None = None, status: int = 200):
    """The service page; ``maintenance`` holds a refused maintenance form (values and error)."""
    page = _found(catalog.service_page(service_id, clock.now()))
    return render_template("services/service.html", service=page.service, windows=page.windows,
                           in_maintenance=page.in_maintenance, trigger=page.trigger, resolve=page.resolve,
                           paging=page.paging, heartbeats=page.heartbeats, lint=page.lint,
                           maintenance=maintenance or {}), status


def _heartbeat_form(form) -> dict:
    """The add-a-heartbeat form as the configuration document writes a heartbeat."""
    minutes = {k: int(form.get(k, "")) if form.get(k, "").strip().isdigit() else -1
               for k in ("every_minutes", "grace_minutes")}
    items = [i.strip() for i in form.get("contains", "").split(",") if i.strip()]
    conditions = [{"json_key": form.get("json_key", "").strip(), "contains": items}] if items else []
    return {"name": form.get("name", "").strip(), "conditions": conditions, **minutes}


@bp.post("/services/<int:service_id>/heartbeats")
@admin_required
def add_heartbeat(service_id: int):
    try:
        name = _found(heartbeats.change(service_id, clock.now(), add=_heartbeat_form(request.form)))
    except SpecError as exc:
        return _to_service(service_id, _("Heartbeat not added: %(field)s %(message)s.",
                                         field=exc.path.split(".", 1)[-1], message=say(exc.message)), "error")
    return _to_service(service_id, _("Heartbeat added to %(name)s: it is armed by its first matching call.",
                                     name=name))


@bp.post("/services/<int:service_id>/heartbeats/<name>/<any(pause, resume, delete):action>")
@admin_required
def heartbeat_action(service_id: int, name: str, action: str):
    verb = {"pause": "pause", "resume": "resume", "delete": "remove"}[action]
    try:
        _found(heartbeats.change(service_id, clock.now(), **{verb: name}))
    except SpecError as exc:
        return _to_service(service_id, _("Not changed: %(message)s.", message=say(exc.message)), "error")
    if action == "pause":
        return _to_service(service_id, _("Heartbeat %(name)s: paused.", name=name))
    if action == "resume":
        return _to_service(service_id, _("Heartbeat %(name)s: resumed.", name=name))
    return _to_service(service_id, _("Heartbeat %(name)s: deleted.", name=name))


@bp.post("/services/<int:service_id>/rename")
@admin_required
def rename(service_id: int):
    """Rename a service; tokens, rules and incidents stay with it."""
    try:
        old, new = _found(catalog.rename(service_id, request.form.get("name", "").strip()))
    except SpecError as exc:
        return _to_service(service_id, _("Not renamed: the name %(message)s.", message=say(exc.message)), "error")
    return _to_service(service_id, _("Renamed %(old)s to %(new)s. Incidents opened from now on carry the new "
                                     "name; titles do not change.", old=old, new=new))


@bp.route("/services/<int:service_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(service_id: int):
    """Ask first (GET: what goes with it), then delete (POST)."""
    if request.method == "GET":
        item, summary = _found(catalog.deletion_preview(service_id))
        return render_template("services/delete.html", service=item, summary=summary)
    name = _found(catalog.delete(service_id, clock.now(), current_user.email))
    flash(_("Service %(name)s deleted. Its incidents stay in the list and the API log, with their timelines.",
            name=name))
    return redirect(url_for("services.services"))


def _window_setting(raw: str) -> int | None:
    """The duplicate window field: empty for the server's default. :raises SpecError:"""
    raw = raw.strip()
    return check_window_seconds(int(raw) if raw.isdigit() else (None if raw == "" else -1), "window")


@bp.post("/services/<int:service_id>/settings")
@admin_required
def settings(service_id: int):
    try:
        window = _window_setting(request.form.get("window", ""))
        split_on = check_split_on(request.form.get("split_on", "").strip() or None, "Split on")
    except SpecError as exc:
        return _to_service(service_id, _("Duplicate window %(message)s.", message=say(exc.message)) if exc.path == "window"
                           else f"{exc.path} {say(exc.message)}.",
                           "error")
    _found(catalog.change_settings(service_id, enabled=bool(request.form.get("enabled")), window=window,
                                   split_on=split_on))
    return _to_service(service_id, _("Settings saved."))


@bp.post("/services/<int:service_id>/maintenance")
@admin_required
def maintenance(service_id: int):
    """Start maintenance now (until a time, or with no end), or end the started windows."""
    if request.form.get("action") == "end":
        ended = _found(catalog.end_maintenance_on(service_id))
        return _to_service(service_id, ngettext("Ended %(num)d maintenance window; windows from the imported "
                                                "configuration stay.", "Ended %(num)d maintenance windows; windows "
                                                "from the imported configuration stay.", ended))
    form = {name: request.form.get(name, "") for name in ("starts", "until", "tags", "tz")}
    now = clock.now()
    try:
        tags, starts, until = _maintenance_form(form, now)
        _found(catalog.maintenance_on(service_id, tags, until, now, origin="dashboard", starts=starts))
    except SpecError as exc:
        return _service_page(service_id, {**form, "error": _("Maintenance not started: %(fault)s.", fault=fault(exc))}, 422)
    return _to_service(service_id, (_("Maintenance scheduled.") if starts and starts > now else _("Maintenance started."))
                       + (" " + _("Only calls whose payload has the tags are skipped.") if tags else ""))


def _maintenance_form(form: dict, now: float):
    """Tags, start and end of the maintenance form, read in the browser's zone. :raises SpecError:"""
    zone = _zone(form["tz"])
    tags = build_tags([[t.strip() for t in line.split(",") if t.strip()]
                       for line in form["tags"].splitlines() if line.strip()], "tags")
    starts, until = (_local_time(form[name], zone, name) for name in ("starts", "until"))
    if until is not None and until <= max(now, starts or now):
        raise SpecError("until", "must be after the start and in the future")
    return tags, starts, until


def _zone(name: str) -> ZoneInfo:
    """The form's time zone (the reader's, which the page names), else the reader's, else UTC."""
    for candidate in (name, viewer_zone()):
        try:
            if candidate and "\x00" not in candidate and len(candidate) < 64:
                return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def _local_time(text: str, zone: ZoneInfo, name: str) -> float | None:
    """A datetime-local value read in ``zone`` (fold=0 for ambiguous times), or None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise SpecError(name, "is not a date and time") from None
    return parse_time(local.replace(tzinfo=zone).isoformat(), name)


# -- the rule editor ---------------------------------------------------------------------

def _form_values(rule, kind: str) -> dict:
    """The form's values for an existing rule, or an empty one."""
    values = {"urgency": "high", "conditions": [{"json_key": "", "contains": [], "mode": "all"}] * SLOTS}
    if rule is None:
        return values
    values["urgency"] = rule.urgency
    conditions = list(rule.conditions) + [{"json_key": "", "contains": [], "mode": "all"}] * SLOTS
    values["conditions"] = conditions[:SLOTS]
    keys = {"title_from": rule.title_from, "description_from": rule.description_from,
            "map_incident_with": rule.map_key, "incident_mapped_with": rule.map_key}
    for name in KEY_FIELDS[kind]:
        values[name] = keys[name]
    if kind == "trigger":
        values.update(priority=rule.priority, priority_from=rule.priority_from,
                      priority_map="\n".join(f"{k} = {v}" for k, v in (rule.priority_map or {}).items()))
    return values


def _priority_fields(form, doc: dict, shown: dict) -> None:
    """A trigger rule's priority fields (issue 20); a map line without '=' is passed on whole,
    for the engine to refuse by its value."""
    doc["priority"] = shown["priority"] = form.get("priority") or None
    doc["priority_from"] = shown["priority_from"] = form.get("priority_from", "").strip() or None
    shown["priority_map"] = form.get("priority_map", "")
    lines = [line.partition("=") for line in shown["priority_map"].splitlines() if line.strip()]
    doc["priority_map"] = {k.strip(): v.strip() for k, _sep, v in lines} or None


def _read_form(kind: str) -> tuple[dict, list[int], dict]:
    """The rule document from the form, the form slot of each condition, and the shown values."""
    form = request.form
    doc, slots, shown = {"conditions": []}, [], {"urgency": form.get("urgency", "high"), "conditions": []}
    for i in range(SLOTS):
        key = form.get(f"cond-{i}-key", "")
        items = [line for line in form.get(f"cond-{i}-items", "").splitlines() if line.strip()]
        mode = form.get(f"cond-{i}-mode", "all")
        shown["conditions"].append({"json_key": key, "contains": items, "mode": mode})
        if key.strip() or items:
            doc["conditions"].append({"json_key": key, "contains": items, "mode": mode})
            slots.append(i)
    for name in KEY_FIELDS[kind]:
        value = "" if form.get(f"{name}-whole") else (form.get(name, "").strip() or None)
        doc[name] = shown[name] = value
    if kind == "trigger":
        doc["urgency"] = shown["urgency"]
        _priority_fields(form, doc, shown)
    return doc, slots, shown


def _field_of(error: SpecError, slots: list[int]) -> str:
    """Which form field an engine error is about."""
    match = _PATH.match(error.path)
    if match is None or error.path == "rule":
        return "rule"
    index, part, name = match.groups()
    if index is not None:
        slot = slots[int(index)] if int(index) < len(slots) else 0
        return f"cond-{slot}-{ {'json_key': 'key', 'mode': 'mode'}.get(part, 'items') }"
    return name or "conditions"


def _all_errors(kind: str, doc: dict, slots: list[int]) -> dict:
    """Every fault of a rule form at once, each by its field: the engine's builder is asked again
    without the part it refused, until it accepts the rest."""
    build = build_trigger if kind == "trigger" else build_resolve
    doc, slots, errors = {**doc, "conditions": list(doc["conditions"])}, list(slots), {}
    for _attempt in range(SLOTS + len(KEY_FIELDS[kind]) + 2):
        try:
            build(doc, "rule")
            break
        except SpecError as exc:
            errors.setdefault(_field_of(exc, slots), say(exc.message))
            condition = re.match(r"rule\.conditions\[(\d+)\]", exc.path)
            name = exc.path[len("rule."):]
            if condition:
                del doc["conditions"][int(condition.group(1))], slots[int(condition.group(1))]
            elif name in KEY_FIELDS[kind] and doc.get(name):
                doc[name] = None if kind == "trigger" else ""
            elif name.startswith("priority") and any(doc.get(k) for k in PRIORITY_FIELDS):
                doc.update(dict.fromkeys(PRIORITY_FIELDS))
            else:
                break
    return errors


def _render_rule_form(item, kind: str, rule, values: dict, errors: dict, status=200, dry=None):
    lint = [f for f in catalog.lint_service(item.id, clock.now()) if rule is not None and f.rule_id == rule.id]
    return render_template("services/rule.html", service=item, kind=kind, rule=rule, values=values,
                           errors=errors, slots=range(SLOTS), dry=dry, lint=lint), status


@bp.route("/services/<int:service_id>/rules/new/<kind>", methods=["GET", "POST"])
@bp.route("/services/<int:service_id>/rules/<int:rule_id>", methods=["GET", "POST"])
@login_required
def rule(service_id: int, kind: str | None = None, rule_id: int | None = None):
    """Edit a rule (or add one); only admins save."""
    item = _found(catalog.live_service(service_id))
    existing = catalog.rule_of(service_id, rule_id) if rule_id is not None else None
    if rule_id is not None and existing is None:
        return _deleted_meanwhile(item)
    kind = existing.kind if existing else kind
    if kind not in KEY_FIELDS:
        abort(404, _("Rules are trigger or resolve rules."))
    if request.method == "GET":
        return _render_rule_form(item, kind, existing, _prefilled(_form_values(existing, kind), kind), {})
    return _save_rule(item, kind, existing)


def _prefilled(values: dict, kind: str) -> dict:
    """The form with what "click to build" on a stored payload asked for (query arguments)."""
    args = request.args
    if args.get("cond_key") is not None:
        conditions = list(values["conditions"])
        free = next((i for i, c in enumerate(conditions) if not c["json_key"] and not c["contains"]), 0)
        conditions[free] = {"json_key": args["cond_key"][:1000], "contains": [args.get("cond_items", "")[:200]],
                            "mode": "all"}
        values = {**values, "conditions": conditions}
    if args.get("fix") == "low_urgency":  # a report's "try the fix" (issue 20)
        values = {**values, "urgency": "low"}
    return {**values, **{name: args[name][:1000] for name in KEY_FIELDS[kind] if name in args}}


def _calls_between(values) -> tuple[float, float] | None:
    """The calls a report's "try the fix" link names (``calls_from``/``calls_to``, epoch seconds)."""
    start = whole_number(values.get("calls_from"), "calls_from", 0, 253_000_000_000)
    end = whole_number(values.get("calls_to"), "calls_to", 0, 253_000_000_000)
    return (start, end) if start is not None and end is not None else None


def _deleted_meanwhile(item):
    """A rule deleted in another tab: a save keeps the edit, to be added as a new rule."""
    kind = request.form.get("kind")
    if request.method == "GET" or kind not in KEY_FIELDS:
        abort(404, _("No such rule (it may have been deleted)."))
    shown = _read_form(kind)[2]
    return _render_rule_form(item, kind, None, shown, {"rule": (
        "This rule was deleted meanwhile (in another tab or by someone else). Your edit is "
        "kept below: save it to add it as a new rule.")}, 409)


@admin_required
def _save_rule(item, kind: str, existing):
    doc, slots, shown = _read_form(kind)
    if kind == "resolve" and doc["incident_mapped_with"] is None:
        return _render_rule_form(item, kind, existing, shown, {
            "incident_mapped_with": "Name the key whose value picks the incident to resolve "
                                    "(or tick the whole payload)."}, 422)
    errors = _all_errors(kind, doc, slots)
    if errors:
        return _render_rule_form(item, kind, existing, shown, errors, 422)
    try:
        spec = (build_trigger if kind == "trigger" else build_resolve)(doc, "rule")
        if request.form.get("dry_run"):  # run the edit against the stored calls; save nothing
            return _render_rule_form(item, kind, existing, shown, {}, 200, _found(catalog.dry_run(
                item.id, kind, existing.id if existing else None, spec, between=_calls_between(request.form))))
        _found(catalog.store_rule(item.id, kind, existing.id if existing else None, spec))
    except SpecError as exc:
        return _render_rule_form(item, kind, existing, shown, {_field_of(exc, slots): say(exc.message)}, 422)
    return _to_service(item.id, _("Trigger rule saved.") if kind == "trigger" else _("Resolve rule saved."))


@bp.post("/services/<int:service_id>/rules/<int:rule_id>/<any(up, down, delete):action>")
@admin_required
def rule_action(service_id: int, rule_id: int, action: str):
    """Move a rule up or down, or delete it."""
    kind = catalog.change_rule(service_id, rule_id, action)
    if kind is None:
        abort(404, _("No such rule."))
    if action == "delete":
        flash(_("Trigger rule deleted.") if kind == "trigger" else _("Resolve rule deleted."))
    return redirect(url_for("services.service", service_id=service_id))
