"""One HTTP GET of the dead-man's switch (``HEALTH_PING_URL``) with an overall deadline.

A per-read timeout is not enough: a receiver that drips a byte every few seconds would hold
the worker's tick for as long as it likes. The request runs in a thread of its own; when the
deadline passes, its socket is shut down (the thread then ends at once) and the ping counts
as failed. The URL is the operator's own setting, so no SSRF guard: it may well be on the
local network (another Callgoose's heartbeat). Redirects are not followed.
"""

from __future__ import annotations

import http.client
import socket
import threading
from urllib.parse import urlsplit

from . import Permanent, Temporary

MAX_RESPONSE_BYTES = 64 * 1024


def check_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an http(s) URL with a host."""
    try:
        parts = urlsplit(str(url).strip())
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"setting HEALTH_PING_URL is not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"setting HEALTH_PING_URL must be an http:// or https:// URL, not {url!r}")


def _abort(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def get(url: str, deadline: float) -> int:
    """GET ``url``; return the status (2xx), or raise :class:`Temporary` / :class:`Permanent`."""
    parts = urlsplit(url.strip())
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=deadline)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    outcome: dict = {}

    def request():
        try:
            conn.request("GET", path, headers={"User-Agent": "Callgoose health ping"})
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            outcome["status"] = response.status
        except Exception as exc:  # reported below, in the worker's thread
            outcome["error"] = exc
        finally:
            conn.close()

    thread = threading.Thread(target=request, name="callgoose-ping", daemon=True)
    thread.start()
    thread.join(deadline)
    if thread.is_alive():
        _abort(conn)
        raise Temporary(f"no answer within {deadline:g} s")
    if "error" in outcome:
        exc = outcome["error"]
        raise Temporary(f"{type(exc).__name__}: {exc}"[:300])
    status = outcome["status"]
    if 200 <= status < 300:
        return status
    raise (Temporary if status >= 500 or status == 429 else Permanent)(f"the ping URL answered {status}")
