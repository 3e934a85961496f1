"""The admins' view of received mail: what became of each, and the retry of a held one."""

from __future__ import annotations

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from app.config import Settings
from app.db.models import InboundMail, Ticket
from app.db.pagination import decode_id_cursor, encode_cursor
from app.domain.access import Actor, require_admin
from app.domain.errors import Conflict, NotFound
from app.domain.inbound import InboundOutcome
from app.infra import mailparse
from app.services.attachments import Uploads
from app.services.inbound.receiving import decide, settle


async def list_page(
    session: AsyncSession,
    actor: Actor,
    *,
    outcome: InboundOutcome | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[InboundMail, str | None]], str | None]:
    """Received mails with their ticket's number, newest first, in keyset pages (admins)."""
    require_admin(actor)
    stmt = select(InboundMail, Ticket.number).outerjoin(Ticket, Ticket.id == InboundMail.ticket_id)
    if outcome is not None:
        stmt = stmt.where(InboundMail.outcome == outcome)
    if cursor is not None:
        stmt = stmt.where(InboundMail.id < decode_id_cursor(cursor))
    rows = (await session.execute(stmt.order_by(InboundMail.id.desc()).limit(limit + 1))).all()
    items: list[tuple[InboundMail, str | None]] = [(m, number) for m, number in rows]
    if len(items) > limit:
        items = items[:limit]
        return items, encode_cursor([items[-1][0].id])
    return items, None


async def retry(
    session: AsyncSession, settings: Settings, actor: Actor, mail_id: int, uploads: Uploads
) -> InboundMail:
    """Act on a held mail as if its sender had been vouched for: an admin read it and
    trusts it. Any other outcome is final (409)."""
    require_admin(actor)
    row = await session.scalar(
        select(InboundMail)
        .options(undefer(InboundMail.raw))
        .where(InboundMail.id == mail_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("No such received mail.")
    if row.outcome is not InboundOutcome.HELD or row.raw is None:
        raise Conflict(f"Only a held mail can be retried; this one is {row.outcome.value}.")
    raw = row.raw
    parsed = await anyio.to_thread.run_sync(mailparse.parse, raw)
    decision = await decide(session, settings, parsed, raw, uploads, vouched=True)
    settle(row, decision, raw)
    await session.flush()
    return row


async def ticket_number(session: AsyncSession, ticket_id: int | None) -> str | None:
    if ticket_id is None:
        return None
    return await session.scalar(select(Ticket.number).where(Ticket.id == ticket_id))
