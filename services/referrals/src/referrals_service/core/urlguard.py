"""Webhook URLs may not point inside our network (SSRF).

A URL's host is resolved once; every address must be public (or inside a network the deployment allows
explicitly), and the delivery then connects to the address that passed, sending the original name as Host
and TLS server name: a name that resolves elsewhere a moment later (DNS rebinding) is never looked up again.
Addresses that embed or translate to another address (IPv4-mapped and -compatible IPv6, NAT64, 6to4, Teredo)
are refused outright, as are IPv4 literals in legacy forms that resolve to a refused address (decimal,
octal, hexadecimal, shortened). Decision 0105.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from himaya.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves a host name and port to addresses; a seam so tests can make a name resolve differently per call."""
UrlGuard = Callable[[str], Awaitable["CheckedTarget"]]
"""Checks a webhook URL with a deployment's settings and returns where to connect."""

# Refused whatever they embed: translation and tunnelling prefixes reach an IPv4 address through a gateway,
# so the embedded address could be anything (including ours).
TRANSLATION_NETWORKS: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in (
    "::ffff:0:0/96",      # IPv4-mapped
    "::/96",              # IPv4-compatible (deprecated), with :: and ::1
    "::ffff:0:0:0/96",    # IPv4-translated (SIIT)
    "64:ff9b::/96",       # NAT64, well-known prefix
    "64:ff9b:1::/48",     # NAT64, local-use prefix
    "2002::/16",          # 6to4
    "2001::/32",          # Teredo
))
# Not reachable on the public Internet, or not unicast: named explicitly rather than trusting only
# `is_global` (whose IPv6 table varies between Python versions).
NON_PUBLIC_NETWORKS: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "100::/64", "2001:db8::/32", "2001:10::/28", "2001:20::/28", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8", "3fff::/20", "5f00::/16",
))


class UnsafeWebhookUrl(InvalidInput):
    """The webhook URL is not an https URL on a public address."""

    code = "unsafe_webhook_url"
    title = "Webhook URL refused"


@dataclass(frozen=True)
class CheckedTarget:
    """Where a delivery goes: the URL as registered, and the one address that passed the check."""

    url: str
    scheme: str
    hostname: str
    port: int
    address: IPAddress

    @property
    def connect_url(self) -> str:
        """The URL with its host replaced by the checked address (the client connects there, resolving nothing)."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        path = parts.path or "/"
        return f"{self.scheme}://{host}:{self.port}{path}" + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        """The Host header the receiver expects: the registered name, with its port when not the default."""
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return name if self.port == default else f"{name}:{self.port}"


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The addresses the operating system's resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any form a resolver would accept (`0x7f.1`, `2130706433`,
    `0177.0.0.1`, `[::ffff:127.0.0.1]`), or None for a name."""
    bare = host.strip("[]")
    if "%" in bare:
        raise UnsafeWebhookUrl("A webhook URL cannot name a scoped (zone) address.")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and all(c in "0123456789abcdefxABCDEFX." for c in bare) and any(c.isdigit() for c in bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def is_public(address: IPAddress) -> bool:
    """Whether a delivery may connect to `address` without an explicit allowance."""
    if isinstance(address, ipaddress.IPv6Address) and any(address in n for n in TRANSLATION_NETWORKS):
        return False
    if any(address.version == n.version and address in n for n in NON_PUBLIC_NETWORKS):
        return False
    return address.is_global and not address.is_multicast


def _allowed(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def parse_networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    """CIDR ranges of a setting, parsed (a bad range fails at start-up, not at the first delivery)."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


async def check_webhook_url(url: str, *, allow_private: bool, allowed_networks: Sequence[IPNetwork] = (),
                            resolver: Resolver = system_resolver) -> CheckedTarget:
    """The target of `url` if it is safe to deliver to, else UnsafeWebhookUrl.

    The host is resolved once here; every address it resolves to must be public or inside
    `allowed_networks` (any address when `allow_private`, for local development), and the caller connects
    to the returned address. Plain http is accepted only towards allowed networks or with `allow_private`.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise UnsafeWebhookUrl("Webhook URLs must use https.")
    try:
        hostname, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeWebhookUrl("The webhook URL's port is not valid.") from exc
    if not hostname or parts.username or parts.password:
        raise UnsafeWebhookUrl("A webhook URL names a host and carries no credentials.")
    literal = literal_address(hostname)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolver(hostname, port)]
        except (OSError, ValueError, UnicodeError) as exc:
            raise UnsafeWebhookUrl("The webhook URL's host does not resolve.") from exc
    if not addresses:
        raise UnsafeWebhookUrl("The webhook URL's host does not resolve.")
    if not allow_private and not all(is_public(a) or _allowed(a, allowed_networks) for a in addresses):
        raise UnsafeWebhookUrl("The webhook URL resolves to an address that is not public.")
    if parts.scheme == "http" and not (allow_private or all(_allowed(a, allowed_networks) for a in addresses)):
        raise UnsafeWebhookUrl("Webhook URLs must use https.")
    return CheckedTarget(url=url, scheme=parts.scheme, hostname=hostname, port=port, address=addresses[0])


def url_guard(*, allow_private: bool, allowed_networks: Sequence[str] = (),
              resolver: Resolver = system_resolver) -> UrlGuard:
    """The guard of a deployment: `check_webhook_url` with its settings (and a resolver seam for tests)."""
    networks = parse_networks(allowed_networks)

    async def guard(url: str) -> CheckedTarget:
        return await check_webhook_url(url, allow_private=allow_private, allowed_networks=networks,
                                       resolver=resolver)

    return guard
