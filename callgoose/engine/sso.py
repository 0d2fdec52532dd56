"""Single sign-on's decisions (issue 19, item 3), pure: which role a provider's claim or a
proxy's groups give, and whether a request's direct peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


def values(text: str | None) -> frozenset[str]:
    """A comma-separated setting or header: its values, trimmed, empty ones dropped."""
    return frozenset(part.strip() for part in (text or "").split(",") if part.strip())


@dataclass(frozen=True)
class RoleMap:
    """OIDC_ROLES_CLAIM's values (or the groups header's) that make an admin or a viewer."""

    admin: frozenset[str]
    viewer: frozenset[str]

    @classmethod
    def of(cls, config) -> "RoleMap":
        return cls(values(config.get("OIDC_ADMIN_VALUES")), values(config.get("OIDC_VIEWER_VALUES")))

    def role(self, claim) -> str:
        """admin when any value is an admin value, else viewer when any is a viewer value, else
        responder. ``claim``: a list of values, one value, or a comma-separated text."""
        if isinstance(claim, str):
            found = values(claim)
        elif isinstance(claim, (list, tuple, set, frozenset)):
            found = frozenset(str(item) for item in claim
                              if isinstance(item, (str, int)) and not isinstance(item, bool))
        else:
            found = frozenset()
        if found & self.admin:
            return "admin"
        if found & self.viewer:
            return "viewer"
        return "responder"


def networks(text: str) -> tuple:
    """TRUSTED_PROXIES's CIDRs. :raises ValueError: one that is not a network."""
    found = []
    for part in values(text):
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"setting TRUSTED_PROXIES: {part!r} is not an address or a CIDR network") from None
    return tuple(found)


def trusted_peer(peer: str | None, allowed: tuple) -> bool:
    """Whether the socket's peer address is inside one of ``allowed`` (an IPv4-mapped IPv6
    address counts as its IPv4 address); anything unparsable is not trusted."""
    try:
        address = ipaddress.ip_address((peer or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in allowed)
