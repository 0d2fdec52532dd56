"""Services and their rules in the database, turned into engine specs and back (S34).

Compiled specs are cached per process by (service id, version); every change bumps the
service's version, so every process sees every change on its next request.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from sqlalchemy import func, select, update

from .. import channels, clock
from ..engine import (
    MaintenanceWindow,
    ServiceSpec,
    SpecError,
    export_config,
    parse_config,
)
from ..engine.config import check_service_name, check_window_count, format_time
from ..engine.dryrun import compare, with_rule
from ..engine.heartbeat import NEW, PAUSED, UP, Heartbeat
from ..engine.heartbeat import check as check_heartbeat
from ..engine.lifecycle import ACTIVE, Action
from ..engine.lint import lint
from ..engine.notes import Note
from ..engine.oncall import parse_oncall
from ..engine.outcome import load_all
from ..engine.payload import Payload
from ..engine.priorities import build_priorities
from ..engine.rules import (
    build_condition,
    build_resolve,
    build_trigger,
    check_rule_count,
)
from ..engine.words import Say
from ..extensions import db
from ..store.hotpath import Cursor, Sql, from_json
from ..store.models import (
    LIVE_SERVICE_SQL,
    ApiToken,
    HeartbeatRow,
    Incident,
    Maintenance,
    ReplayMarker,
    Rule,
    Service,
)
from ..store.transactions import run_read, session_cursor, write
from . import (  # noqa: F401 (service_audit registers)
    audit,
    oncall,
    priorities,
    schedules,
    service_audit,
    service_paging,
)
from .lifecycle import By, Changes

_rules = Rule.__table__
_windows = Maintenance.__table__


class ServiceRow(NamedTuple):
    id: int
    name: str
    enabled: bool
    duplicate_window_seconds: int | None
    version: int


_SERVICE_COLUMNS = f"SELECT {', '.join(ServiceRow._fields)} FROM services WHERE {LIVE_SERVICE_SQL}"
SELECT_ALL_SERVICES = Sql(_SERVICE_COLUMNS + " ORDER BY id")
SELECT_ONE_SERVICE = Sql(_SERVICE_COLUMNS + " AND id = :sid")


class SpecCache:
    """Compiled specs keyed by (service id, version); derived data, safe to drop at any time.

    ``shadow``: the whole install runs in shadow mode (the SHADOW setting): every spec's
    paging is a shadow run, whatever its service says. A cache that opens incidents is made
    with it (:func:`spec_cache`)."""

    def __init__(self, max_entries: int = 2000, shadow: bool = False):
        self._specs: dict[tuple[int, int], ServiceSpec | Exception] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self.shadow = shadow

    def get(self, key):
        return self._specs.get(key)

    def put(self, key, spec):
        with self._lock:
            if len(self._specs) >= self._max:
                self._specs.clear()
            self._specs[key] = spec


def spec_cache(config) -> SpecCache:
    """The cache of a process (or job) that opens incidents, with the install's shadow setting."""
    return SpecCache(shadow=bool(config.get("SHADOW")))


def _rule_spec(row):
    doc = {"conditions": row.conditions}
    path = f"rule {row.id}"
    if row.kind == "trigger":
        doc.update(urgency=row.urgency, title_from=row.title_from,
                   description_from=row.description_from, map_incident_with=row.map_key,
                   priority=row.priority, priority_from=row.priority_from, priority_map=row.priority_map)
        return build_trigger(doc, path, rule_id=row.id)
    doc["incident_mapped_with"] = row.map_key
    return build_resolve(doc, path, rule_id=row.id)


def rule_priority_columns(doc: dict) -> dict:
    """A trigger rule's priority fields (issue 20) as its row's columns."""
    return {"priority": doc.get("priority"), "priority_from": doc.get("priority_from"),
            "priority_map": doc.get("priority_map")}


def _heartbeat(row) -> Heartbeat:
    return Heartbeat(row.name, tuple(build_condition(c, f"heartbeat {row.id}") for c in row.conditions or ()),
                     row.every_seconds, row.grace_seconds, row.paused)


