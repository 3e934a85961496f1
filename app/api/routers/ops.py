"""Operations endpoints, served at the root: liveness, readiness, metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.api.deps import SessionmakerDep
from app.api.problems import problem_response, responses

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
async def metrics(request: Request) -> Response:
    """Request counts and latencies per route, in Prometheus text format."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
