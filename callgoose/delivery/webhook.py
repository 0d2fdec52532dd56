"""HTTP POSTs to webhooks, behind an SSRF guard.

The guard resolves the host and refuses loopback, private, link-local, CGNAT, multicast and
reserved addresses unless the host is listed in ``CALLGOOSE_WEBHOOK_ALLOWED_HOSTS``; it then
connects to the address it checked (so a DNS answer that changes in between cannot move the
request), sends the URL's host as ``Host`` and for TLS's SNI, and follows no redirect.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import Permanent, Settings, Temporary, deadline

MAX_RESPONSE_BYTES = 64 * 1024


class Refused(ValueError):
    """A URL the guard does not send to (the message says why)."""


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix (RFC 6052)
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # ::a.b.c.d (deprecated, still routed by some stacks)
# Never public, yet not "private" to Python 3.11: site-local (deprecated, RFC 3879) and the
# local-use translation prefix (RFC 8215, its IPv4 address may sit anywhere in it).
NOT_GLOBAL = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped, NAT64, 6to4, IPv4-compatible,
    Teredo (its server and its client); () for a plain IPv6 address."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    return ()


def _public(address: str) -> bool:
    """Whether an address is public: an IPv6 address that carries an IPv4 address is judged as
    that IPv4 address (all of them, for Teredo); site-local fec0::/10 and 64:ff9b:1::/48 are not."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in NOT_GLOBAL):
            return False
        inside = _embedded(ip)
        if inside:
            return all(v4.is_global and not v4.is_multicast for v4 in inside)
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, str, int, str]:
    """Split a webhook URL into (scheme, host, port, path) or raise :class:`Refused`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Refused("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("must start with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise Refused("must not carry a user name or password")
    if not parts.hostname:
        raise Refused("has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80), path


def resolve(host: str, port: int, allowed: frozenset) -> str:
    """The address to connect to, checked: :class:`Refused` for a non-public one not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Temporary(f"the host {host} cannot be resolved: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if host in allowed:
        return addresses[0]
    for address in addresses:
        if not _public(address):
            raise Refused(f"{host} is a loopback, private or link-local address ({address}); "
                          "list it in CALLGOOSE_WEBHOOK_ALLOWED_HOSTS to allow it")
    return addresses[0]


def warning(url: str, allowed: frozenset) -> str | None:
    """What the guard would say about a URL, for the page that saves it (None: fine)."""
    try:
        _scheme, host, port, _path = check_url(url)
        resolve(host, port, allowed)
    except Refused as exc:
        return f"The URL {exc}."
    except Temporary as exc:
        return f"{exc} (it is checked again when sending)."
    return None


@dataclass(frozen=True)
class Answer:
    """A receiver's answer (its body read up to 64 KiB)."""

    status: int
    headers: dict  # lower-case names
    body: bytes

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def request(settings: Settings, method: str, url: str, body: bytes = b"", headers: dict | None = None,
            guard: bool = True) -> Answer:
    """One HTTP request under the send's deadline, following no redirect; the answer whatever
    its status, or :class:`Temporary` when the receiver cannot be reached.

    ``guard``: the URL is a user's (a webhook, an ntfy topic): the SSRF guard refuses a
    private address not in ``WEBHOOK_ALLOWED_HOSTS`` (:class:`Permanent`); False for a URL
    an admin set (a provider's API base, an SMS gateway on the LAN)."""
    try:
        scheme, host, port, path = check_url(url)
        address = resolve(host, port, settings.webhook_allowed_hosts) if guard else _address(host, port)
    except Refused as exc:
        raise Permanent(f"refused: the URL {exc}") from None
    if scheme == "https":  # to the address checked, with the URL's host for SNI and the certificate
        conn = deadline.HTTPSConnection(address, port, sni=host, timeout=settings.timeout,
                                        context=ssl.create_default_context())
    else:
        conn = deadline.HTTPConnection(address, port, timeout=settings.timeout)
    default_port = 443 if scheme == "https" else 80
    sent = {"Host": host if port == default_port else f"{host}:{port}", "Content-Type": "application/json",
            "User-Agent": "Callgoose", **(headers or {})}
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read(MAX_RESPONSE_BYTES)
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    except (OSError, http.client.HTTPException) as exc:
        raise Temporary(f"the receiver could not be reached: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()


def _address(host: str, port: int) -> str:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as exc:
        raise Temporary(f"the host {host} cannot be resolved: {exc}") from None


def outcome(answer: Answer, who: str = "the receiver", detail: str = "") -> str:
    """The outbox's reading of an answer: the status line for a 2xx; :class:`Temporary` for
    408, 425, 429 and 5xx; :class:`Permanent` for a redirect and any other 4xx (``detail``:
    what the provider said, for the ledger)."""
    status = answer.status
    if 200 <= status < 300:
        return f"HTTP {status}"
    said = f": {detail}" if detail else ""
    if 300 <= status < 400:
        raise Permanent(f"{who} answered HTTP {status} (a redirect; redirects are not followed)")
    if status in (408, 425, 429) or status >= 500:
        raise Temporary(f"{who} answered HTTP {status}{said}")
    raise Permanent(f"{who} answered HTTP {status}{said}")


def post(settings: Settings, url: str, body: bytes, headers: dict[str, str]) -> str | None:
    """POST ``body`` to a user's URL; return the status line, or raise :class:`Temporary` /
    :class:`Permanent`."""
    return outcome(request(settings, "POST", url, body, headers))
