"""A service's sub-documents for the audit log (issue 19, item 5): its part of the S34 document
(settings, rules, heartbeats: revertible through save_service's own checks) and its maintenance
windows (recorded, not reverted: end or start a window instead)."""

from __future__ import annotations

from sqlalchemy import select

from .. import clock
from ..engine import parse_config
from ..engine.config import format_time
from ..extensions import db
from ..store.models import Maintenance, Service
from ..store.transactions import session_cursor
from . import audit


def _spec(service_id: int):
    from .catalog import _build_specs, service_rows

    rows = service_rows(session_cursor(), service_id)
    if not rows:
        return None
    built = _build_specs(db.session.connection(), rows)[service_id]
    return None if isinstance(built, Exception) else built


def service_doc(service_id: int) -> dict | None:
    """The service as the S34 document has it, without its maintenance windows; None when it is
    gone (or its stored rules no longer build)."""
    from ..engine import export_config

    spec = _spec(service_id)
    if spec is None:
        return None
    doc = export_config([spec])["services"][0]
    doc.pop("maintenance", None)
    return doc


def maintenance_doc(service_id: int) -> dict | None:
    service = db.session.get(Service, service_id)
    if service is None:
        return None
    windows = db.session.execute(select(Maintenance).where(Maintenance.service_id == service_id)
                                 .order_by(Maintenance.id)).scalars()
    return {"name": service.name, "windows": [
        {"starts_at": format_time(clock.from_db(w.starts_at)), "ends_at": format_time(clock.from_db(w.ends_at)),
         "tags": w.tags or [], "origin": w.origin} for w in windows]}


def _apply(service_id: int | None, doc: dict | None, now: float) -> int | None:
    """Make the service what ``doc`` says through save_service (its checks included); the
    windows the configuration made stay as they are. :raises SpecError:"""
    from .catalog import delete_service, live_service, rename_service, save_service

    service = live_service(service_id) if service_id is not None else None
    if doc is None:
        if service is not None:
            delete_service(service, now, "audit revert")
        return None
    windows = [] if service is None else [
        {"starts_at": format_time(clock.from_db(w.starts_at)), "ends_at": format_time(clock.from_db(w.ends_at)),
         "tags": w.tags or []}
        for w in db.session.execute(select(Maintenance).where(Maintenance.service_id == service.id,
                                                              Maintenance.origin == "config")).scalars()]
    spec = parse_config({"services": [{**doc, "maintenance": windows}]})[0]
    if service is not None and service.name != spec.name:
        rename_service(service, spec.name)
    db.session.flush()
    return save_service(spec, now).id


audit.revertible("service", service_doc, _apply)
audit.trackable("maintenance", maintenance_doc)
