"""Which addresses a webhook may call: public ones only, unless the host says otherwise.

A hook's URL is chosen by whoever registers it, and the server makes the call: without this
check it could be made to reach what only the server can (its own admin ports, a database,
the cloud's metadata service at 169.254.169.254). The check runs at registration and again at
every connection, on the addresses the name resolves to then (DNS can change in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

__all__ = ["TargetRefused", "check_target", "refusal", "resolve_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services some clouds serve on addresses the flags below call global.
_METADATA = frozenset({ipaddress.ip_address("100.100.100.200")})


class TargetRefused(ValueError):
    """The hook's URL names, or resolves to, an address a hook may not call."""


def refusal(address: IPAddress) -> str | None:
    """Why a hook may not call `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA:
        return "a cloud metadata address"
    for flag, reason in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address (cloud metadata lives there)"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_unspecified", "an unspecified address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, flag):
            return reason
    if not address.is_global:
        return "an address that is not public"
    return None


async def resolve_public(host: str, port: int, *, allow_private: bool = False) -> list[str]:
    """The addresses `host` resolves to, refusing them all if one is not public: a name
    that resolves to a public and a private address could be made to reach the private."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"the host {host!r} does not resolve: {exc.strerror}") from None
    except UnicodeError:
        # The name is IDNA-encoded first: an empty label ("a..b") or one over 63 characters
        # fails there, before any lookup.
        raise TargetRefused(f"the host {host[:100]!r} is not a valid host name") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if allow_private:
        return addresses
    for text in addresses:
        reason = refusal(ipaddress.ip_address(text.split("%", 1)[0]))
        if reason is not None:
            raise TargetRefused(f"the host {host!r} resolves to {text}, {reason}")
    return addresses


async def check_target(url: str, *, allow_private: bool = False) -> None:
    """Refuse (`TargetRefused`) a hook URL that is not http(s), or whose host is or
    resolves to an address a hook may not call."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("a hook URL must be http:// or https:// and name a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("the hook URL's port is not a number from 0 to 65535") from None
    await resolve_public(parts.hostname, port, allow_private=allow_private)
