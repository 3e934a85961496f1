"""Service levels: business calendars and SLA policies (admin writes, staff reads)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentActor, Id, SessionDep
from app.api.problems import responses
from app.api.schemas.sla import CalendarIn, CalendarRead, PolicyIn, PolicyRead, PolicyUpdate
from app.services import sla_admin

calendars = APIRouter(prefix="/calendars", tags=["sla"])
policies = APIRouter(prefix="/sla-policies", tags=["sla"])


@calendars.get(
    "",
    response_model=list[CalendarRead],
    operation_id="list_calendars",
    responses=responses(401, 403),
)
async def list_calendars(session: SessionDep, actor: CurrentActor) -> list[CalendarRead]:
    """Every business calendar (staff)."""
    return [CalendarRead.of(c) for c in await sla_admin.list_calendars(session, actor)]


@calendars.post(
    "",
    response_model=CalendarRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_calendar",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_calendar(
    body: CalendarIn, response: Response, session: SessionDep, actor: CurrentActor
) -> CalendarRead:
    """A calendar: time zone, weekly opening hours (local), holidays (admin)."""
    row = await sla_admin.create_calendar(session, actor, body.fields())
    response.headers["Location"] = f"/api/v1/calendars/{row.id}"
    return CalendarRead.of(row)


@calendars.get(
    "/{calendar_id}",
    response_model=CalendarRead,
    operation_id="get_calendar",
    responses=responses(401, 403, 404, 422),
)
async def get_calendar(calendar_id: Id, session: SessionDep, actor: CurrentActor) -> CalendarRead:
    """One calendar (staff)."""
    return CalendarRead.of(await sla_admin.get_calendar(session, actor, calendar_id))


@calendars.put(
    "/{calendar_id}",
    response_model=CalendarRead,
    operation_id="replace_calendar",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def replace_calendar(
    calendar_id: Id, body: CalendarIn, session: SessionDep, actor: CurrentActor
) -> CalendarRead:
    """Replace a calendar (admin); clocks started or moved from now on use it."""
    return CalendarRead.of(
        await sla_admin.update_calendar(session, actor, calendar_id, body.fields())
    )


@calendars.delete(
    "/{calendar_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_calendar",
    responses=responses(401, 403, 404, 409, 422),
)
async def delete_calendar(calendar_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a calendar no policy uses (admin; 409 otherwise)."""
    await sla_admin.delete_calendar(session, actor, calendar_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@policies.get(
    "",
    response_model=list[PolicyRead],
    operation_id="list_sla_policies",
    responses=responses(401, 403),
)
async def list_policies(session: SessionDep, actor: CurrentActor) -> list[PolicyRead]:
    """Every policy, in the order they are tried (`position`, then id; first match wins)."""
    return [PolicyRead.of(p) for p in await sla_admin.list_policies(session, actor)]


@policies.post(
    "",
    response_model=PolicyRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_sla_policy",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_policy(
    body: PolicyIn, response: Response, session: SessionDep, actor: CurrentActor
) -> PolicyRead:
    """A policy (admin): conditions on plan, severity and type; targets in business minutes."""
    row = await sla_admin.create_policy(session, actor, body.fields())
    response.headers["Location"] = f"/api/v1/sla-policies/{row.id}"
    return PolicyRead.of(row)


@policies.get(
    "/{policy_id}",
    response_model=PolicyRead,
    operation_id="get_sla_policy",
    responses=responses(401, 403, 404, 422),
)
async def get_policy(policy_id: Id, session: SessionDep, actor: CurrentActor) -> PolicyRead:
    """One policy (staff)."""
    return PolicyRead.of(await sla_admin.get_policy(session, actor, policy_id))


@policies.patch(
    "/{policy_id}",
    response_model=PolicyRead,
    operation_id="update_sla_policy",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def update_policy(
    policy_id: Id, body: PolicyUpdate, session: SessionDep, actor: CurrentActor
) -> PolicyRead:
    """Change a policy (admin); tickets opened from now on follow the change."""
    return PolicyRead.of(await sla_admin.update_policy(session, actor, policy_id, body.changes()))


@policies.delete(
    "/{policy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_sla_policy",
    responses=responses(401, 403, 404, 422),
)
async def delete_policy(policy_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a policy (admin); recorded clocks stay."""
    await sla_admin.delete_policy(session, actor, policy_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