def save_heartbeats(service: Service, heartbeats, now: float) -> None:
    """Make the service's heartbeats these (by name): a kept one keeps where it stands; one
    paused or resumed here is paused, or resumed with a full period from now."""
    rows = {r.name: r for r in db.session.execute(select(HeartbeatRow).where(
        HeartbeatRow.service_id == service.id)).scalars()}
    for name in set(rows) - {h.name for h in heartbeats}:
        db.session.delete(rows[name])
    for beat in heartbeats:
        row = rows.get(beat.name)
        if row is None:
            row = HeartbeatRow(service_id=service.id, name=beat.name, state=NEW, created_at=clock.to_db(now))
            db.session.add(row)
        row.conditions = [c.as_dict() for c in beat.conditions]
        row.every_seconds, row.grace_seconds = beat.every_seconds, beat.grace_seconds
        if beat.paused and not row.paused:
            row.state, row.due_at = PAUSED, None
        elif row.paused and not beat.paused:
            row.state, row.last_ping_at, row.due_at = UP, clock.to_db(now), clock.to_db(now + beat.every_seconds)
        row.paused = beat.paused


def _build_specs(conn, rows, shadow_all: bool = False) -> dict[int, ServiceSpec | Exception]:
    ids = [row.id for row in rows]
    rules = conn.execute(select(_rules).where(_rules.c.service_id.in_(ids))
                         .order_by(_rules.c.service_id, _rules.c.kind, _rules.c.position)).all()
    windows = conn.execute(select(_windows).where(_windows.c.service_id.in_(ids))
                           .order_by(_windows.c.id)).all()
    more = {sid: (split, bool(shadow)) for sid, split, shadow in conn.execute(
        select(Service.id, Service.split_on, Service.shadow).where(Service.id.in_(ids))).all()}
    split_on = {sid: split for sid, (split, _shadow) in more.items()}
    shadow = {sid for sid, (_split, on) in more.items() if on}
    paging = service_paging.paging_of(conn, ids, shadow if not shadow_all else set(ids))
    urgencies = priorities.urgencies(conn)
    beats = conn.execute(select(HeartbeatRow).where(HeartbeatRow.service_id.in_(ids))
                         .order_by(HeartbeatRow.service_id, HeartbeatRow.id)).all()
    built = {}
    for row in rows:
        try:
            own = [r for r in rules if r.service_id == row.id]
            built[row.id] = ServiceSpec(
                name=row.name, enabled=row.enabled, service_id=row.id, shadow=row.id in shadow,
                duplicate_window_seconds=row.duplicate_window_seconds, split_on=split_on.get(row.id),
                heartbeats=tuple(_heartbeat(b) for b in beats if b.service_id == row.id),
                trigger=tuple(_rule_spec(r) for r in own if r.kind == "trigger"),
                resolve=tuple(_rule_spec(r) for r in own if r.kind == "resolve"),
                maintenance=tuple(
                    MaintenanceWindow(clock.from_db(w.starts_at), clock.from_db(w.ends_at),
                                      tuple(tuple(s) for s in w.tags or ()))
                    for w in windows if w.service_id == row.id),
                paging=paging[row.id], urgencies=urgencies,
            )
        except (SpecError, TypeError, ValueError) as exc:  # a stored rule the engine refuses
            built[row.id] = exc
    return built


def service_rows(cursor: Cursor, service_id: int | None = None) -> list[ServiceRow]:
    """The current version of one service, or of all services."""
    if service_id is None:
        rows = cursor.execute(SELECT_ALL_SERVICES).fetchall()
    else:
        rows = cursor.execute(SELECT_ONE_SERVICE, {"sid": service_id}).fetchall()
    return [service_row(r) for r in rows]


def service_row(row) -> ServiceRow:
    """A service's row (ServiceRow's columns, in its order) as read from either driver."""
    return ServiceRow(row[0], row[1], bool(row[2]), row[3], row[4])


