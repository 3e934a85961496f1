"""Reports for the staff (API keys: ``reports:read``): JSON, or CSV with ``Accept: text/csv``."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentActor, SessionDep
from app.api.problems import responses
from app.api.schemas.reports import ReportRead
from app.domain import reports as rd
from app.domain.access import Actor
from app.domain.routing import Channel
from app.domain.tickets import Severity, TicketType
from app.services import reports as report_service

router = APIRouter(prefix="/reports", tags=["reports"])

Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


class ReportQuery:
    def __init__(
        self,
        from_: Annotated[date, Query(alias="from")],
        to: date,
        group: rd.Group = rd.Group.DAY,
        tz: Annotated[str, Query(min_length=1, max_length=64)] = "UTC",
        customer: Id = None,
        team: Id = None,
        agent: Id = None,
        type: TicketType | None = None,
        category: Id = None,
        severity: Severity | None = None,
        tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
        channel: Channel | None = None,
    ) -> None:
        self.window = rd.window(from_, to, group, tz)
        self.tz = tz
        self.filters = report_service.Filters(
            customer_id=customer,
            team_id=team,
            agent_id=agent,
            type=type,
            category_id=category,
            severity=severity,
            tag=tag,
            channel=channel,
        )


Query_ = Annotated[ReportQuery, Depends()]
Accept = Annotated[str | None, Header(max_length=1000)]
Runner = Callable[
    [AsyncSession, Actor, rd.Window, report_service.Filters], Awaitable[list[dict[str, Any]]]
]

CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()


async def _run(
    name: str, q: ReportQuery, session: AsyncSession, actor: Actor, accept: str | None
) -> ReportRead | Response:
    runner: Runner = report_service.REPORTS[name]
    rows = await runner(session, actor, q.window, q.filters)
    columns = report_service.COLUMNS[name]
    if accept and "text/csv" in accept.lower():
        return Response(
            _csv(columns, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return ReportRead(
        report=name,
        from_=q.window.first,
        to=q.window.last,
        group=q.window.group.value,
        tz=q.tz,
        columns=list(columns),
        rows=rows,
    )


def _responses() -> dict[int | str, dict[str, Any]]:
    out = responses(401, 403, 422)
    out[200] = CSV
    return out


@router.get(
    "/volume", response_model=ReportRead, operation_id="report_volume", responses=_responses()
)
async def volume(
    q: Query_, session: SessionDep, actor: CurrentActor, accept: Accept = None
) -> ReportRead | Response:
    """Tickets opened, first resolved, closed (last closing), reopened (last reopening)."""
    return await _run("volume", q, session, actor, accept)


@router.get(
    "/response-times",
    response_model=ReportRead,
    operation_id="report_response_times",
    responses=_responses(),
)
async def response_times(
    q: Query_, session: SessionDep, actor: CurrentActor, accept: Accept = None
) -> ReportRead | Response:
    """First response and resolution times: median and p90, calendar and business time."""
    return await _run("response-times", q, session, actor, accept)


@router.get("/sla", response_model=ReportRead, operation_id="report_sla", responses=_responses())
async def sla(
    q: Query_, session: SessionDep, actor: CurrentActor, accept: Accept = None
) -> ReportRead | Response:
    """SLA targets by the period they started in: met, breached, in progress."""
    return await _run("sla", q, session, actor, accept)


@router.get(
    "/backlog", response_model=ReportRead, operation_id="report_backlog", responses=_responses()
)
async def backlog(
    q: Query_, session: SessionDep, actor: CurrentActor, accept: Accept = None
) -> ReportRead | Response:
    """Tickets in an open status at the end of each period, by age and by status."""
    return await _run("backlog", q, session, actor, accept)


@router.get(
    "/satisfaction",
    response_model=ReportRead,
    operation_id="report_satisfaction",
    responses=_responses(),
)
async def satisfaction(
    q: Query_, session: SessionDep, actor: CurrentActor, accept: Accept = None
) -> ReportRead | Response:
    """Satisfaction answers by the period of the answer: good, bad, share of good, comments."""
    return await _run("satisfaction", q, session, actor, accept)


@router.get("/top", response_model=ReportRead, operation_id="report_top", responses=_responses())
async def top(
    q: Query_, session: SessionDep, actor: CurrentActor, accept: Accept = None
) -> ReportRead | Response:
    """The ten categories and customers with the most tickets opened in the range."""
    return await _run("top", q, session, actor, accept)
