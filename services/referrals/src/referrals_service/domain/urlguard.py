"""Webhook URLs may not point inside our network (SSRF): private, loopback, link-local and other
non-public addresses are refused unless the deployment explicitly allows them (local development)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from himaya.errors import InvalidInput


class UnsafeWebhookUrl(InvalidInput):
    """The webhook URL is not an https URL on a public address."""

    code = "unsafe_webhook_url"
    title = "Webhook URL refused"


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeWebhookUrl unless `url` is https (http only when private targets are allowed) and every
    address its host resolves to is public (any address when private targets are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_private):
        raise UnsafeWebhookUrl("Webhook URLs must use https.")
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeWebhookUrl("A webhook URL names a host and carries no credentials.")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise UnsafeWebhookUrl("The webhook URL's host does not resolve.") from exc
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_is_public(a) for a in addresses):
        raise UnsafeWebhookUrl("The webhook URL resolves to a private, loopback or link-local address.")
