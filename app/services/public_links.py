"""Public status links: a ticket's status page for whoever holds the link, without a login.

The token is 256 random bits (``secrets.token_urlsafe(32)``), so it cannot be
guessed; only its SHA-256 is stored, so a copy of the database opens no page.
Every token that is not one we issued, whatever its shape, is the same 404.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, Reply, Ticket, TicketPublicLink
from app.domain.access import Locale
from app.domain.errors import NotFound
from app.domain.tickets import Visibility

TOKEN_BYTES = 32
MAX_PUBLIC_REPLIES = 200
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


async def issue(session: AsyncSession, ticket_id: int) -> str:
    """A new link for the ticket; the plaintext is returned once, for the confirmation mail."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(TicketPublicLink(ticket_id=ticket_id, token_hash=hash_token(token)))
    return token


@dataclass(frozen=True, slots=True)
class PublicView:
    ticket: Ticket
    locale: Locale
    replies: list[Reply]


async def view(session: AsyncSession, token: str) -> PublicView:
    """What the link shows: the ticket's public face and its public replies (the latest
    ``MAX_PUBLIC_REPLIES``, oldest first); nothing internal."""
    if not _TOKEN_SHAPE.fullmatch(token):
        raise NotFound("No such ticket.")
    row = (
        await session.execute(
            select(Ticket, Customer.locale)
            .join(TicketPublicLink, TicketPublicLink.ticket_id == Ticket.id)
            .join(Customer, Customer.id == Ticket.customer_id)
            .where(TicketPublicLink.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        raise NotFound("No such ticket.")
    ticket, locale = row
    replies = (
        await session.scalars(
            select(Reply)
            .where(Reply.ticket_id == ticket.id, Reply.visibility == Visibility.PUBLIC)
            .order_by(Reply.id.desc())
            .limit(MAX_PUBLIC_REPLIES)
        )
    ).all()
    return PublicView(ticket=ticket, locale=Locale(locale), replies=list(reversed(replies)))
