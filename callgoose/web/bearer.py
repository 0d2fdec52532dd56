"""Reading and checking the API token of a request (S2, S3), and its scope (issue 19)."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from ..extensions import db
from ..services.tokens import authenticate_presented, may, refusal
from .errors import json_error
from .scope import declare


def presented_token(req) -> str | None:
    """The token of a request: a Bearer header, else (only without one) ``?token=``."""
    header = req.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()  # a bad header token is final, whatever the query says
    return req.args.get("token")


UNAUTHORIZED = ("A valid API token is required: send 'Authorization: Bearer <token>' "
                "or add ?token=<token> to the URL.")


def unauthorized():
    """The same answer for a missing, unknown or revoked token; it never echoes the token."""
    return json_error(401, UNAUTHORIZED)


def forbidden(token, need: str):
    """403 for a live token whose scope lacks ``need``: it names the scope needed (the caller
    holds this token, so saying what it is tells nothing about any other)."""
    return json_error(403, refusal(token.scope, need), "insufficient_scope")


def refused(token, need: str):
    """The 403 when ``token`` may not do what needs ``need``, else None."""
    return None if may(token.scope, need) else forbidden(token, need)


def current_token():
    """Authenticate the request's token with a short read, or return None."""
    return authenticate_presented(db.engine, presented_token(request))


def require_token(scope: str):
    """Run the view only for a live token whose scope grants ``scope``, as ``g.api_token``:
    401 without one, 403 naming the scope needed for a token without it."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = current_token()
            if token is None:
                return unauthorized()
            refusal_answer = refused(token, scope)
            if refusal_answer is not None:
                return refusal_answer
            g.api_token = token
            return view(*args, **kwargs)
        return declare(scope)(wrapped)
    return decorate
