"""RFC 9457 problem details for every error, FastAPI's own included.

No exception text of an unexpected error reaches the client: a 500 carries the
request id, and the log carries the traceback under the same id.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.middleware import route_template
from app.domain import errors
from app.infra.storage import StorageUnavailable

logger = logging.getLogger("sportello.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:sportello:problem:"

STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.BadRequest: 400,
    errors.InvalidInput: 422,
    errors.TooManyRequests: 429,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.InsufficientStorage: 507,
}


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ValidationIssue] | None = None
    allowed: list[str] | None = None


def problem_response(
    request: Request,
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    all_headers = dict(headers or {})
    if request_id:
        all_headers["X-Request-ID"] = request_id
    return JSONResponse(body, status_code=status, headers=all_headers, media_type=PROBLEM_JSON)


def _status_for(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    status = _status_for(exc)
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, errors.IllegalTransition):
        extra["allowed"] = exc.allowed
    if isinstance(exc, errors.InvalidInput):
        extra["errors"] = [{"loc": exc.loc, "msg": exc.detail, "type": "value_error"}]
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(
        request,
        status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=headers,
        **extra,
    )


def _clean_errors(raw: Any) -> list[dict[str, Any]]:
    """Keep loc, msg and type: the input and context may echo secrets such as passwords."""
    cleaned = []
    for err in raw:
        cleaned.append(
            {
                "loc": [
                    part if isinstance(part, int) else str(part) for part in err.get("loc", ())
                ],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return cleaned


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = _clean_errors(exc.errors())
    if any(issue["type"] == "json_invalid" for issue in issues):
        return problem_response(
            request,
            400,
            slug="malformed-body",
            title="Malformed request body",
            detail="The request body is not valid JSON.",
        )
    return problem_response(
        request,
        422,
        slug="validation-error",
        title="Validation error",
        detail="The request is not valid; see errors.",
        errors=issues,
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such resource."
    return problem_response(request, exc.status_code, detail=detail, headers=headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.error(
        "unhandled error on %s %s (request_id=%s)",
        request.method,
        route_template(request.scope),
        getattr(request.state, "request_id", "-"),
        exc_info=exc,
    )
    return problem_response(
        request,
        500,
        slug="internal-error",
        title="Internal server error",
        detail="An unexpected error occurred; quote the request id to support.",
    )


DATABASE_RETRY_AFTER = 5
"""Seconds a client is told to wait when the database cannot be reached."""

_UNAVAILABLE_SQLSTATE = ("08", "53", "57P")
"""Connection exceptions, insufficient resources (too many connections), operator shutdown."""

_SQLITE_UNAVAILABLE = ("unable to open database", "database is locked", "disk i/o error")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used now, rather than that a query is wrong.

    A pool with no free connection, a refused or broken connection, PostgreSQL's
    "too many connections" or shutdown states, a SQLite file that cannot be opened.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (ConnectionError, TimeoutError)) or (
            isinstance(current, OSError) and current.errno in (101, 110, 111, 113)
        ):
            return True
        sqlstate = str(getattr(current, "sqlstate", "") or getattr(current, "pgcode", "") or "")
        if sqlstate.startswith(_UNAVAILABLE_SQLSTATE):
            return True
        name = type(current).__name__
        if name in ("ConnectionDoesNotExistError", "CannotConnectNowError"):
            return True
        if name == "OperationalError" and type(current).__module__.startswith("sqlite3"):
            return str(current).lower().startswith(_SQLITE_UNAVAILABLE)
        nxt = getattr(current, "orig", None)
        current = nxt if isinstance(nxt, BaseException) else current.__cause__
    return False


class DatabaseOutage:
    """Remembers that the database is down, so an outage is logged once, not per request.

    The first request that finds the database unreachable logs a warning; the
    next new connection the pool manages to open logs that it is back.
    """

    def __init__(self) -> None:
        self.down = False

    def watch(self, engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def _connected(*_: Any) -> None:
            if self.down:
                self.down = False
                logger.warning("the database is reachable again")

    def report(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            logger.warning(
                "the database is unavailable (%s); answering 503 until it is back",
                _describe(exc),
            )


def _describe(exc: BaseException) -> str:
    """A short, secret-free account: the exception types of the chain and the driver's words."""
    orig = getattr(exc, "orig", None) or exc.__cause__
    inner = f"{type(orig).__name__}: {str(orig).splitlines()[0][:200]}" if orig else ""
    outer = type(exc).__name__
    if not inner and not isinstance(exc, DBAPIError):
        inner = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{outer}, {inner}" if inner else outer


def database_unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    outage: DatabaseOutage | None = getattr(request.app.state, "database_outage", None)
    if outage is not None:
        outage.report(exc)
    return problem_response(
        request,
        503,
        slug="database-unavailable",
        title="Service unavailable",
        detail="The database cannot be reached right now; try again shortly.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


class UnexpectedErrorMiddleware:
    """Turns an unexpected exception into a 500 problem, logged once with the request id.

    Starlette's own last-resort handler answers too, but re-raises to the server,
    which logs the traceback a second time without the request id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as exc:
            request = Request(scope)
            if is_database_unavailable(exc):
                response = database_unavailable_response(request, exc)
            else:
                response = await unexpected_error_handler(request, exc)
            if not started:
                await response(scope, receive, send)


async def concurrent_change_handler(request: Request, exc: Exception) -> JSONResponse:
    """A write lost a race (optimistic version check, or a unique/foreign key settled late)."""
    logger.info(
        "concurrent change refused on %s %s: %s",
        request.method,
        route_template(request.scope),
        type(exc).__name__,
    )
    return problem_response(
        request,
        409,
        slug="concurrent-change",
        title="Conflict",
        detail="Someone else changed this at the same moment; reload and try again.",
    )


async def storage_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """The blob store is down or refusing: an outage to wait out, not the client's fault."""
    return problem_response(
        request,
        503,
        slug="storage-unavailable",
        title="Service unavailable",
        detail="Files cannot be stored or read right now; try again in a minute.",
        headers={"Retry-After": "30"},
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        return database_unavailable_response(request, exc)
    return await unexpected_error_handler(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StorageUnavailable, storage_unavailable_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(PoolTimeoutError, database_error_handler)
    app.add_exception_handler(OSError, database_error_handler)
    app.add_exception_handler(StaleDataError, concurrent_change_handler)
    app.add_exception_handler(IntegrityError, concurrent_change_handler)
    app.add_exception_handler(errors.DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses of a route, for ``responses=`` (and so for openapi.json)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        # main.py's openapi() files these under application/problem+json.
        out[status] = {"model": Problem, "description": HTTPStatus(status).phrase}
    return out


AUTH = (401, 403, 422)
"""The problems of any authenticated route that takes input."""
