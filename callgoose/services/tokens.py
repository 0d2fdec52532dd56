"""API tokens (S4): random, prefixed, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import clock
from ..engine.decide import one_line
from ..engine.words import Say
from ..extensions import db
from ..store.hotpath import Cursor, Sql, to_datetime
from ..store.models import ApiToken, Service
from ..store.transactions import run_read, write
from . import audit

PREFIX = "cg_"
# Issue 19 (item 6): a token's scope. An ingestion token (every token made before scopes) sends
# alerts and reaches the whole JSON API, as S36 always allowed; an API token cannot send alerts:
# a read-only one reads the JSON API, a read-write one also acknowledges, resolves and starts and
# ends maintenance. This table is the one place that decides; every /v1 and /v2 route declares
# the scope it needs (web/bearer.py) and asks ``may``.
INGEST, READ, WRITE = "ingest", "read", "write"
SCOPES = (INGEST, READ, WRITE)
GRANTS = {INGEST: frozenset({INGEST, READ, WRITE}), READ: frozenset({READ}), WRITE: frozenset({READ, WRITE})}
SCOPE_NAMES = {INGEST: "ingestion token", READ: "read-only API token", WRITE: "read-write API token"}
NEEDS = {INGEST: "send alerts", READ: "read the JSON API", WRITE: "acknowledge, resolve or start and end maintenance"}


def may(scope: str, need: str) -> bool:
    """Whether a token of ``scope`` may do what needs ``need`` (an unknown scope may nothing)."""
    return need in GRANTS.get(scope, ())


def refusal(scope: str, need: str) -> str:
    """The words of a 403 for a token whose scope lacks ``need``: what it is, what it needs."""
    article = "an" if need == INGEST else "a"
    return (f"This {SCOPE_NAMES.get(scope, 'token')} may not {NEEDS[need]}: that needs {article} {SCOPE_NAMES[need]} "
            f"(scope {need}{', or an ingestion token' if need != INGEST else ''}).")


COLUMNS = ("id", "name", "service_id", "last_used_at", "scope")  # a TokenInfo's, in its order (token_info)
_COLUMNS = f"SELECT {', '.join(COLUMNS)} FROM api_tokens "
# Unknown and revoked tokens take this same query and the same path (S3).
SELECT_TOKEN_BY_ID = Sql(_COLUMNS + "WHERE id = :id AND revoked_at IS NULL")
SELECT_TOKEN = Sql(_COLUMNS + "WHERE digest = :digest AND revoked_at IS NULL")
# Only ingestion tokens have an intake address; the scope is asked as well, to be sure.
SELECT_TOKEN_BY_INTAKE = Sql(_COLUMNS + "WHERE intake_id = :intake AND revoked_at IS NULL AND scope = 'ingest'")
INTAKE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # lower case, no look-alikes: addresses are typed
# Issue 18: a routing key is PagerDuty's form, 32 characters of [a-z0-9] (about 165 bits from
# ``secrets``), accepted only as an event's ``routing_key``. Its digest is taken over
# ROUTING_DOMAIN + key, so a Bearer lookup (``SELECT_TOKEN``) can never find it; the event API
# looks up both digests, so an ordinary service token works as a routing key as well. Unknown,
# revoked and global keys take the same query (S3).
ROUTING_KEY, ROUTING_KEY_LENGTH = "routing_key", 32
ROUTING_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ROUTING_DOMAIN = "pagerduty:"
# An API token is no routing key: it takes the path of an unknown key ("Invalid routing key").
SELECT_ROUTING = Sql(_COLUMNS + "WHERE digest IN (:routing, :plain) AND revoked_at IS NULL AND scope = 'ingest'")


def new_intake_id() -> str:
    """The local part of a token's intake address: 20 characters, 100 bits from ``secrets``."""
    return "".join(secrets.choice(INTAKE_ALPHABET) for _ in range(20))


def token_by_intake(cursor: Cursor, intake_id: str) -> TokenInfo | None:
    """The live token whose intake address has this local part (case-insensitive), or None."""
    return token_info(cursor.execute(SELECT_TOKEN_BY_INTAKE, {"intake": intake_id.lower()}).fetchone())


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    service_id: int | None
    last_used_at: datetime | None
    scope: str = INGEST


def token_info(row) -> TokenInfo | None:
    """A token's row (``_COLUMNS``) as read from either driver."""
    return TokenInfo(row[0], row[1], row[2], to_datetime(row[3]), row[4]) if row else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def generate() -> str:
    """A new token: ``cg_`` and 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def generate_routing_key() -> str:
    """A new routing key: 32 characters of [a-z0-9], as PagerDuty's clients expect."""
    return "".join(secrets.choice(ROUTING_ALPHABET) for _ in range(ROUTING_KEY_LENGTH))


def routing_digest(key: str) -> str:
    return digest(ROUTING_DOMAIN + key)


def routing_key_token(cursor: Cursor, key: str | None) -> TokenInfo | None:
    """The live service token an event's ``routing_key`` names (a routing key, or an ordinary
    service token), or None: unknown, revoked and global tokens alike (S3)."""
    if not key:
        return None
    row = cursor.execute(SELECT_ROUTING, {"routing": routing_digest(key), "plain": digest(key)}).fetchone()
    return token_info(row) if row is not None and row[2] is not None else None


