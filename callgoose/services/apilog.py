"""The API log (S33): calls newest first, filtered, and one call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..store.models import ApiCall, ApiToken, CallService, Service

# Counting every matching call of a big log costs more than the page (a filter by service
# reads each row's list of services): past this the page says "more than 1,000 calls".
COUNT_CAP = 1_000


@dataclass(frozen=True)
class CallsPage:
    rows: list[ApiCall]
    total: int  # exact up to COUNT_CAP
    more: bool  # more than COUNT_CAP match
    has_older: bool  # a next page exists
    services: list  # (id, name) of the live services, for the filter
    tokens: list  # (id, name) of every token, for the filter


def calls(*, status: int | None, token_id: int | None, service_id: int | None, page: int,
          per_page: int) -> CallsPage:
    """One page of calls, newest first, with the choices of the filters."""
    conditions = []
    if status is not None:
        conditions.append(ApiCall.status == status)
    if token_id is not None:
        conditions.append(ApiCall.token_id == token_id)
    query, newest_first = select(ApiCall).where(*conditions), ApiCall.received_at.desc()
    if service_id is not None:  # a range of api_call_services' key, newest first
        query = query.join(CallService, CallService.call_id == ApiCall.id).where(CallService.service_id == service_id)
        newest_first = CallService.received_at.desc()
    capped = query.with_only_columns(ApiCall.id).limit(COUNT_CAP + 1).subquery()
    total = db.session.execute(select(func.count()).select_from(capped)).scalar_one()
    rows = db.session.execute(query.order_by(newest_first).limit(per_page + 1)
                              .offset((page - 1) * per_page)).scalars().all()
    services = db.session.execute(select(Service.id, Service.name).where(Service.live()).order_by(Service.name)).all()
    tokens = db.session.execute(select(ApiToken.id, ApiToken.name).order_by(ApiToken.name)).all()
    return CallsPage(list(rows[:per_page]), min(total, COUNT_CAP), total > COUNT_CAP, len(rows) > per_page,
                     services, tokens)


def call(call_id: str) -> ApiCall | None:
    """One call, while retention keeps it."""
    return db.session.get(ApiCall, call_id)


def call_page(call_id: str) -> tuple[ApiCall, list] | None:
    """One call, and the live services it ran on as (id, name, split_on): where a rule built
    from its payload can go."""
    found = db.session.get(ApiCall, call_id)
    if found is None:
        return None
    ids = [o.service_id for o in found.outcomes if o.service_id is not None]
    targets = db.session.execute(select(Service.id, Service.name, Service.split_on).where(
        Service.id.in_(ids), Service.live()).order_by(Service.name)).all() if ids else []
    return found, list(targets)
