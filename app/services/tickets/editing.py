"""Staff edits, reads and the timeline of one ticket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.base import utcnow
from app.db.models import (
    Team,
    Ticket,
    TicketEvent,
    User,
)
from app.db.pagination import page_by_id
from app.domain.access import Actor, Role, Scope, require_staff
from app.domain.errors import (
    InvalidInput,
)
from app.domain.events import TeamAssigned, TicketAssigned
from app.services import teams as team_service
from app.services import timeline
from app.services.tickets.common import check_if_match
from app.services.tickets.opening import check_category
from app.services.visibility import load_ticket


async def update(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    changes: dict[str, Any],
    *,
    if_match: str | None = None,
) -> Ticket:
    """Staff edit category, severity, team, assignee and subject (never the status).

    With both a team and an assignee, the assignee must be a member of the team (422).

    The ticket is loaded before the role is checked: another customer's ticket is a
    404 for a customer user, like every other endpoint under it, and never a 403.
    """
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    require_staff(actor, Scope.TICKETS_WRITE)
    check_if_match(ticket, if_match)
    if "category_id" in changes:
        await check_category(session, changes["category_id"], ticket.type)
    assignee_changed = "assignee_id" in changes and changes["assignee_id"] != ticket.assignee_id
    if assignee_changed and changes["assignee_id"] is not None:
        assignee = await session.get(User, changes["assignee_id"])
        if assignee is None or assignee.role is Role.CUSTOMER or not assignee.is_active:
            raise InvalidInput("The assignee must be an active agent.", ["body", "assignee_id"])
    team_changed = "team_id" in changes and changes["team_id"] != ticket.team_id
    new_team = changes.get("team_id") if team_changed else None
    if new_team is not None and await session.get(Team, new_team) is None:
        raise InvalidInput("No such team.", ["body", "team_id"])
    for name, value in changes.items():
        setattr(ticket, name, value)
    if team_changed or assignee_changed:
        await team_service.check_assignment(session, ticket)
    if changes:
        ticket.updated_at = utcnow()
    await session.flush()
    if "subject" in changes:
        await fulltext.index_ticket(session, ticket.id)
    if team_changed:
        await timeline.record(
            session,
            TeamAssigned(
                ticket_id=ticket.id, team_id=ticket.team_id, actor=timeline.event_actor(actor)
            ),
        )
    if assignee_changed:
        await timeline.record(
            session,
            TicketAssigned(
                ticket_id=ticket.id,
                assignee_id=ticket.assignee_id,
                actor=timeline.event_actor(actor),
            ),
        )
    return ticket


async def get(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    return await load_ticket(session, actor, ticket_id)


async def events(
    session: AsyncSession, actor: Actor, ticket_id: int, *, limit: int, cursor: str | None
) -> tuple[list[TicketEvent], str | None]:
    """The timeline, oldest first, keyset pages by id; customers do not see what concerns
    internal notes."""
    ticket = await load_ticket(session, actor, ticket_id)
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if not actor.is_staff:
        stmt = stmt.where(TicketEvent.internal.is_(False))
    return await page_by_id(session, stmt, TicketEvent.id, limit=limit, cursor=cursor)
