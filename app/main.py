"""The application: ``create_app()`` wires settings, the database, routers and problem handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from app import logs as app_logging
from app.api import problems
from app.api.body import EXTRA_MODELS
from app.api.middleware import (
    MAX_BODY_BYTES,
    BodyLimitMiddleware,
    Metrics,
    MetricsMiddleware,
    RequestIdMiddleware,
)
from app.api.routers import (
    attachments,
    auth,
    categories,
    customers,
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
)
from app.bootstrap import ensure_first_admin
from app.config import Settings, get_settings
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.infra.storage import make_storage
from app.services import facts as _facts  # noqa: F401  (keeps the report facts)
from app.services import notifications as _notifications  # noqa: F401  (the outbox listens)
from app.services import routing as _routing  # noqa: F401  (routes new tickets)
from app.services import sla as _sla  # noqa: F401  (keeps the SLA clocks)
from app.worker import run_forever

API_PREFIX = "/api/v1"

DESCRIPTION = """Sportello, the API-first help desk.

All API paths are under `/api/v1` and answer JSON; errors are RFC 9457 problem
details (`application/problem+json`). Authenticate with `POST /api/v1/auth/login`
and send `Authorization: Bearer <token>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app_logging.configure(settings.log_level)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        await ensure_first_admin(sessions, settings)
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
            await engine.dispose()

    app = FastAPI(
        title="Sportello",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.metrics = Metrics()
    app.state.storage = make_storage(settings.storage_dir)

    problems.install(app)
    for router in (
        auth.router,
        auth.keys,
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
        sla.calendars,
        sla.policies,
        teams.router,
        teams.rules,
        views.router,
        macros.router,
        macros.apply_router,
        tags.router,
        reports.router,
        satisfaction.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(ops.router)

    # add_middleware puts each one outside the ones before: the last added runs first.
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    app.add_middleware(problems.UnexpectedErrorMiddleware)
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
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if code[:1] in "45" and "application/json" in content:
                    content[problems.PROBLEM_JSON] = content.pop("application/json")
    return schema


app = create_app()
