"""Status changes: run the state machine on a row and record the event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.base import utcnow
from app.db.models import (
    Ticket,
)
from app.domain.access import Actor
from app.domain.events import StatusChanged, TicketAssigned
from app.domain.tickets import (
    Mover,
    TicketState,
    TicketStatus,
    mover_of,
    transition,
)
from app.services import timeline
from app.services.tickets.common import check_if_match
from app.services.visibility import load_ticket


def apply_move(
    ticket: Ticket,
    to: TicketStatus,
    mover: Mover,
    now: datetime,
    solution: str | None = None,
) -> TicketStatus:
    """Run the state machine on the row; returns the status it left."""
    new = transition(state_of(ticket), to, mover, now, solution)
    return set_state(ticket, new, now)


def state_of(ticket: Ticket) -> TicketState:
    return TicketState(ticket.status, ticket.solution, ticket.resolved_at, ticket.closed_at)


def set_state(ticket: Ticket, new: TicketState, now: datetime) -> TicketStatus:
    """Write a state the domain computed onto the row; returns the status it left."""
    previous = ticket.status
    ticket.status = new.status
    ticket.solution = new.solution
    ticket.resolved_at = new.resolved_at
    ticket.closed_at = new.closed_at
    ticket.status_changed_at = now
    ticket.updated_at = now
    return previous


async def change_status(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    to: TicketStatus,
    solution: str | None,
    note: str | None,
    if_match: str | None = None,
) -> Ticket:
    """Move a ticket for the caller, per the table of moves (409 with ``allowed`` otherwise).

    The row is locked first, so two agents resolving one ticket take turns and
    the second sees the first's result (and gets a 409 if its move no longer applies).
    """
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    check_if_match(ticket, if_match)
    mover = mover_of(actor)
    solution_changed = to is TicketStatus.RESOLVED
    now = utcnow()
    previous = apply_move(ticket, to, mover, now, solution)
    # A move is public activity: on the row in this flush's UPDATE (not one more UPDATE).
    timeline.write_public(ticket, actor, now)
    # Taking a ticket in charge makes the agent its assignee, unless someone already is.
    assign = (
        to is TicketStatus.IN_PROGRESS
        and ticket.assignee_id is None
        and actor.is_staff
        and actor.user_id is not None
    )
    if assign:
        ticket.assignee_id = actor.user_id
    await session.flush()
    if solution_changed:
        await fulltext.index_ticket(session, ticket.id)
    who = timeline.event_actor(actor)
    await timeline.record(
        session,
        StatusChanged(
            ticket_id=ticket.id,
            from_status=previous,
            to_status=ticket.status,
            actor=who,
            note=note,
            solution=ticket.solution if solution_changed else None,
        ),
        public_written=True,
    )
    if assign:
        await timeline.record(
            session, TicketAssigned(ticket_id=ticket.id, assignee_id=actor.user_id, actor=who)
        )
    return ticket
