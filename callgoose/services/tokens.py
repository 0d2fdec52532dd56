"""API tokens (S4): random, prefixed, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import clock
from ..extensions import db
from ..store.hotpath import Cursor, Sql, to_datetime
from ..store.models import ApiToken

PREFIX = "cg_"
# Unknown and revoked tokens take this same query and the same path (S3).
SELECT_TOKEN = Sql("SELECT id, name, service_id, last_used_at FROM api_tokens "
                   "WHERE digest = :digest AND revoked_at IS NULL")


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    service_id: int | None
    last_used_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def generate() -> str:
    """A new token: ``cg_`` and 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def authenticate(cursor: Cursor, token: str | None) -> TokenInfo | None:
    """Return the live token with this plaintext, or None."""
    if not token:
        return None
    row = cursor.execute(SELECT_TOKEN, {"digest": digest(token)}).fetchone()
    return TokenInfo(row[0], row[1], row[2], to_datetime(row[3])) if row else None


def create_token(name: str, service_id: int | None, now: float) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned here and never stored. The caller commits."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a token name needs 1 to 100 characters")
    taken = db.session.execute(select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))).first()
    if taken:
        raise ValueError(f"a live token named {name!r} exists already: choose another name, or rotate that one")
    plaintext = generate()
    token = ApiToken(name=name, digest=digest(plaintext), prefix=plaintext[:9],
                     service_id=service_id, created_at=clock.to_db(now))
    db.session.add(token)
    return token, plaintext


def revoke_token(token: ApiToken, now: float) -> None:
    token.revoked_at = clock.to_db(now)


def find_token(token_id: int) -> ApiToken | None:
    return db.session.execute(select(ApiToken).where(ApiToken.id == token_id)).scalar_one_or_none()
