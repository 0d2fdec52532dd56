"""App-level error handlers: the JSON envelope under the API paths, HTML elsewhere."""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db
from . import opsgenie

API_PREFIXES = ("/v1/", "/api/v1/", "/sqibs-api/", "/v2/")  # /v2/: the PagerDuty-compatible API (issue 18)
_WORDS = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
          413: "payload_too_large", 400: "bad_request"}


# An error page in the reader's language (issue 21): its title, and what it means where the
# view said nothing more than the status (Werkzeug's own descriptions are English).
TITLES = {400: _l("Bad request"), 401: _l("Sign-in needed"), 403: _l("Not allowed"), 404: _l("Not found"),
          405: _l("Method not allowed"), 409: _l("Conflict"), 410: _l("Gone"), 413: _l("Too large"),
          422: _l("Not valid"), 429: _l("Too many requests"), 500: _l("Something went wrong")}
MEANINGS = {400: _l("The request could not be read."), 401: _l("Sign in to see this page."),
            403: _l("You may not do this."), 404: _l("There is nothing at this address."),
            405: _l("This address does not take this kind of request."),
            409: _l("This conflicts with what is stored now; reload and try again."),
            410: _l("This is no longer available."), 413: _l("What was sent is too large."),
            422: _l("What was sent is not valid."), 429: _l("Too many requests at once; wait a moment and try again."),
            500: _l("Something went wrong on the server. Nothing you sent was lost if it was confirmed; try again.")}


def error_page(exc: HTTPException):
    """An HTML error page: the status, its name and what it means, in the reader's language."""
    code = exc.code or 500
    own = exc.description if exc.description and exc.description != type(exc).description else None
    return render_template("errors/error.html", code=code, title=TITLES.get(code, exc.name),
                           description=own or MEANINGS.get(code, exc.description)), code


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def json_error(status: int, message: str, error: str | None = None):
    """The one error envelope of the JSON API: ``{"error", "message"}``."""
    response = jsonify({"error": error or _WORDS.get(status, "error"), "message": message})
    response.status_code = status
    if status == 401:
        response.headers.update(UNAUTHORIZED_HEADERS)
    return response


TEMPORARY = "The call was not stored because of a temporary error; try again."
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="callgoose"'}


def temporary_error():
    """S32: nothing was stored; every sender retries a 5xx."""
    return json_error(500, TEMPORARY, "temporary")


def _http_error(exc: HTTPException):
    if opsgenie.is_opsgenie_path(request.path):  # issue 18: that API's own error shape
        response = opsgenie.error(exc.code or 500, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    if is_api_path(request.path):
        if exc.code == 500:
            return temporary_error()
        response = json_error(exc.code or 500, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    return error_page(exc)


def _unexpected(exc: Exception):
    current_app.logger.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    db.session.rollback()
    if opsgenie.is_opsgenie_path(request.path):
        return opsgenie.error(500, "The request was not stored because of a temporary error; try again.")
    if is_api_path(request.path):
        return temporary_error()
    return error_page(InternalServerError())


def register_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"))


def security_headers(response):
    """Headers for every answer; dashboard pages are never cached (they may show a new token)."""
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    if not is_api_path(request.path):
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
            response.vary.add("Cookie")
    return response
