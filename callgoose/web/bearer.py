"""Reading and checking the API token of a request (S2, S3)."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from ..extensions import db
from ..services.tokens import authenticate_presented
from .errors import json_error


def presented_token(req) -> str | None:
    """The token of a request: a Bearer header, else (only without one) ``?token=``."""
    header = req.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()  # a bad header token is final, whatever the query says
    return req.args.get("token")


def unauthorized():
    """The same answer for a missing, unknown or revoked token; it never echoes the token."""
    return json_error(401, "A valid API token is required: send 'Authorization: Bearer <token>' "
                           "or add ?token=<token> to the URL.")


def current_token():
    """Authenticate the request's token with a short read, or return None."""
    return authenticate_presented(db.engine, presented_token(request))


def require_token(view):
    """Run the view only for a live token, available as ``g.api_token``."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        token = current_token()
        if token is None:
            return unauthorized()
        g.api_token = token
        return view(*args, **kwargs)
    return wrapped
