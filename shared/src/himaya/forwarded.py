"""The client's address behind proxies: believed from X-Forwarded-For only as far as the hops are trusted.

Every process (gateway and services) computes it once per request in the request middleware, from the
socket peer and the process's trusted proxies (CIDR ranges, a setting): when the peer is trusted, the
X-Forwarded-For hops are walked from the right and the first address that is not a trusted proxy is the
client. Whatever a client writes further left is never reached, so it cannot choose its own address.
uvicorn's own proxy-header handling is switched off (`--no-proxy-headers`): this is the only one.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from contextvars import ContextVar

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The current request's client address, for the audit trail (set by the request middleware).
client_address_var: ContextVar[str | None] = ContextVar("client_address", default=None)


@functools.lru_cache(maxsize=4096)
def parse_address(value: str) -> IPAddress | None:
    """An address as written in a peer or an X-Forwarded-For hop, normalised (IPv4-mapped IPv6 becomes IPv4,
    an IPv6 zone is dropped); None when it is not an address."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The CIDR ranges whose X-Forwarded-For is believed."""

    __slots__ = ("_cache", "networks")

    def __init__(self, networks: Iterable[IPNetwork | str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in networks)
        self._cache: dict[IPAddress, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: IPAddress) -> bool:
        known = self._cache.get(address)
        if known is None:
            known = any(address.version == n.version and address in n for n in self.networks)
            if len(self._cache) < 4096:
                self._cache[address] = known
        return known


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: TrustedProxies) -> str | None:
    """The client's address: the peer unless it is a trusted proxy, else the rightmost X-Forwarded-For hop that
    is not one (all the values of every X-Forwarded-For header, in order). A hop that is not an address stops
    the walk at the proxy that wrote it."""
    if peer is None:
        return None
    current = parse_address(peer)
    if current is None:
        return peer  # a Unix socket or a test transport's name: nothing to walk from
    if current not in trusted:
        return str(current)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        current = address
        if current not in trusted:
            break
    return str(current)
