"""Webhooks: which events a hook wants, what a delivery carries, how it is signed, what its
answer means. Plain Python, so every rule is tested without a network or a database.

Signatures follow the Standard Webhooks specification (https://www.standardwebhooks.com):
the headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``; the signed
content is ``"{id}.{timestamp}.{body}"``; the signature is ``v1,`` and the base64 of its
HMAC-SHA256 under the secret, which is ``whsec_`` and the base64 of random bytes. During a
secret rotation's overlap both the new and the previous secret sign, space-separated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from app.domain.events import EVENT_KINDS

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
SECRET_BYTES = 32
ALL_KINDS = "*"
"""A hook subscribed to ``*`` gets every kind, those added later included."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


def known_kinds() -> tuple[str, ...]:
    """The kinds a hook may ask for: every kind the timeline writes (one table decides)."""
    return tuple(EVENT_KINDS)


def check_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds of a hook, deduplicated in their order; an unknown one is a ValueError."""
    unknown = [k for k in kinds if k != ALL_KINDS and k not in EVENT_KINDS]
    if unknown:
        raise ValueError(f"unknown event kinds: {', '.join(sorted(set(unknown)))}")
    return list(dict.fromkeys(kinds))


@dataclass(frozen=True, slots=True)
class HookFilter:
    """What one hook wants: kinds, internal events or not, and optional ticket filters."""

    kinds: tuple[str, ...]
    include_internal: bool
    ticket_type: str | None
    customer_id: int | None
    team_id: int | None = None


@dataclass(frozen=True, slots=True)
class EventFacts:
    kind: str
    internal: bool
    ticket_type: str
    customer_id: int
    team_id: int | None = None


def wants(hook: HookFilter, event: EventFacts) -> bool:
    """Whether ``event`` is delivered to ``hook``: an internal event (an internal note, its
    files) only to hooks that chose them; then the kinds, then the filters."""
    if event.internal and not hook.include_internal:
        return False
    if ALL_KINDS not in hook.kinds and event.kind not in hook.kinds:
        return False
    if hook.ticket_type is not None and hook.ticket_type != event.ticket_type:
        return False
    if hook.team_id is not None and hook.team_id != event.team_id:
        return False
    return hook.customer_id is None or hook.customer_id == event.customer_id


# --- signatures ----------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw, validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``id.timestamp.body``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_)


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether any signature of ``header`` is ``secret``'s (what a receiver does)."""
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in header.split())


def headers(
    secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, message_id, timestamp, body),
        "content-type": "application/json",
    }


def message_id(delivery_id: int) -> str:
    """The delivery's id, the same on every retry and redelivery, for receivers to dedupe."""
    return f"msg_{delivery_id}"


# --- answers -------------------------------------------------------------------------------


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"
    """410: the receiver says the endpoint is gone for good; the hook is disabled."""


def judge(status_code: int | None) -> Verdict:
    """A 2xx is delivered; 410 disables the hook; anything else (no answer included) retries."""
    if status_code is not None and 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code == 410:
        return Verdict.GONE
    return Verdict.RETRY


@dataclass(frozen=True, slots=True)
class AfterFailure:
    delivery_failed: bool
    """The delivery gave up (no attempt left)."""
    disable_hook: bool
    """The hook failed too often in a row: disabled, and the admins told."""


def after_failure(
    *, attempts: int, max_attempts: int, hook_failures: int, disable_after: int
) -> AfterFailure:
    """What a failed attempt leaves: ``hook_failures`` counts the hook's failed attempts since
    its last success, this one included."""
    return AfterFailure(
        delivery_failed=attempts >= max_attempts, disable_hook=hook_failures >= disable_after
    )


# --- where a hook may call (SSRF) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reach:
    """What the settings allow: loopback (development, plain http too) and private networks."""

    allow_loopback: bool = False
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    """The path and query, as sent in the request line."""


def parse_url(url: str) -> Target:
    """The parts of a hook's URL; ValueError for anything but an absolute http(s) URL with a
    host and no credentials or fragment."""
    if len(url) > 2000 or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("not a valid URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("the URL must be https")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL must not carry credentials")
    if parts.fragment:
        raise ValueError("the URL must not carry a fragment")
    try:
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ValueError("the URL's port is not valid") from None
    if not host:
        raise ValueError("the URL has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host.lower(), port=port, path=path)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
"""The well-known NAT64 prefix: its last 32 bits are the IPv4 address a NAT64 gateway
reaches (``64:ff9b::a00:1`` is 10.0.0.1 on a network that has one)."""
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
"""Local-use NAT64 prefixes (RFC 8215): where the IPv4 address sits depends on the network,
so the whole range is a private network's."""
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
"""Deprecated IPv6 site-local addresses, a private network's wherever still routed."""
_SPECIAL_IPV4 = ipaddress.ip_network("192.0.0.0/24")
"""IETF protocol assignments (the DS-Lite and NAT64 dummies among them): no one's web server."""


def _judged(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a connection to ``ip`` reaches, as far as it can be told: the IPv4 address
    inside an IPv4-mapped, 6to4 or NAT64 one (Python judges those as global whatever IPv4
    address they carry)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_refusal(address: str, reach: Reach) -> str | None:
    """Why a hook may not call ``address``, or None if it may.

    Loopback only with ``allow_loopback``; private networks only with ``allow_private``;
    link-local (the cloud metadata service lives there), multicast, unspecified and reserved
    addresses never. An IPv4 address carried in an IPv6 one (mapped, 6to4, NAT64) is judged
    as the IPv4 address it is.
    """
    ip = _judged(ipaddress.ip_address(address.split("%", 1)[0]))
    if isinstance(ip, ipaddress.IPv6Address) and (ip in _LOCAL_NAT64 or ip in _SITE_LOCAL):
        return None if reach.allow_private else "a private address"
    if ip in _SPECIAL_IPV4:
        return "a reserved address"
    if ip.is_loopback:
        return None if reach.allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return None if reach.allow_private else "a private address"
    return None


def scheme_refusal(target: Target, addresses: Sequence[str], reach: Reach) -> str | None:
    """Plain http only to loopback, and only when the development setting allows it."""
    if target.scheme == "https":
        return None
    loopback = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
    if reach.allow_loopback and loopback and addresses:
        return None
    return "plain http is allowed only to loopback in development"


def check_url(url: str, reach: Reach) -> Target:
    """What can be judged before DNS: the URL's shape, its scheme, and a literal address.
    ValueError with the reason otherwise. A host name is judged when it is resolved."""
    target = parse_url(url)
    try:
        literal: str | None = str(ipaddress.ip_address(target.host))
    except ValueError:
        literal = None
    if literal is not None:
        refusal = address_refusal(literal, reach)
        if refusal is not None:
            raise ValueError(f"the URL points to {refusal}")
    if target.scheme == "http":
        local = literal is not None or target.host == "localhost"
        if not (reach.allow_loopback and local):
            raise ValueError("the URL must be https")
        if literal is not None and scheme_refusal(target, [literal], reach) is not None:
            raise ValueError("the URL must be https")
    return target
