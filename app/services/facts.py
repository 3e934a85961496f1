"""The ticket facts the reports read, kept by a timeline subscriber in the change's transaction.

First response (a staff member's first public reply), first resolution, the last
closing and the reopenings, with the durations from the opening in calendar seconds
and, where the ticket's SLA policy has a business calendar, in business minutes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import BusinessCalendar, SlaPolicy, Ticket, TicketFact, TicketStatusChange
from app.domain import sla
from app.domain.access import Role
from app.domain.events import DomainEvent, ReplyPosted, StatusChanged, TicketOpened
from app.domain.tickets import TicketStatus, Visibility
from app.services import timeline
from app.services.sla import calendar_of

_DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


async def _business_calendar(session: AsyncSession, ticket: Ticket) -> sla.Calendar | None:
    if ticket.sla_policy_id is None:
        return None
    policy = await session.get(SlaPolicy, ticket.sla_policy_id)
    if policy is None or policy.calendar_id is None:
        return None
    return calendar_of(await session.get(BusinessCalendar, policy.calendar_id))


async def _durations(
    session: AsyncSession, ticket: Ticket, fact: TicketFact, at: datetime
) -> tuple[float, float | None]:
    seconds = max(0.0, (at - fact.created_at).total_seconds())
    cal = await _business_calendar(session, ticket)
    business = None if cal is None else sla.business_minutes_between(cal, fact.created_at, at)
    return seconds, business


@timeline.subscribe
async def keep_facts(session: AsyncSession, event: DomainEvent) -> None:
    """Write the ticket's report facts as it opens, gets answered, resolves, closes, reopens."""
    if not isinstance(event, TicketOpened | ReplyPosted | StatusChanged):
        return
    ticket = await session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    # A ticket being opened has no fact row yet: no read for it.
    opened = isinstance(event, TicketOpened)
    fact = None if opened else await session.get(TicketFact, event.ticket_id)
    if fact is None:
        fact = TicketFact(ticket_id=ticket.id, created_at=ticket.created_at or utcnow())
        fact.reopen_count = 0
        session.add(fact)
    if isinstance(event, TicketOpened):
        return
    now = utcnow()
    if isinstance(event, ReplyPosted):
        staff = event.actor is not None and event.actor.role != Role.CUSTOMER.value
        if event.visibility is Visibility.PUBLIC and staff and fact.first_response_at is None:
            fact.first_response_at = now
            seconds, business = await _durations(session, ticket, fact, now)
            fact.first_response_seconds = seconds
            fact.first_response_business_minutes = business
        return
    to = event.to_status
    # The status history (the backlog by status): one INSERT, no read.
    session.add(
        TicketStatusChange(
            ticket_id=ticket.id,
            at=now,
            opened_at=fact.created_at,
            from_status=event.from_status.value,
            to_status=to.value,
        )
    )
    if to is TicketStatus.RESOLVED and fact.first_resolved_at is None:
        fact.first_resolved_at = now
        seconds, business = await _durations(session, ticket, fact, now)
        fact.resolution_seconds = seconds
        fact.resolution_business_minutes = business
    if to is TicketStatus.CLOSED:
        fact.closed_at = now
    if event.from_status in _DONE and to not in _DONE:
        fact.reopen_count = (fact.reopen_count or 0) + 1
        fact.reopened_at = now
        fact.closed_at = None
