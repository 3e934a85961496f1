"""Pure ASGI middleware: the request id, and Prometheus request counts and latencies."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a sane incoming ``X-Request-ID`` or makes one; echoes it and exposes it to logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class Metrics:
    """The app's own registry, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sportello_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sportello_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "route"],
            registry=self.registry,
        )


access_logger = logging.getLogger("sportello.access")


def route_template(scope: Scope) -> str:
    """The matched route's full path template, include_router() prefixes included: what logs
    and metrics name a request by (a raw path carries public-link and confirmation tokens).

    Since FastAPI 0.137 ``scope["route"]`` of an included route is the router's own
    route, whose ``path_format`` lacks the prefixes it was included under; the full
    template comes from ``iter_route_contexts``, FastAPI's API for integrations.
    """
    route: Any = scope.get("route")
    if route is None:
        return "unmatched"
    if "app" in scope:
        for context in iter_route_contexts(scope["app"].routes):
            if context.original_route is route and context.path_format:
                return str(context.path_format)
    return str(getattr(route, "path_format", "") or "unmatched")


class MetricsMiddleware:
    """Counts, times and logs requests per route template (never the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: dict[int, str] = {}

    def _template(self, scope: Scope) -> str:
        route: Any = scope.get("route")
        if route is None:
            return "unmatched"
        key = id(route)
        if key not in self._templates:
            self._templates[key] = route_template(scope)
        return self._templates[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            label = self._template(scope)
            method = str(scope.get("method", "GET"))
            self.metrics.requests.labels(method, label, str(status)).inc()
            elapsed = time.perf_counter() - start
            self.metrics.latency.labels(method, label).observe(elapsed)
            # The access log names the route template, never the raw path or query:
            # paths carry public-link tokens, queries carry what customers search for.
            access_logger.info("%s %s %d %.1fms", method, label, status, elapsed * 1000)


MAX_BODY_BYTES = 1024 * 1024
"""The largest non-multipart request body (a knowledge-base article at its longest fits)."""


class BodyLimitMiddleware:
    """Refuses (413) a non-multipart request body over ``limit`` bytes, counted as it arrives.

    FastAPI reads a JSON body whole before validating it, so without this an anonymous
    client could make the process hold any amount of memory (a 200 MB login body did).
    Multipart bodies are streamed to disk with limits of their own (app/api/multipart.py),
    raw mails (message/rfc822) are bounded by INBOX_MAX_MESSAGE_BYTES (app/api/routers/inbound.py).
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        """Paths whose handlers bound their bodies themselves, with a larger limit of their own,
        after checking the caller (the bulk import)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = b""
        declared = b""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.lower()
            elif name == b"content-length":
                declared = value
        if (
            content_type.startswith((b"multipart/form-data", b"message/rfc822"))
            or scope["path"] in self.exempt
        ):
            await self.app(scope, receive, send)
            return
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0
        over = False

        async def counting_receive() -> Message:
            # Past the limit the app is told the client went away; the 413 is ours to send.
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not over:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        from app.api.problems import problem_response

        response = problem_response(
            Request(scope),
            413,
            slug="payload-too-large",
            title="Payload too large",
            detail=f"The request body is larger than {self.limit} bytes.",
        )
        await response(scope, receive, send)


class PrivateAnswersMiddleware:
    """``Cache-Control: no-store`` on every answer to a request with credentials, and on login.

    Such answers are private (a profile, a ticket, the login's token) and no
    shared or browser cache may keep them. A route that sets its own policy keeps
    it: attachment downloads are ``private, no-cache`` with an ``ETag`` to revalidate.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = str(scope.get("path", "")).endswith("/auth/login") or any(
            name == b"authorization" for name, _ in scope.get("headers", [])
        )
        if not private:
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_private)
