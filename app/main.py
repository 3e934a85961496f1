"""The application: ``create_app()`` wires settings, the database, routers and problem handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from app import logs as app_logging
from app.api import docs, openapi_extras, problems
from app.api.body import EXTRA_MODELS
from app.api.middleware import (
    MAX_BODY_BYTES,
    BodyLimitMiddleware,
    Metrics,
    MetricsMiddleware,
    PrivateAnswersMiddleware,
    RequestIdMiddleware,
)
from app.api.ratelimit import (
    RATE_LIMIT_HEADERS,
    RETRY_AFTER_HEADER,
    RateLimiter,
    RateLimitHeadersMiddleware,
)
from app.api.routers import (
    attachments,
    auth,
    categories,
    customers,
    email_changes,
    feed,
    imports,
    inbound,
    knowledge,
    macros,
    meta,
    notifications,
    ops,
    orders,
    public,
    replies,
    reports,
    satisfaction,
    sla,
    tags,
    teams,
    tickets,
    users,
    views,
    webhooks,
)
from app.api.strict_query import reject_unknown_query
from app.api.text_guard import ControlCharacterMiddleware
from app.bootstrap import ensure_first_admin
from app.config import Settings, SettingsError, get_settings, mask_url, unknown_variables
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.infra.blob_stores import make_storage
from app.infra.counters import make_counters
from app.infra.login_failures import RedisLoginFailures
from app.services import auth as auth_service
from app.services import facts as _facts  # noqa: F401  (keeps the report facts)
from app.services import notifications as _notifications  # noqa: F401  (the outbox listens)
from app.services import routing as _routing  # noqa: F401  (routes new tickets)
from app.services import sla as _sla  # noqa: F401  (keeps the SLA clocks)
from app.services import webhooks as _webhooks  # noqa: F401  (webhooks listen)
from app.services.embeddings import embedder_for
from app.version import __version__
from app.worker import run_forever

API_PREFIX = "/api/v1"

logger = logging.getLogger("sportello.start")

DESCRIPTION = """Sportello, the API-first help desk.

All API paths are under `/api/v1` and answer JSON; errors are RFC 9457 problem
details (`application/problem+json`). Authenticate with `POST /api/v1/auth/login`
and send `Authorization: Bearer <token>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app_logging.configure(settings.log_level, settings.log_format)
    for warning in unknown_variables(os.environ):
        logger.warning(warning)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        await ensure_first_admin(sessions, settings)
        revision = await migrate.current_revision(engine)
        # Keep no connection from this look in the pool: requests open their own, so a
        # database that goes away before the first request is seen as unavailable (503).
        await engine.dispose()
        logger.info(
            "Sportello %s starting: database %s, schema revision %s, mail %s, CORS origins %s",
            __version__,
            mask_url(settings.database_url),
            revision or "none (not migrated: run `sportello migrate`)",
            settings.mail_mode,
            ", ".join(settings.cors_origins) or "none (browsers on other origins are refused)",
        )
        # The embedding model (if installed) loads now, not on the first suggestion.
        await asyncio.to_thread(embedder_for, settings)
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_forever(sessions, settings, stop))
            if settings.run_worker
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await app.state.storage.aclose()
            await engine.dispose()
            await app.state.rate_limiter.counters.close()
            if app.state.redis_login_failures is not None:
                await app.state.redis_login_failures.close()

    app = FastAPI(
        title="Sportello",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.metrics = Metrics()
    app.state.storage = make_storage(settings)
    app.state.rate_limiter = RateLimiter(settings, make_counters(settings.redis_url))
    # Failed logins: in Redis when configured (falling back to the database while it is
    # down), else in the database; None lets the service use the database.
    limits = auth_service.throttle_limits(settings)
    app.state.redis_login_failures = (
        RedisLoginFailures(settings.redis_url, limits) if settings.redis_url else None
    )
    app.state.login_failures = (
        auth_service.FallbackLoginFailures(
            app.state.redis_login_failures, auth_service.DatabaseLoginFailures(sessions, limits)
        )
        if app.state.redis_login_failures is not None
        else None
    )
    app.state.database_outage = problems.DatabaseOutage()
    app.state.database_outage.watch(engine)

    problems.install(app)
    for router in (
        auth.router,
        auth.keys,
        email_changes.router,
        users.router,
        customers.router,
        orders.router,
        categories.router,
        tickets.router,
        replies.router,
        attachments.router,
        meta.router,
        notifications.router,
        public.router,
        knowledge.router,
        knowledge.solutions,
        inbound.router,
        inbound.customer_domains,
        inbound.ticket_cc,
        sla.calendars,
        sla.policies,
        teams.router,
        teams.rules,
        views.router,
        macros.router,
        macros.apply_router,
        tags.router,
        webhooks.router,
        feed.router,
        imports.router,
        reports.router,
        satisfaction.router,
    ):
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(reject_unknown_query)])
    app.include_router(ops.router)
    docs.install(app)

    # add_middleware puts each one outside the ones before: the last added runs first.
    app.add_middleware(ControlCharacterMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=MAX_BODY_BYTES,
        exempt=frozenset({f"{API_PREFIX}/imports/tickets"}),
    )
    app.add_middleware(problems.UnexpectedErrorMiddleware)
    app.add_middleware(PrivateAnswersMiddleware)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)
    if settings.cors_origins:
        # Outermost, so that even a 500 reaches a browser app with its CORS headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "ETag",
                "Location",
                "X-Request-ID",
                "Retry-After",
                "Content-Disposition",
                "Content-Range",
                "RateLimit",
                "RateLimit-Policy",
                "Idempotent-Replayed",
            ],
        )

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with error responses filed under ``application/problem+json``."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in EXTRA_MODELS:
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in extra.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(model.__name__, extra)
    for url, path in schema.get("paths", {}).items():
        for operation in path.values():
            limited = url.startswith(API_PREFIX + "/")
            if limited:
                # Every API operation is rate limited (per user, API key or client address).
                for code, phrase in (("429", "Too Many Requests"), ("503", "Service Unavailable")):
                    operation["responses"].setdefault(
                        code,
                        {
                            "description": phrase,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Problem"}
                                }
                            },
                        },
                    )
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if code[:1] in "45" and "application/json" in content:
                    content[problems.PROBLEM_JSON] = content.pop("application/json")
                if limited:
                    headers = response.setdefault("headers", {})
                    headers.update(RATE_LIMIT_HEADERS)
                    if code in ("429", "503"):
                        headers["Retry-After"] = RETRY_AFTER_HEADER
    return openapi_extras.complete(schema)


def _app_or_exit() -> FastAPI:
    """The app for ``uvicorn app.main:app``: bad settings are their lines, not a traceback."""
    try:
        return create_app()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"sportello: {line}", file=sys.stderr)
        raise SystemExit(2) from None


app = _app_or_exit()
