"""Operations endpoints, served at the root: liveness, readiness, metrics."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.api.deps import BearerToken, SessionmakerDep, SettingsDep
from app.api.problems import is_database_unavailable, problem_response, responses
from app.db.base import utcnow
from app.domain.access import require_metrics_reader
from app.infra import metrics as prom
from app.infra.storage import BlobStorage
from app.services import auth as auth_service
from app.services import metrics as metrics_service

router = APIRouter(tags=["ops"])
logger = logging.getLogger("sportello.ready")

_last_failure: dict[int, str] = {}
"""Per app, why /readyz last failed: a failure is logged when its reason changes, not per probe."""


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses=responses(503))
async def readyz(request: Request, sessions: SessionmakerDep) -> JSONResponse:
    """The database answers and the attachment store takes files."""
    reasons: list[str] = []
    checks = {"database": "ok", "storage": "ok"}
    try:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        checks["database"] = "unavailable"
        kind = "unreachable" if is_database_unavailable(exc) else "failing"
        reasons.append(f"database {kind}: {type(exc).__name__}: {_first_line(exc)}")
    storage: BlobStorage = request.app.state.storage
    try:
        await storage.check()
    except Exception as exc:
        checks["storage"] = "unavailable"
        reasons.append(f"attachment store not writable: {type(exc).__name__}")
    key = id(request.app)
    if reasons:
        reason = "; ".join(reasons)
        if _last_failure.get(key) != reason:
            logger.warning("not ready: %s", reason)
            _last_failure[key] = reason
        return problem_response(
            request,
            503,
            slug="not-ready",
            detail="Not ready: "
            + ", ".join(f"the {name} is {state}" for name, state in checks.items() if state != "ok")
            + ".",
            headers={"Retry-After": "5"},
            **checks,
        )
    if _last_failure.pop(key, None) is not None:
        logger.warning("ready again")
    return JSONResponse({"status": "ok", **checks})


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    lines = str(inner).splitlines()
    return lines[0][:200] if lines else type(inner).__name__


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **responses(401, 403),
    },
)
async def metrics(
    request: Request, token: BearerToken, sessions: SessionmakerDep, settings: SettingsDep
) -> Response:
    """Request counts and latencies per route, worker job runs and failures, and the mail
    queue, in Prometheus text format.

    For the bearer `METRICS_TOKEN` (a scraper's setting), an administrator, or an API
    key with `metrics:read`. With `SPORTELLO_METRICS_DIR` (set by `sportello serve
    --workers N`), the counters are the sums over every API and worker process of the
    machine, whichever one answers.
    """
    async with sessions() as session:
        if not (
            settings.metrics_token
            and hmac.compare_digest(token.encode(), settings.metrics_token.encode())
        ):
            require_metrics_reader(await auth_service.authenticate(session, token))
        queue = await metrics_service.mail_queue(session, utcnow())
    extra = "".join(
        [
            prom.gauge_lines(
                "sportello_mail_queue_depth", "Mails waiting to be sent.", queue.queued
            ),
            prom.gauge_lines("sportello_mail_sending", "Mails being sent (leased).", queue.sending),
            prom.gauge_lines(
                "sportello_mail_failed", "Mails given up on (admins may retry).", queue.failed
            ),
            prom.gauge_lines(
                "sportello_mail_oldest_queued_age_seconds",
                "Age of the oldest mail waiting to be sent.",
                queue.oldest_queued_seconds,
            ),
        ]
    )
    body = prom.render([request.app.state.metrics.registry, prom.WORKER_METRICS.registry], extra)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
