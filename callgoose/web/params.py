"""Reading query and form values: a bad value is a 400 that says what was wrong, never a 500.

The app's error handlers turn :class:`BadParam` into the JSON envelope under the API
paths and into an error page on the dashboard.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from werkzeug.exceptions import BadRequest

from .. import clock
from ..engine.reports import RangeError
from ..services import reports
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest id column value PostgreSQL holds (integer); SQLite holds more
MAX_PAGE = 1_000_000


class DatabaseId(IntegerConverter):
    """``<int:...>`` in every route: larger numbers match no route (404), never reach SQL."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class BadParam(BadRequest):
    """A query or form value that cannot be used."""


def report_args(names: tuple[str, ...], args, default_zone: str) -> dict:
    """Reports (issue 20) over ``?from=&to=&zone=&country=``.
    :raises BadParam: a bad range, zone or country (a 400 that says which)."""
    try:
        return reports.read(names, args.get("from"), args.get("to"), args.get("zone"), default_zone,
                            args.get("country"), clock.now())
    except RangeError as exc:
        raise BadParam(str(exc)) from None


def whole_number(value: str | None, name: str, low: int = 1, high: int = MAX_ID) -> int | None:
    """An optional whole number written with ASCII digits, within ``low``..``high``."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or not low <= int(value) <= high:
        raise BadParam(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def page_number(args) -> int:
    """The ``page`` query value: 1 when absent."""
    return whole_number(args.get("page"), "page", 1, MAX_PAGE) or 1


def text(value: str | None, name: str, max_chars: int = 200) -> str:
    """A text value without NUL characters (PostgreSQL cannot store them), trimmed and cut."""
    value = (value or "").strip()
    if "\x00" in value:
        raise BadParam(f"{name} must not contain NUL characters.")
    return value[:max_chars]


def query_time(value: str | None, name: str) -> float | None:
    """An optional ISO 8601 time that carries an offset or ``Z`` (``+`` encoded as ``%2B``)."""
    if value is None or value == "":
        return None
    text = value.strip()
    if not re.search(r"(Z|z|[+-]\d\d:?\d\d)$", text):
        raise BadParam(f"{name} must be an ISO 8601 time with an offset or Z, e.g. 2026-12-24T18:00:00Z "
                       "(write + as %2B in a URL).")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
        stamp = parsed.timestamp()
    except (ValueError, OverflowError, OSError):
        raise BadParam(f"{name} is not an ISO 8601 time (e.g. 2026-12-24T18:00:00Z).") from None
    if not 0 <= stamp < 253_000_000_000:
        raise BadParam(f"{name} must be a time between the years 1970 and 9999.")
    return stamp


def audit_filters(args) -> dict:
    """The list's filters from the query: ``since`` (ISO time), ``actor`` (a kind or a name),
    ``subject`` (a subject kind), ``page``. :raises BadParam: a bad value (a 400)."""
    def name(key: str, most: int) -> str | None:  # no stored name holds a NUL: it is dropped, not refused
        return text((args.get(key) or "").replace("\x00", ""), key, most) or None
    return {"since": query_time(args.get("since"), "since"), "actor": name("actor", 254),
            "subject": name("subject", 32), "page": page_number(args)}


_URL_IGNORED = re.compile(r"[\x00-\x1f\x7f]")


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path of this server, read the way browsers read it; else None.

    Browsers drop tabs and newlines from URLs, strip leading spaces and control characters,
    and take a backslash for a slash: ``/\tevil.example`` and ``/\\evil.example`` are
    other sites to them.
    """
    if target:
        cleaned = _URL_IGNORED.sub("", target).lstrip(" ").replace("\\", "/")
        parts = urlsplit(cleaned)
        if cleaned.startswith("/") and not cleaned.startswith("//") and not parts.scheme and not parts.netloc:
            return cleaned
    return None
