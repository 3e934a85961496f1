"""Teams of agents and the routing rules that send new tickets to them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentActor, Id, SessionDep
from app.api.problems import responses
from app.api.schemas.teams import (
    MemberIn,
    MemberRead,
    RuleIn,
    RuleRead,
    RuleUpdate,
    TeamIn,
    TeamRead,
    TeamUpdate,
)
from app.services import routing as routing_service
from app.services import teams as team_service

router = APIRouter(prefix="/teams", tags=["teams"])
rules = APIRouter(prefix="/routing-rules", tags=["teams"])


@router.get(
    "", response_model=list[TeamRead], operation_id="list_teams", responses=responses(401, 403)
)
async def list_teams(session: SessionDep, actor: CurrentActor) -> list[TeamRead]:
    """Every team with its members (staff)."""
    return [TeamRead.of(t, m) for t, m in await team_service.list_teams(session, actor)]


@router.post(
    "",
    response_model=TeamRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_team",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_team(
    body: TeamIn, response: Response, session: SessionDep, actor: CurrentActor
) -> TeamRead:
    """A team (admin); `email` receives SLA alarms of its unassigned tickets."""
    team = await team_service.create(session, actor, body.name, body.email)
    response.headers["Location"] = f"/api/v1/teams/{team.id}"
    return TeamRead.of(team, [])


@router.get(
    "/{team_id}",
    response_model=TeamRead,
    operation_id="get_team",
    responses=responses(401, 403, 404, 422),
)
async def get_team(team_id: Id, session: SessionDep, actor: CurrentActor) -> TeamRead:
    """One team with its members (staff)."""
    team, members = await team_service.read(session, actor, team_id)
    return TeamRead.of(team, members)


@router.patch(
    "/{team_id}",
    response_model=TeamRead,
    operation_id="update_team",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def update_team(
    team_id: Id, body: TeamUpdate, session: SessionDep, actor: CurrentActor
) -> TeamRead:
    """Rename a team or change its address (admin)."""
    team = await team_service.update(session, actor, team_id, body.model_dump(exclude_unset=True))
    return TeamRead.of(team, await team_service.members_of(session, team.id))


@router.delete(
    "/{team_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_team",
    responses=responses(401, 403, 404, 422),
)
async def delete_team(team_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a team (admin): its tickets leave it, its routing rules go."""
    await team_service.delete_team(session, actor, team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{team_id}/members/{user_id}",
    response_model=MemberRead,
    operation_id="put_team_member",
    responses=responses(400, 401, 403, 404, 422),
)
async def put_member(
    team_id: Id, user_id: Id, body: MemberIn, session: SessionDep, actor: CurrentActor
) -> MemberRead:
    """Add an agent to the team (admin) or set `away`; an agent may set their own `away`."""
    member = await team_service.set_member(session, actor, team_id, user_id, body.away)
    return MemberRead.model_validate(member, from_attributes=True)


@router.delete(
    "/{team_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_team_member",
    responses=responses(401, 403, 404, 422),
)
async def delete_member(
    team_id: Id, user_id: Id, session: SessionDep, actor: CurrentActor
) -> Response:
    """Take an agent out of the team (admin)."""
    await team_service.remove_member(session, actor, team_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@rules.get(
    "",
    response_model=list[RuleRead],
    operation_id="list_routing_rules",
    responses=responses(401, 403),
)
async def list_rules(session: SessionDep, actor: CurrentActor) -> list[RuleRead]:
    """The rules in the order they are tried (`position`, then id; first match wins; admin)."""
    return [RuleRead.of(r) for r in await routing_service.list_rules(session, actor)]


@rules.post(
    "",
    response_model=RuleRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_routing_rule",
    responses=responses(400, 401, 403, 422),
)
async def create_rule(
    body: RuleIn, response: Response, session: SessionDep, actor: CurrentActor
) -> RuleRead:
    """A rule (admin): conditions on type, category, severity, customer, channel, tag -> a team."""
    rule = await routing_service.create_rule(session, actor, body.fields())
    response.headers["Location"] = f"/api/v1/routing-rules/{rule.id}"
    return RuleRead.of(rule)


@rules.get(
    "/{rule_id}",
    response_model=RuleRead,
    operation_id="get_routing_rule",
    responses=responses(401, 403, 404, 422),
)
async def get_rule(rule_id: Id, session: SessionDep, actor: CurrentActor) -> RuleRead:
    """One rule (admin)."""
    return RuleRead.of(await routing_service.get_rule(session, actor, rule_id))


@rules.patch(
    "/{rule_id}",
    response_model=RuleRead,
    operation_id="update_routing_rule",
    responses=responses(400, 401, 403, 404, 422),
)
async def update_rule(
    rule_id: Id, body: RuleUpdate, session: SessionDep, actor: CurrentActor
) -> RuleRead:
    """Change a rule (admin)."""
    return RuleRead.of(await routing_service.update_rule(session, actor, rule_id, body.changes()))


@rules.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_routing_rule",
    responses=responses(401, 403, 404, 422),
)
async def delete_rule(rule_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a rule (admin)."""
    await routing_service.delete_rule(session, actor, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
