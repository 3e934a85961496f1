"""The change feed: every timeline event the caller may see, across tickets, oldest first.

An integration that was down reads ``GET /events?after=<cursor>`` until the page is short
and keeps the last cursor: it misses nothing it may see and sees nothing twice. Keyset pages
on the event id (the primary key): a deep page costs what the first one does. A customer's
feed goes through their tickets (``ticket.customer_id``, then ``ticket_event (ticket_id,
id)``) and leaves internal events out, as ``GET /tickets/{id}/events`` does.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Ticket, TicketEvent
from app.db.pagination import decode_id_cursor, encode_cursor
from app.domain.access import Actor, Scope, require_scope
from app.services.visibility import visible_tickets


async def page(
    session: AsyncSession, actor: Actor, *, after: str | None, limit: int
) -> tuple[list[TicketEvent], str]:
    """The events after the cursor, and the cursor to continue from (the same one when there
    is nothing new)."""
    require_scope(actor, Scope.TICKETS_READ)
    last = decode_id_cursor(after) if after is not None else 0
    stmt = select(TicketEvent).where(TicketEvent.id > last)
    if not actor.is_staff:
        stmt = stmt.join(Ticket, Ticket.id == TicketEvent.ticket_id).where(
            visible_tickets(actor), TicketEvent.internal.is_(False)
        )
    rows = list((await session.scalars(stmt.order_by(TicketEvent.id).limit(limit))).all())
    return rows, encode_cursor([rows[-1].id if rows else last])