def load_specs(engine, cache: SpecCache, rows: list[ServiceRow]) -> list[ServiceSpec | Exception]:
    """Return the specs of these services, building only those not cached at their version."""
    missing = [row for row in rows if cache.get((row.id, row.version)) is None]
    if missing:
        with engine.connect() as conn:
            built = _build_specs(conn, missing, cache.shadow)
        for row in missing:
            cache.put((row.id, row.version), built[row.id])
    return [cache.get((row.id, row.version)) for row in rows]


def find_service(name: str) -> Service | None:
    """The live service with this name."""
    if "\x00" in name:
        return None
    return db.session.execute(select(Service).where(Service.name == name, Service.live())).scalar_one_or_none()


def rename_service(service: Service, name: str) -> None:
    """Give a service a new name (tokens, rules and incidents stay with it). The caller commits."""
    check_service_name(name, "name")
    other = find_service(name)
    if other is not None and other.id != service.id:
        raise SpecError("name", Say("a service named %(name)s exists already", name=repr(name)))
    service.name = name
    bump_version(service.id)


def deletion_summary(service: Service) -> dict:
    """What deleting a service takes with it, for the confirmation page."""
    def count(model, *where):
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    return {"rules": count(Rule, Rule.service_id == service.id),
            "windows": count(Maintenance, Maintenance.service_id == service.id),
            "tokens": count(ApiToken, ApiToken.service_id == service.id, ApiToken.revoked_at.is_(None)),
            "open_incidents": count(Incident, Incident.service_id == service.id, Incident.status.in_(ACTIVE)),
            "incidents": count(Incident, Incident.service_id == service.id)}


def delete_service(service: Service, now: float, actor: str) -> None:
    """Delete a service: its rules, windows and markers go, its tokens are revoked, its open
    incidents are resolved (through the one change path); the incidents and their timelines
    stay readable. The caller's transaction holds it all."""
    at = clock.to_db(now)
    changes = Changes(session_cursor(), at)
    by = By(actor=actor)
    for incident_id in db.session.execute(select(Incident.id).where(
            Incident.service_id == service.id, Incident.status.in_(ACTIVE))).scalars().all():
        changes.act(Action.RESOLVE, incident_id, by, note=Note("service_deleted", name=service.name))
    changes.finish()
    db.session.execute(update(ApiToken).where(ApiToken.service_id == service.id,
                                              ApiToken.revoked_at.is_(None)).values(revoked_at=at))
    for model in (Rule, Maintenance, ReplayMarker):
        db.session.execute(model.__table__.delete().where(model.service_id == service.id))
    service.deleted_at = at
    bump_version(service.id)


def bump_version(service_id: int) -> None:
    """Mark a service changed so every process reloads its rules."""
    db.session.execute(update(Service).where(Service.id == service_id)
                       .values(version=Service.version + 1))


def _window_row(service_id: int, window: MaintenanceWindow, origin: str, now: float) -> Maintenance:
    return Maintenance(service_id=service_id, starts_at=clock.to_db(window.starts_at),
                       ends_at=clock.to_db(window.ends_at), tags=[list(t) for t in window.tags],
                       origin=origin, created_at=clock.to_db(now))


