"""Customer satisfaction: "How did we do?" asked at each resolution, answered without a login.

At a resolution a subscriber opens (or reopens) the question for ``SATISFACTION_DAYS``;
the resolution mail carries a link whose token is 256 random bits, stored only as
its SHA-256 (like the public status link). The holder of that link, or of the
ticket's public status link, answers good or bad with an optional comment; the
answer can change until the ticket is closed. Each answer goes to the timeline, and
a "bad" one is mailed to the ticket's team (else the desk) through the outbox.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.db.base import utcnow
from app.db.models import (
    Customer,
    Notification,
    Team,
    Ticket,
    TicketPublicLink,
    TicketSatisfaction,
)
from app.domain.access import Actor, Locale, Scope, require_staff
from app.domain.errors import Conflict, NotFound
from app.domain.events import DomainEvent, SatisfactionRated, StatusChanged
from app.domain.notifications import NotificationKind, NotificationStatus
from app.domain.reports import Rating
from app.domain.tickets import TicketStatus
from app.services import timeline
from app.services.public_links import hash_token
from app.services.visibility import load_ticket

TOKEN_BYTES = 32
MAX_COMMENT = 2000
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def _settings(session: AsyncSession) -> Settings:
    settings = session.info.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


async def _ask(session: AsyncSession, ticket_id: int) -> TicketSatisfaction:
    """Open the question (again) for the configured number of days."""
    now = utcnow()
    expires = now + timedelta(days=_settings(session).satisfaction_days)
    row = await session.get(TicketSatisfaction, ticket_id)
    if row is None:
        row = TicketSatisfaction(ticket_id=ticket_id, asked_at=now, expires_at=expires)
        session.add(row)
        await session.flush()  # the mail's subscriber and this one may both ask, in one change
    elif row.asked_at != now:
        row.asked_at = now
        row.expires_at = expires
    return row


async def issue(session: AsyncSession, ticket_id: int) -> str:
    """A new link for the resolution mail; the plaintext is returned once (the outbox wipes it
    from the mail's row once delivered). A previous link of the ticket stops working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = await _ask(session, ticket_id)
    row.token_hash = hash_token(token)
    return token


@timeline.subscribe
async def ask_at_resolution(session: AsyncSession, event: DomainEvent) -> None:
    """Every resolution asks (so a ticket resolved without a mail is asked on its status page)."""
    if isinstance(event, StatusChanged) and event.to_status is TicketStatus.RESOLVED:
        await _ask(session, event.ticket_id)


async def by_token(session: AsyncSession, token: str) -> tuple[TicketSatisfaction, Ticket]:
    """The question of a satisfaction link, if valid and not expired, else NotFound."""
    if not _TOKEN_SHAPE.fullmatch(token):
        raise NotFound("No such question.")
    row = (
        await session.execute(
            select(TicketSatisfaction, Ticket)
            .join(Ticket, Ticket.id == TicketSatisfaction.ticket_id)
            .where(TicketSatisfaction.token_hash == hash_token(token))
        )
    ).first()
    if row is None or row[0].expires_at <= utcnow():
        raise NotFound("No such question.")
    return row[0], row[1]


async def by_status_link(
    session: AsyncSession, token: str
) -> tuple[TicketSatisfaction | None, Ticket]:
    """The question of a ticket through its public status link (None: nothing asked yet)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        raise NotFound("No such ticket.")
    row = (
        await session.execute(
            select(Ticket, TicketSatisfaction)
            .join(TicketPublicLink, TicketPublicLink.ticket_id == Ticket.id)
            .outerjoin(TicketSatisfaction, TicketSatisfaction.ticket_id == Ticket.id)
            .where(TicketPublicLink.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        raise NotFound("No such ticket.")
    ticket, question = row
    if question is None or question.expires_at <= utcnow():
        return None, ticket
    return question, ticket


async def answer(
    session: AsyncSession,
    question: TicketSatisfaction | None,
    ticket: Ticket,
    rating: Rating,
    comment: str | None,
) -> TicketSatisfaction:
    """Record (or change) the answer: refused once the ticket is closed, or if not asked."""
    if question is None:
        raise Conflict("This ticket has not been resolved yet: there is nothing to rate.")
    if ticket.status is TicketStatus.CLOSED:
        raise Conflict("The ticket is closed: its rating can no longer change.")
    comment = (comment or "").strip() or None
    changed = question.rating != rating.value or question.comment != comment
    question.rating = rating.value
    question.comment = comment
    question.answered_at = utcnow()
    if changed:
        await timeline.record(session, SatisfactionRated(ticket.id, rating.value))
        if rating is Rating.BAD:
            await _mail_bad(session, ticket, comment)
    await session.flush()
    return question


async def _mail_bad(session: AsyncSession, ticket: Ticket, comment: str | None) -> None:
    customer = await session.get(Customer, ticket.customer_id)
    assert customer is not None
    recipient = None
    if ticket.team_id is not None:
        team = await session.get(Team, ticket.team_id)
        recipient = team.email if team is not None else None
    recipient = recipient or _settings(session).support_email
    if not recipient:
        return
    now = utcnow()
    session.add(
        Notification(
            ticket_id=ticket.id,
            kind=NotificationKind.SATISFACTION_BAD,
            recipient=recipient,
            locale=Locale(customer.locale),
            context={
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status.value,
                "customer_code": customer.code,
                "customer_name": customer.name,
                "comment": comment,
            },
            status=NotificationStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


async def for_staff(session: AsyncSession, actor: Actor, ticket_id: int) -> TicketSatisfaction:
    """A ticket's rating, for agents and admins (API keys: ``tickets:read``)."""
    require_staff(actor, Scope.TICKETS_READ)
    await load_ticket(session, actor, ticket_id)
    row = await session.get(TicketSatisfaction, ticket_id)
    if row is None:
        raise NotFound("This ticket has not been asked for a rating.")
    return row