def authenticate(cursor: Cursor, token: str | None) -> TokenInfo | None:
    """Return the live token with this plaintext, or None."""
    if not token:
        return None
    return token_info(cursor.execute(SELECT_TOKEN, {"digest": digest(token)}).fetchone())


def authenticate_presented(engine, token: str | None) -> TokenInfo | None:
    """Authenticate a presented token with one short read (the scripts API, S36)."""
    return run_read(engine, lambda cursor: authenticate(cursor, token))


def token_by_id(cursor: Cursor, token_id: int) -> TokenInfo | None:
    """The live token with this id, or None (the dashboard's test form picks tokens by id)."""
    return token_info(cursor.execute(SELECT_TOKEN_BY_ID, {"id": token_id}).fetchone())


def create_token(name: str, service_id: int | None, now: float, kind: str = "token",
                 scope: str = INGEST) -> tuple[ApiToken, str]:
    """Create a token (``kind`` ``routing_key``: a PagerDuty-style routing key, which needs a
    service; ``scope``: ingest, read or write); the plaintext is returned here and never stored.
    The caller commits."""
    if scope not in SCOPES:
        raise ValueError(Say("a token's scope is ingest, read or write"))
    if kind == ROUTING_KEY and service_id is None:
        raise ValueError(Say("a routing key needs a service: it routes events to one service"))
    if kind == ROUTING_KEY and scope != INGEST:
        raise ValueError(Say("a routing key sends events: it is an ingestion token, not an API token"))
    name = one_line(name)  # it signs people's actions ("API token <name>"), which mail subjects show
    if not name or len(name) > 100:
        raise ValueError(Say("a token name needs 1 to 100 characters"))
    taken = db.session.execute(select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))).first()
    if taken:
        raise ValueError(Say("a live token named %(name)s exists already: choose another name, or rotate that one",
                             name=repr(name)))
    if kind == ROUTING_KEY:  # no intake address: mail is not an event of PagerDuty's API
        plaintext = generate_routing_key()
        token = ApiToken(name=name, digest=routing_digest(plaintext), prefix=plaintext[:6], service_id=service_id,
                         created_at=clock.to_db(now), kind=ROUTING_KEY)
    else:  # only an ingestion token takes mail: an API token sends no alerts
        plaintext = generate()
        token = ApiToken(name=name, digest=digest(plaintext), prefix=plaintext[:9], service_id=service_id,
                         created_at=clock.to_db(now), intake_id=new_intake_id() if scope == INGEST else None,
                         scope=scope)
    db.session.add(token)
    db.session.flush()
    audit.track("token", None).done(token.id)
    return token, plaintext


def revoke_token(token: ApiToken, now: float) -> None:
    token.revoked_at = clock.to_db(now)


def token_doc(token_id: int) -> dict | None:
    """A token as the audit log diffs it: never its value (issue 19)."""
    found = db.session.get(ApiToken, token_id)
    if found is None:
        return None
    service = db.session.get(Service, found.service_id) if found.service_id is not None else None
    return {"name": found.name, "kind": found.kind, "scope": found.scope, "service": service.name if service else None,
            "revoked": found.revoked_at is not None}


audit.trackable("token", token_doc)


def find_token(token_id: int) -> ApiToken | None:
    return db.session.execute(select(ApiToken).where(ApiToken.id == token_id)).scalar_one_or_none()


# -- Units of work for the dashboard: each one transaction -------------------------------

def token_rows() -> list:
    """Every token with its service's name: live ones first, newest first."""
    return db.session.execute(select(ApiToken, Service.name).outerjoin(
        Service, Service.id == ApiToken.service_id).order_by(ApiToken.revoked_at.is_not(None),
                                                            ApiToken.created_at.desc())).all()


def live_tokens() -> list:
    """The live tokens /v1/process accepts, with their service's name, by name (the test payload
    form's choices; a routing key works only as an event's routing key, issue 18; an API token
    sends no alerts, issue 19)."""
    return db.session.execute(select(ApiToken, Service.name).outerjoin(Service, Service.id == ApiToken.service_id)
                              .where(ApiToken.revoked_at.is_(None), ApiToken.kind != ROUTING_KEY,
                                     ApiToken.scope == INGEST)
                              .order_by(ApiToken.name)).all()


def add_token(name: str, service_id: int | None, now: float, kind: str = "token",
              scope: str = INGEST) -> tuple[ApiToken, str]:
    """Create a token in its own transaction. :raises ValueError: a bad or taken name, a bad
    scope, or a routing key without a service or with an API scope."""
    return write(lambda: create_token(name, service_id, now, kind, scope))


def rotate(token_id: int, now: float) -> tuple[ApiToken, ApiToken, str] | None:
    """Revoke a live token and make a new one with its name and scope: (old, new, plaintext)."""
    def work():
        old = find_token(token_id)
        if old is None or old.revoked_at is not None:
            return None
        tracked = audit.track("token", token_id)
        revoke_token(old, now)
        tracked.done()  # the flush frees the name for the new token
        token, plaintext = create_token(old.name, old.service_id, now, old.kind, old.scope)
        return old, token, plaintext
    return write(work)


def revoke(token_id: int, now: float) -> tuple[ApiToken, bool] | None:
    """Revoke a token: (token, whether it was live), or None when there is no such token."""
    def work():
        token = find_token(token_id)
        if token is None:
            return None
        live = token.revoked_at is None
        if live:
            tracked = audit.track("token", token_id)
            revoke_token(token, now)
            tracked.done()
        return token, live
    return write(work)