def save_service(spec: ServiceSpec, now: float) -> Service:
    """Create or replace a service's settings, rules and configured maintenance windows.

    Windows started through the API or the dashboard are kept. The caller commits.
    """
    service = find_service(spec.name)
    if service is None:
        service = Service(name=spec.name, created_at=clock.to_db(now), version=1)
        db.session.add(service)
        db.session.flush()
    else:
        kept = db.session.execute(select(func.count(Maintenance.id)).where(
            Maintenance.service_id == service.id, Maintenance.origin != "config")).scalar_one()
        check_window_count(list(spec.maintenance), f"{spec.name}: maintenance", kept)
        db.session.execute(Rule.__table__.delete().where(Rule.service_id == service.id))
        db.session.execute(Maintenance.__table__.delete().where(
            Maintenance.service_id == service.id, Maintenance.origin == "config"))
        service.version += 1
    service.enabled = spec.enabled
    service.shadow = spec.shadow
    service.duplicate_window_seconds = spec.duplicate_window_seconds
    service.split_on = spec.split_on
    for kind, rules in (("trigger", spec.trigger), ("resolve", spec.resolve)):
        for position, rule in enumerate(rules):
            doc = rule.as_dict()
            db.session.add(Rule(
                service_id=service.id, kind=kind, position=position,
                urgency=doc.get("urgency", "high"), conditions=doc["conditions"],
                title_from=doc.get("title_from"), description_from=doc.get("description_from"),
                map_key=doc.get("map_incident_with", doc.get("incident_mapped_with")), changed_at=clock.to_db(now),
                **rule_priority_columns(doc)))
    for window in spec.maintenance:
        db.session.add(_window_row(service.id, window, "config", now))
    save_heartbeats(service, spec.heartbeats, now)
    return service


# Made with the first admin, so that the first test call (the Alertmanager sample of the
# test payload form and the API Token tab) opens a visible incident. Rename or delete it.
STARTER_SERVICE = {
    "name": "example",
    "trigger": [{"urgency": "high", "conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "commonAnnotations.summary", "description_from": "commonAnnotations.description",
                 "map_incident_with": "groupKey"}],
    "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                 "incident_mapped_with": "groupKey"}],
}


def create_starter_service(now: float) -> None:
    """Add the example service when no service exists yet. The caller commits."""
    if db.session.execute(select(func.count(Service.id)).where(Service.live())).scalar_one() == 0:
        save_service(parse_config({"services": [STARTER_SERVICE]})[0], now)


def import_config(doc, now: float) -> list[str]:
    """Validate a whole S34 document (services, and the on-call part: users, escalation
    policies, each service's policy and webhooks), then save it all in one transaction."""
    specs = parse_config(doc)
    oncall_part = parse_oncall(doc, oncall.existing_emails(), schedules.existing_names(), channels.REGISTRY)
    levels = build_priorities(doc["priorities"]) if "priorities" in doc else ()

    def work():
        tracked = [audit.track("service", found.id if found else None)
                   for found in (find_service(spec.name) for spec in specs)]
        policies = oncall.tracked_policies(oncall_part)
        for spec, tracking in zip(specs, tracked):
            tracking.done(save_service(spec, now).id)
        db.session.flush()
        oncall.save_oncall(oncall_part, now)
        for tracking in policies:
            tracking.done(oncall.policy_id(tracking))
        if levels:
            priorities.store(levels)
    write(work)
    return [spec.name for spec in specs]


def current_config() -> dict:
    """Export every service, and the on-call configuration, as the S34 document.

    :raises SpecError: a stored service cannot be rebuilt (its message names the service)."""
    rows = run_read(db.engine, service_rows)
    specs = load_specs(db.engine, SpecCache(), rows)
    for row, spec in zip(rows, specs):
        if isinstance(spec, Exception):  # a stored rule the engine now refuses: say which, not a 500
            raise SpecError("services", Say("service %(name)s cannot be exported: %(reason)s; fix or delete "
                                            "that rule on its page", name=repr(row.name), reason=str(spec)))
    doc = export_config(specs)
    paging = oncall.export_oncall([s.name for s in specs])
    for service in doc["services"]:
        service.update(paging["services"].get(service["name"], {"escalation_policy": None, "webhooks": []}))
    return {"priorities": priorities.document(), "users": paging["users"], "schedules": paging["schedules"],
            "escalation_policies": paging["escalation_policies"], **doc}


