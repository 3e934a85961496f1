"""Rate limits: per API key, per user, and per client address on the anonymous endpoints.

Each request of an authenticated caller costs one from its budget of
``RATE_LIMIT_PER_USER`` (a user, whatever token they use) or
``RATE_LIMIT_PER_API_KEY`` requests per ``RATE_LIMIT_WINDOW_SECONDS``; login
and the public status link cost one from the client address's
``RATE_LIMIT_PER_ADDRESS``. Past the budget the answer is 429 with
``Retry-After``. Every limited answer carries the IETF headers
(draft-ietf-httpapi-ratelimit-headers)::

    RateLimit-Policy: "user";q=600;w=60
    RateLimit: "user";r=599;t=42

The counters are ``infra/counters.py``: this process's memory by default, Redis
(one budget for every API process) when ``SPORTELLO_REDIS_URL`` is set. If Redis
cannot be reached the request is let through (logged once): a limit must not
turn an outage of Redis into an outage of the desk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.domain.access import Actor
from app.domain.errors import TooManyRequests
from app.infra.counters import Counters

logger = logging.getLogger("sportello.ratelimit")

STATE_KEY = "rate_limit"


@dataclass(frozen=True, slots=True)
class Decision:
    policy: str
    quota: int
    window: int
    remaining: int
    reset_in: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.quota};w={self.window}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_in}',
        }


class RateLimiter:
    def __init__(self, settings: Settings, counters: Counters) -> None:
        self.settings = settings
        self.counters = counters
        self._backend_down = False

    async def charge(self, request: Request, policy: str, subject: str, quota: int) -> None:
        """Count this request against ``subject``'s budget; 429 past it."""
        if not self.settings.rate_limit_enabled:
            return
        window = self.settings.rate_limit_window_seconds
        try:
            count = await self.counters.hit(f"{policy}:{subject}", window)
        except Exception as exc:  # the counters' store is down: let the request through
            if not self._backend_down:
                self._backend_down = True
                logger.warning(
                    "rate-limit counters unavailable (%s); not limiting", type(exc).__name__
                )
            return
        if self._backend_down:
            self._backend_down = False
            logger.warning("rate-limit counters available again")
        decision = Decision(policy, quota, window, max(0, quota - count.value), count.reset_in)
        request.state.rate_limit = decision
        if count.value > quota:
            raise TooManyRequests(
                f"Too many requests: {quota} per {window} s for this {_WHO[policy]}.",
                retry_after=count.reset_in,
            )

    async def charge_actor(self, request: Request, actor: Actor) -> None:
        if actor.api_key_id is not None:
            await self.charge(
                request, "api_key", str(actor.api_key_id), self.settings.rate_limit_per_api_key
            )
        elif actor.user_id is not None:
            await self.charge(
                request, "user", str(actor.user_id), self.settings.rate_limit_per_user
            )


_WHO = {"user": "user", "api_key": "API key", "address": "client address"}


def limiter(request: Request) -> RateLimiter:
    value: RateLimiter = request.app.state.rate_limiter
    return value


async def limit_by_address(request: Request) -> None:
    """A dependency of the anonymous endpoints (login, the public status link)."""
    from app.api.client import client_address

    rate = limiter(request)
    await rate.charge(
        request, "address", client_address(request), rate.settings.rate_limit_per_address
    )


class RateLimitHeadersMiddleware:
    """Adds ``RateLimit-Policy`` and ``RateLimit`` to the answer of a limited request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = state.get(STATE_KEY)
                if isinstance(decision, Decision):
                    headers = list(message.get("headers", []))
                    for name, value in decision.headers().items():
                        headers.append((name.lower().encode(), value.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_limits)


RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": 'The limit that applies: `"<policy>";q=<quota>;w=<window seconds>`.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"<policy>";r=<remaining>;t=<seconds to reset>`.',
        "schema": {"type": "string"},
    },
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}
