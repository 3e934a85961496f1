"""The client's address: the peer, or what trusted reverse proxies say in X-Forwarded-For.

Behind a reverse proxy every request comes from the proxy's address. Only when
the peer is one of ``TRUSTED_PROXIES`` (addresses or networks) is
``X-Forwarded-For`` read, from the right: the first address that is not itself
a trusted proxy is the client. A client cannot forge its address by sending the
header itself, since the proxy appends the address it saw.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    proxies = tuple(request.app.state.settings.trusted_proxies)
    if not proxies:
        return peer
    networks = _networks(proxies)
    if not _trusted(peer, networks):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))[:64]
            except ValueError:
                return peer  # garbage where an address should be: trust nothing said
    if not hops:
        return peer
    try:  # every hop is a trusted proxy: the first one is the client
        return str(ipaddress.ip_address(hops[0]))
    except ValueError:
        return peer