def start_maintenance(service: Service, tags, until: float | None, now: float,
                      origin: str = "api", starts: float | None = None) -> dict:
    """Put a service in maintenance from ``starts`` (default now) until ``until`` (S36). The caller commits."""
    existing = db.session.execute(select(func.count(Maintenance.id)).where(
        Maintenance.service_id == service.id)).scalar_one()
    check_window_count([None], "maintenance", existing)
    window = MaintenanceWindow(starts_at=starts or now, ends_at=until, tags=tags)
    row = _window_row(service.id, window, origin, now)
    db.session.add(row)
    bump_version(service.id)
    return {"service": service.name, "starts_at": format_time(starts or now), "ends_at": format_time(until),
            "tags": [list(t) for t in tags], "origin": origin}


def end_maintenance(service: Service) -> int:
    """End the windows started through the API or the dashboard; configured ones stay."""
    result = db.session.execute(Maintenance.__table__.delete().where(
        Maintenance.service_id == service.id, Maintenance.origin.in_(("api", "dashboard"))))
    bump_version(service.id)
    return result.rowcount


def _rules_of(service_id: int, kind: str) -> list[Rule]:
    return list(db.session.execute(select(Rule).where(Rule.service_id == service_id, Rule.kind == kind)
                                   .order_by(Rule.position)).scalars())


def save_rule(service: Service, kind: str, rule_id: int | None, spec) -> Rule:
    """Add a rule at the end, or replace one; the engine has built ``spec``. The caller commits."""
    if rule_id is None:
        total = db.session.execute(select(func.count(Rule.id)).where(Rule.service_id == service.id)).scalar_one()
        check_rule_count(total + 1, 0, "rule")
        rule = Rule(service_id=service.id, kind=kind, position=len(_rules_of(service.id, kind)))
        db.session.add(rule)
    else:
        rule = db.session.get(Rule, rule_id)
    doc = spec.as_dict()
    rule.urgency = doc.get("urgency", "high")
    rule.conditions = doc["conditions"]
    rule.title_from = doc.get("title_from")
    rule.description_from = doc.get("description_from")
    rule.map_key = doc.get("map_incident_with", doc.get("incident_mapped_with"))
    for name, value in rule_priority_columns(doc).items():
        setattr(rule, name, value)
    rule.changed_at = clock.to_db(clock.now())
    bump_version(service.id)
    return rule


def delete_rule(rule: Rule) -> None:
    """Delete a rule and close the gap in the order. The caller commits."""
    db.session.delete(rule)
    db.session.flush()
    for position, other in enumerate(_rules_of(rule.service_id, rule.kind)):
        other.position = position
    bump_version(rule.service_id)


def move_rule(rule: Rule, step: int) -> None:
    """Move a rule up (-1) or down (+1) among the rules of its kind. The caller commits."""
    rules = _rules_of(rule.service_id, rule.kind)
    index = rules.index(rule)
    target = index + step
    if 0 <= target < len(rules):
        rules[index].position, rules[target].position = rules[target].position, rules[index].position
        bump_version(rule.service_id)


def set_settings(service: Service, *, enabled: bool, window: int | None, split_on: str | None = None) -> None:
    service.enabled = enabled
    service.duplicate_window_seconds = window
    service.split_on = split_on
    bump_version(service.id)


# -- Units of work for the dashboard and the scripts API: each one transaction ----------

class ServicePage(NamedTuple):
    service: Service
    windows: list[Maintenance]
    in_maintenance: bool
    trigger: list[Rule]
    resolve: list[Rule]
    paging: object = None  # service_paging.PagingSection: its policy and webhooks
    heartbeats: list = []  # HeartbeatView, by name
    lint: list = []  # engine.lint.Lint: what is wrong with its rules


class HeartbeatView(NamedTuple):
    row: HeartbeatRow
    state: str  # as of now (a due one the worker has not moved yet shows where it stands)
    next_at: float | None  # when it turns late or down without a call


def heartbeat_views(service_id: int, now: float) -> list[HeartbeatView]:
    views = []
    for row in db.session.execute(select(HeartbeatRow).where(HeartbeatRow.service_id == service_id)
                                  .order_by(HeartbeatRow.name)).scalars():
        state, next_at = check_heartbeat(row.state, clock.from_db(row.last_ping_at), row.every_seconds,
                                         row.grace_seconds, now)
        views.append(HeartbeatView(row, PAUSED if row.paused else state, next_at))
    return views


