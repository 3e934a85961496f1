"""Operations endpoints, served at the root: liveness, readiness, metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.api.deps import SessionmakerDep
from app.api.problems import problem_response, responses
from app.db.base import utcnow
from app.infra import metrics as prom
from app.services import metrics as metrics_service

router = APIRouter(tags=["ops"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses=responses(503))
async def readyz(request: Request, sessions: SessionmakerDep) -> JSONResponse:
    """The database answers."""
    try:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return problem_response(
            request, 503, slug="not-ready", detail="The database is not reachable."
        )
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request, sessions: SessionmakerDep) -> Response:
    """Request counts and latencies per route, worker job runs and failures, and the mail
    queue, in Prometheus text format.

    With `SPORTELLO_METRICS_DIR` (set by `sportello serve --workers N`), the counters are
    the sums over every API and worker process of the machine, whichever one answers.
    """
    async with sessions() as session:
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
    return Response(body, media_type=CONTENT_TYPE_LATEST)
