"""The worker's jobs on tickets: the automatic moves and the idempotency-key purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import fulltext
from app.db.base import utcnow
from app.db.models import (
    Customer,
    IdempotencyKey,
    Ticket,
)
from app.domain.events import StatusChanged
from app.domain.tickets import (
    LACK_OF_RESPONSE,
    Mover,
    TicketStatus,
)
from app.services import timeline
from app.services.tickets.moves import apply_move


async def automatic_moves(session: AsyncSession, settings: Settings, *, batch: int = 200) -> int:
    """Resolve tickets left waiting for the customer, close tickets left resolved.

    Run by the worker. Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL,
    so several workers share the work and never move one ticket twice; SQLite
    runs one writer at a time anyway.
    """
    now = utcnow()
    moved = 0
    plans = (
        (
            TicketStatus.WAITING_CUSTOMER,
            TicketStatus.RESOLVED,
            Ticket.status_changed_at <= now - timedelta(days=settings.waiting_timeout_days),
        ),
        (
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
            Ticket.resolved_at <= now - timedelta(days=settings.auto_close_days),
        ),
    )
    for frm, to, due in plans:
        rows = (
            await session.execute(
                select(Ticket, Customer.locale)
                .join(Customer, Customer.id == Ticket.customer_id)
                .where(Ticket.status == frm, due)
                .order_by(Ticket.id)
                .limit(batch)
                .with_for_update(of=Ticket, skip_locked=True)
            )
        ).all()
        for ticket, locale in rows:
            solution = None
            if to is TicketStatus.RESOLVED:
                solution = LACK_OF_RESPONSE.get(str(locale), LACK_OF_RESPONSE["en"])
            previous = apply_move(ticket, to, Mover.SYSTEM, now, solution)
            await session.flush()
            if solution is not None:
                await fulltext.index_ticket(session, ticket.id)
            await timeline.record(
                session,
                StatusChanged(
                    ticket_id=ticket.id,
                    from_status=previous,
                    to_status=to,
                    actor=None,
                    note=None,
                    solution=solution,
                ),
            )
            moved += 1
    return moved


IDEMPOTENCY_RETENTION = timedelta(days=30)


async def purge_idempotency_keys(session: AsyncSession, settings: Settings) -> int:
    """Forget Idempotency-Keys after 30 days (a periodic job): retries come within minutes."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