def live_services() -> list[Service]:
    """Every service that is not deleted, by name."""
    return list(db.session.execute(select(Service).where(Service.live()).order_by(Service.name)).scalars())


def live_service(service_id: int) -> Service | None:
    """A service by id, unless it is deleted."""
    service = db.session.get(Service, service_id)
    return service if service is not None and service.deleted_at is None else None


def in_maintenance_now(windows: list[Maintenance], now: float) -> bool:
    """Whether some window is on now (for any call; tag sets narrow which calls it skips)."""
    return any(MaintenanceWindow(clock.from_db(w.starts_at), clock.from_db(w.ends_at)).active_at(now)
               for w in windows)


def overview(now: float) -> list[tuple[Service, bool, int, dict]]:
    """Every service with whether it is in maintenance, its open incidents and rule counts
    (``kinds["policy"]``: its escalation policy's name, or None: nobody is paged)."""
    services = live_services()
    ids = [s.id for s in services]
    windows: dict[int, list] = {}
    for window in db.session.execute(select(Maintenance).where(Maintenance.service_id.in_(ids))).scalars():
        windows.setdefault(window.service_id, []).append(window)
    active = dict(db.session.execute(select(Incident.service_id, func.count(Incident.id)).where(
        Incident.service_id.in_(ids), Incident.status.in_(ACTIVE)).group_by(Incident.service_id)).all())
    kinds: dict[int, dict] = {}
    for service_id, kind, count in db.session.execute(select(Rule.service_id, Rule.kind, func.count(Rule.id))
                                                      .where(Rule.service_id.in_(ids))
                                                      .group_by(Rule.service_id, Rule.kind)).all():
        kinds.setdefault(service_id, {})[kind] = count
    policies = service_paging.paged_services()
    for s in services:
        kinds.setdefault(s.id, {})["policy"] = policies.get(s.id)
    return [(s, in_maintenance_now(windows.get(s.id, []), now), active.get(s.id, 0), kinds.get(s.id, {}))
            for s in services]


def service_page(service_id: int, now: float) -> ServicePage | None:
    """One service with its maintenance windows and its rules in order."""
    service = live_service(service_id)
    if service is None:
        return None
    rules = db.session.execute(select(Rule).where(Rule.service_id == service.id)
                               .order_by(Rule.kind.desc(), Rule.position)).scalars().all()
    windows = list(db.session.execute(select(Maintenance).where(Maintenance.service_id == service.id)
                                      .order_by(Maintenance.id)).scalars())
    return ServicePage(service, windows, in_maintenance_now(windows, now),
                       [r for r in rules if r.kind == "trigger"], [r for r in rules if r.kind == "resolve"],
                       service_paging.service_paging(service.id, now), heartbeat_views(service.id, now),
                       lint_service(service.id, now))


def create_service(name: str, now: float) -> Service:
    """Add an enabled service with no rules. :raises SpecError: a bad or taken name."""
    check_service_name(name, "name")

    def work() -> Service:
        if find_service(name) is not None:
            raise SpecError("name", Say("a service named %(name)s exists already", name=repr(name)))
        service = Service(name=name, enabled=True, version=1, created_at=clock.to_db(now))
        db.session.add(service)
        db.session.flush()
        audit.track("service", None).done(service.id)
        return service
    return write(work)


def rename(service_id: int, name: str) -> tuple[str, str] | None:
    """Rename a service; return (old name, new name), or None when there is no such service."""
    def work():
        service = live_service(service_id)
        if service is None:
            return None
        old, tracked = service.name, audit.track("service", service_id)
        rename_service(service, name)
        tracked.done()
        return old, service.name
    return write(work)


