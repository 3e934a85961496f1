"""Teams of agents (admin CRUD), their members and the away flag, and a ticket's team."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import Team, TeamMember, Ticket, User
from app.domain.access import Actor, Role, Scope, require_admin, require_staff
from app.domain.errors import Conflict, Forbidden, InvalidInput, NotFound

MAX_TEAMS = 200


async def get(session: AsyncSession, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


async def list_teams(session: AsyncSession, actor: Actor) -> list[tuple[Team, list[TeamMember]]]:
    """Every team with its members (two queries), by name."""
    require_staff(actor, Scope.TICKETS_READ)
    teams = list((await session.scalars(select(Team).order_by(Team.name).limit(MAX_TEAMS))).all())
    members = (
        await session.scalars(
            select(TeamMember)
            .where(TeamMember.team_id.in_([t.id for t in teams]))
            .order_by(TeamMember.user_id)
        )
    ).all()
    return [(t, [m for m in members if m.team_id == t.id]) for t in teams]


async def read(session: AsyncSession, actor: Actor, team_id: int) -> tuple[Team, list[TeamMember]]:
    require_staff(actor, Scope.TICKETS_READ)
    team = await get(session, team_id)
    return team, await members_of(session, team.id)


async def members_of(session: AsyncSession, team_id: int) -> list[TeamMember]:
    return list(
        (
            await session.scalars(
                select(TeamMember).where(TeamMember.team_id == team_id).order_by(TeamMember.user_id)
            )
        ).all()
    )


async def create(session: AsyncSession, actor: Actor, name: str, email: str | None) -> Team:
    require_admin(actor)
    team = Team(name=name, email=email)
    try:
        async with session.begin_nested():
            session.add(team)
            await session.flush()
    except IntegrityError:
        raise Conflict("A team with this name exists.") from None
    return team


async def update(
    session: AsyncSession, actor: Actor, team_id: int, changes: dict[str, object]
) -> Team:
    require_admin(actor)
    team = await get(session, team_id)
    for name, value in changes.items():
        setattr(team, name, value)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A team with this name exists.") from None
    return team


async def delete_team(session: AsyncSession, actor: Actor, team_id: int) -> None:
    """Its tickets keep their assignee and leave the team; its routing rules go with it."""
    require_admin(actor)
    team = await get(session, team_id)
    await session.delete(team)
    await session.flush()


async def set_member(
    session: AsyncSession, actor: Actor, team_id: int, user_id: int, away: bool | None
) -> TeamMember:
    """Add an agent to a team, or change their away flag. An agent may mark themselves away."""
    if actor.is_api_key or not actor.is_staff:
        raise Forbidden("Only staff users manage team members.")
    if actor.role is not Role.ADMIN and actor.user_id != user_id:
        raise Forbidden("Agents may only change their own away flag.")
    await get(session, team_id)
    member = await session.get(TeamMember, (team_id, user_id))
    if member is None:
        if actor.role is not Role.ADMIN:
            raise Forbidden("Only administrators add team members.")
        user = await session.get(User, user_id)
        if user is None or user.role is Role.CUSTOMER or not user.is_active:
            raise InvalidInput("A team member must be an active agent.", ["path", "user_id"])
        member = TeamMember(team_id=team_id, user_id=user_id, away=bool(away))
        session.add(member)
    elif away is not None:
        member.away = away
    await session.flush()
    return member


async def remove_member(session: AsyncSession, actor: Actor, team_id: int, user_id: int) -> None:
    require_admin(actor)
    result = await session.execute(
        delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("No such team member.")


async def is_member(session: AsyncSession, team_id: int, user_id: int) -> bool:
    return await session.get(TeamMember, (team_id, user_id)) is not None


async def my_team_ids(session: AsyncSession, user_id: int | None) -> list[int]:
    if user_id is None:
        return []
    return list(
        (
            await session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id))
        ).all()
    )


async def check_assignment(session: AsyncSession, ticket: Ticket) -> None:
    """A ticket's assignee is a member of the ticket's team (when it has both)."""
    if ticket.team_id is None or ticket.assignee_id is None:
        return
    if not await is_member(session, ticket.team_id, ticket.assignee_id):
        raise InvalidInput(
            "The assignee must be a member of the ticket's team.", ["body", "assignee_id"]
        )


def touch(member: TeamMember) -> None:
    member.last_assigned_at = utcnow()
