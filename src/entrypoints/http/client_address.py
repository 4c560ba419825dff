"""Who is asking: the client address rate limits count by (docs/contract.md §9)."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence

from litestar.types import Scope

from entrypoints.setting_values import IpNetwork

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"
"""The address of a request whose transport names no peer (never over TCP)."""

_WITH_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+))(?::\d{1,5})?$")


def parse_address(text: str) -> IpAddress | None:
    """An address as a peer or a proxy writes it (``192.0.2.7``, ``2001:db8::1``,
    ``192.0.2.7:443``, ``[2001:db8::1]:443``), IPv4-mapped IPv6 read as IPv4; None
    for anything else."""
    text = text.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        match = _WITH_PORT.match(text)
        if match is None:
            return None
        try:
            ip = (
                ipaddress.IPv6Address(match["v6"])
                if match["v6"]
                else ipaddress.IPv4Address(match["v4"])
            )
        except ValueError:
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IpAddress, proxies: Sequence[IpNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[IpNetwork]
) -> str:
    """The client's address: the socket ``peer``, unless the peer is a trusted proxy;
    then the right-most address of ``X-Forwarded-For`` (every header of that name, in
    order, read as one comma-separated list) that is not a trusted proxy.

    Only the entries the trusted proxies appended are read, walking from the right;
    what lies left of the client's address is the client's own to write, and ignored.
    An entry on that walk that is not an address (``unknown``, garbage) or an empty
    header falls back to the peer. When every entry is a trusted proxy, the left-most
    is the client.
    """
    peer_ip = parse_address(peer) if peer else None
    if peer_ip is None:
        return peer.strip()[:100] if peer and peer.strip() else UNKNOWN
    if not proxies or not _trusted(peer_ip, proxies):
        return str(peer_ip)
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    if not entries:
        return str(peer_ip)
    last: IpAddress | None = None
    for entry in reversed(entries):
        ip = parse_address(entry)
        if ip is None:
            return str(peer_ip)
        if not _trusted(ip, proxies):
            return str(ip)
        last = ip
    return str(last)


PEERS_KEPT = 65_536
"""How many peers' addresses :func:`scope_address` keeps worked out (a few MB at most)."""


@functools.lru_cache(maxsize=PEERS_KEPT)
def _peer_address(peer: str | None) -> str:
    """:func:`client_address` of a peer with no trusted proxy: the same answer for the
    same peer, so it is worked out once (parsing it was a twentieth of a limited join)."""
    return client_address(peer, (), ())


def scope_address(scope: Scope, proxies: Sequence[IpNetwork]) -> str:
    """:func:`client_address` of an HTTP request's ASGI scope."""
    client = scope.get("client")
    peer = client[0] if client else None
    if not proxies:  # the header is not read at all
        return _peer_address(peer)
    forwarded = (
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    )
    return client_address(peer, forwarded, proxies)