def delete(service_id: int, now: float, actor: str) -> str | None:
    """Delete a service (see :func:`delete_service`); its name, or None when there is none."""
    def work():
        service = live_service(service_id)
        if service is None:
            return None
        tracked = audit.track("service", service_id)
        delete_service(service, now, actor)
        tracked.done()
        return service.name
    return write(work)


def change_settings(service_id: int, *, enabled: bool, window: int | None,
                    split_on: str | None = None) -> Service | None:
    """Turn a service on or off, set its duplicate window and the key it splits payloads on
    (S38); None when there is no such service."""
    def work():
        service = live_service(service_id)
        if service is not None:
            tracked = audit.track("service", service_id)
            set_settings(service, enabled=enabled, window=window, split_on=split_on)
            tracked.done()
        return service
    return write(work)


def maintenance_on(service_id: int, tags, until: float | None, now: float, *, origin: str,
                   starts: float | None = None) -> dict | None:
    """Start (or schedule) a maintenance window on a service; None when there is no such service."""
    def work():
        service = live_service(service_id)
        return None if service is None else _maintenance(service, start_maintenance, tags, until, now, origin, starts)
    return write(work)


def end_maintenance_on(service_id: int) -> int | None:
    """End a service's started windows: how many, or None when there is no such service."""
    def work():
        service = live_service(service_id)
        return None if service is None else _maintenance(service, end_maintenance)
    return write(work)


def _maintenance(service: Service, change, *args, **kwargs):
    """Start or end maintenance (``change``), audited as the service's windows before and after."""
    tracked = audit.track("maintenance", service.id)
    result = change(service, *args, **kwargs)
    tracked.done()
    return result


def reachable_service(name: str, scope: int | None) -> Service | None:
    """A live service by name, if a token scoped to ``scope`` (None: global) reaches it."""
    service = find_service(name)
    return service if service is not None and scope in (None, service.id) else None


def token_maintenance(name: str, scope: int | None, tags, until: float | None, now: float) -> dict | None:
    """Start maintenance for a token (S36); None when the token does not reach the service."""
    def work():
        service = reachable_service(name, scope)
        return None if service is None else _maintenance(service, start_maintenance, tags, until, now, origin="api")
    return write(work)


def token_end_maintenance(name: str, scope: int | None) -> dict | None:
    """End started maintenance for a token (S36); None when the token does not reach the service."""
    def work():
        service = reachable_service(name, scope)
        return None if service is None else {"service": service.name, "ended": _maintenance(service, end_maintenance)}
    return write(work)


def rule_of(service_id: int, rule_id: int) -> Rule | None:
    """A rule of a service."""
    rule = db.session.get(Rule, rule_id)
    return rule if rule is not None and rule.service_id == service_id else None


def store_rule(service_id: int, kind: str, rule_id: int | None, spec) -> Rule | None:
    """Save a rule the engine has built (a new one when ``rule_id`` is None); None when the
    service or the rule is gone. :raises SpecError: too many rules."""
    def work():
        service = live_service(service_id)
        if service is None or (rule_id is not None and rule_of(service_id, rule_id) is None):
            return None
        tracked = audit.track("service", service_id)
        rule = save_rule(service, kind, rule_id, spec)
        tracked.done()
        return rule
    return write(work)


def change_rule(service_id: int, rule_id: int, action: str) -> str | None:
    """Move a rule ``up`` or ``down``, or ``delete`` it; its kind, or None when there is none."""
    def work():
        rule = rule_of(service_id, rule_id)
        if rule is None:
            return None
        kind, tracked = rule.kind, audit.track("service", service_id)
        if action == "delete":
            delete_rule(rule)
        else:
            move_rule(rule, -1 if action == "up" else 1)
        tracked.done()
        return kind
    return write(work)


def deletion_preview(service_id: int) -> tuple[Service, dict] | None:
    """The service and what deleting it takes with it, for the confirmation page."""
    service = live_service(service_id)
    return None if service is None else (service, deletion_summary(service))


