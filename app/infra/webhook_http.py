"""Sending one webhook over HTTP, and where a webhook may call.

The sender guards against SSRF: the host is resolved, every address it resolves to is judged
(``domain/webhooks.py: address_refusal``), and the connection is made to the judged address
(the URL's host goes in ``Host`` and TLS SNI, so certificates are still checked against the
name): a DNS answer that changes between the check and the connection cannot redirect the
request. Redirects are not followed unless ``WEBHOOK_MAX_REDIRECTS`` allows it, and then each
hop is judged the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin

import httpx

from app.config import Settings
from app.db.models.webhooks import MAX_DELIVERY_ERROR
from app.domain.webhooks import Reach, address_refusal, check_url, scheme_refusal
from app.infra.mail import one_line

USER_AGENT = "Sportello-Webhooks/1.0"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one try learnt: the status code (None if no answer) and a bounded error."""

    status_code: int | None
    error: str | None
    duration_ms: int


class Sender(Protocol):
    async def send(self, url: str, headers: dict[str, str], body: bytes) -> Attempt:
        """POST ``body`` to ``url``. Never raises."""
        ...


class Refused(Exception):
    """The URL may not be called (SSRF guard); the message says why."""


def reach_of(settings: Settings) -> Reach:
    return Reach(
        allow_loopback=settings.webhook_allow_loopback,
        allow_private=settings.webhook_allow_private,
    )


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [str(literal)]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request ready to go to one judged address."""

    url: str
    host_header: str
    sni_hostname: str | None


async def pin(url: str, reach: Reach) -> Pinned:
    """Judge ``url`` and the addresses its host resolves to; the URL to connect to (raises
    :class:`Refused`)."""
    try:
        target = check_url(url, reach)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    try:
        addresses = await resolve(target.host, target.port)
    except OSError:
        raise Refused(f"the host {target.host} could not be resolved") from None
    if not addresses:
        raise Refused(f"the host {target.host} has no address")
    for address in addresses:
        refusal = address_refusal(address, reach)
        if refusal is not None:
            raise Refused(f"{target.host} resolves to {refusal}")
    refusal = scheme_refusal(target, addresses, reach)
    if refusal is not None:
        raise Refused(refusal)
    address = addresses[0]
    shown = f"[{address}]" if ":" in address else address
    host = f"[{target.host}]" if ":" in target.host else target.host
    default_port = 443 if target.scheme == "https" else 80
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    is_name = target.host != address and ":" not in target.host
    return Pinned(
        url=f"{target.scheme}://{shown}:{target.port}{target.path}",
        host_header=host_header,
        sni_hostname=target.host if target.scheme == "https" and is_name else None,
    )


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return one_line(text, MAX_DELIVERY_ERROR)


class HttpSender:
    """POSTs with httpx to the pinned address; reads no response body."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.reach = reach_of(settings)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> Attempt:
        start = time.monotonic()
        hops = self.settings.webhook_max_redirects + 1
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds * hops):
                code, error = await self._send(url, headers, body)
        except Refused as exc:
            code, error = None, one_line(f"refused: {exc}", MAX_DELIVERY_ERROR)
        except TimeoutError:
            code, error = None, "timed out"
        except Exception as exc:
            code, error = None, _describe(exc)
        return Attempt(code, error, int((time.monotonic() - start) * 1000))

    async def _send(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        current = url
        for hop in range(self.settings.webhook_max_redirects + 1):
            pinned = await pin(current, self.reach)
            extensions = {"sni_hostname": pinned.sni_hostname} if pinned.sni_hostname else {}
            request = self.client.build_request(
                "POST",
                pinned.url,
                content=body,
                headers={**headers, "host": pinned.host_header, "user-agent": USER_AGENT},
                extensions=extensions,
            )
            response = await self.client.send(request, stream=True, follow_redirects=False)
            await response.aclose()
            location = response.headers.get("location")
            if response.is_redirect and location:
                if hop < self.settings.webhook_max_redirects:
                    current = urljoin(current, location)
                    continue
                return response.status_code, f"HTTP {response.status_code}: redirect not followed"
            if 200 <= response.status_code < 300:
                return response.status_code, None
            return response.status_code, f"HTTP {response.status_code}"
        raise Refused("too many redirects")  # pragma: no cover (the loop returns)


def make_client(settings: Settings) -> httpx.AsyncClient:
    """No proxies from the environment (they would defeat the address pinning), no cookies
    kept between receivers, TLS verified."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=settings.webhook_concurrency),
    )