DRY_RUN_CALLS = 200
LAST_CALLS = Sql("""
    SELECT c.id, c.received_at, c.source, p.text FROM api_call_services s
    JOIN api_calls c ON c.id = s.call_id LEFT JOIN payloads p ON p.digest = c.payload_digest
    WHERE s.service_id = :sid ORDER BY s.received_at DESC LIMIT :n
""")


class DryRun(NamedTuple):
    calls: int  # how many stored calls were run
    differences: list  # engine.dryrun.Difference, newest first


CALLS_BETWEEN = Sql("""
    SELECT c.id, c.received_at, c.source, p.text FROM api_call_services s
    JOIN api_calls c ON c.id = s.call_id LEFT JOIN payloads p ON p.digest = c.payload_digest
    WHERE s.service_id = :sid AND s.received_at >= :start AND s.received_at < :end
    ORDER BY s.received_at DESC LIMIT :n
""")
DRY_RUN_RANGE_CALLS = 2000  # a report's "try the fix" (issue 20): the newest of a range's calls


def dry_run(service_id: int, kind: str, rule_id: int | None, rule, limit: int = DRY_RUN_CALLS,
            between: tuple[float, float] | None = None) -> DryRun | None:
    """What an edited rule would change in the service's last ``limit`` calls, or in its calls
    ``between`` two instants (the newest 2000; a report's "try the fix"); nothing is saved."""
    rows = run_read(db.engine, lambda cursor: service_rows(cursor, service_id))
    if not rows:
        return None
    current = load_specs(db.engine, SpecCache(), rows)[0]
    if isinstance(current, Exception):
        raise current
    if between is None:
        calls = session_cursor().execute(LAST_CALLS, {"sid": service_id, "n": limit}).fetchall()
    else:
        calls = session_cursor().execute(CALLS_BETWEEN, {"sid": service_id, "start": clock.to_db(between[0]),
                                                         "end": clock.to_db(between[1]),
                                                         "n": DRY_RUN_RANGE_CALLS}).fetchall()
    return DryRun(len(calls), compare(current, with_rule(current, kind, rule_id, rule), calls))


LINT_DAYS = 7
LINT_RESULTS = 2000  # the most recent calls read for "held for no call in 7 days"
RECENT_RESULTS = Sql("""
    SELECT c.results FROM api_call_services s JOIN api_calls c ON c.id = s.call_id
    WHERE s.service_id = :sid AND s.received_at >= :since ORDER BY s.received_at DESC LIMIT :n
""")


def lint_service(service_id: int, now: float) -> list:
    """engine.lint's findings for a service, from its last 200 calls and 7 days of outcomes."""
    rows = run_read(db.engine, lambda cursor: service_rows(cursor, service_id))
    specs = load_specs(db.engine, SpecCache(), rows) if rows else []
    if not specs or isinstance(specs[0], Exception):
        return []
    cursor = session_cursor()
    payloads = [Payload.from_text(r[3] or "") for r in cursor.execute(
        LAST_CALLS, {"sid": service_id, "n": DRY_RUN_CALLS}).fetchall()]
    held: dict | None = None
    for (results,) in cursor.execute(RECENT_RESULTS, {"sid": service_id, "since": clock.to_db(now - LINT_DAYS * 86400),
                                                      "n": LINT_RESULTS}).fetchall():
        held = held or {}
        for outcome in load_all(from_json(results)):
            if outcome.service_id != service_id:
                continue
            for rule_id in ([outcome.trigger.rule_id] if outcome.trigger else []) + [h.rule_id for h in outcome.resolves]:
                held[rule_id] = held.get(rule_id, 0) + 1
    if held is not None:  # a rule saved within the period has not had it yet
        young = db.session.execute(select(Rule.id).where(
            Rule.service_id == service_id, Rule.changed_at > clock.to_db(now - LINT_DAYS * 86400))).scalars()
        held.update({rule_id: held.get(rule_id) or 1 for rule_id in young})
    return lint(specs[0], payloads, held, LINT_DAYS)
