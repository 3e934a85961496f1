"""Who may see which ticket (and which article): the one rule, used by every load and every list."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.db.models import Attachment, KbArticle, Ticket
from app.domain.access import Actor, Scope, require_scope
from app.domain.errors import NotFound
from app.services import probes


def visible_tickets(actor: Actor) -> ColumnElement[bool]:
    """Staff see every ticket; a customer user their customer's (colleagues' included)."""
    if actor.is_staff:
        return true()
    return Ticket.customer_id == actor.customer_id


def ticket_query(actor: Actor) -> Select[Ticket]:
    return (
        select(Ticket)
        .options(joinedload(Ticket.customer, innerjoin=True))
        .where(visible_tickets(actor))
    )


@lru_cache(maxsize=2)
def bound_ticket_query(staff: bool) -> Select[Ticket]:
    """:func:`ticket_query` built once per kind of caller, a customer's ``customer_id`` bound
    at execution (for statements built once and run with different values)."""
    stmt = select(Ticket).options(joinedload(Ticket.customer, innerjoin=True))
    if not staff:
        stmt = stmt.where(Ticket.customer_id == bindparam("customer_id"))
    return stmt


def bound_values(actor: Actor) -> dict[str, int | None]:
    """The values :func:`bound_ticket_query` and :func:`load_statement` bind for ``actor``."""
    return {} if actor.is_staff else {"customer_id": actor.customer_id}


def visible_articles(actor: Actor) -> ColumnElement[bool]:
    """Staff see drafts too; customers (and anyone else) published articles only."""
    if actor.is_staff:
        return true()
    return KbArticle.published.is_(True)


async def load_article(session: AsyncSession, actor: Actor, article_id: int) -> KbArticle:
    """The article if the caller may read it, else NotFound (a draft is not found by customers).

    An API key needs ``kb:read``.
    """
    require_scope(actor, Scope.KB_READ)
    article = await session.scalar(
        select(KbArticle).where(KbArticle.id == article_id, visible_articles(actor))
    )
    if article is None:
        raise NotFound("No such article.")
    return article


@lru_cache(maxsize=4)
def load_statement(staff: bool, write: bool = False) -> Select[Ticket]:
    """:func:`load_ticket`'s statement, built once per kind of caller (the values are bound:
    ``ticket_id``, and ``customer_id`` for a customer): building a statement and its cache
    key costs about as much CPU as running it."""
    stmt = (
        select(Ticket)
        .options(joinedload(Ticket.customer, innerjoin=True))
        .where(Ticket.id == bindparam("ticket_id"))
    )
    if not staff:
        # visible_tickets(), with the customer bound.
        stmt = stmt.where(Ticket.customer_id == bindparam("customer_id"))
    if write:
        stmt = stmt.with_for_update(of=Ticket)
    return stmt


async def load_ticket(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    write: bool = False,
) -> Ticket:
    """The ticket if the caller may see it, else NotFound (never Forbidden).

    ``write`` locks the row (FOR UPDATE on PostgreSQL) so that two agents changing
    one ticket take turns, and asks an API key for ``tickets:write``.
    """
    require_scope(actor, Scope.TICKETS_WRITE if write else Scope.TICKETS_READ)
    if write:
        return await _load_for_change(session, actor, ticket_id)
    stmt = load_statement(actor.is_staff, write)
    params = {"ticket_id": ticket_id, "customer_id": actor.customer_id}
    ticket = await session.scalar(stmt, params if not actor.is_staff else {"ticket_id": ticket_id})
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


@lru_cache(maxsize=2)
def _change_statement(staff: bool) -> Select[Any]:
    """The locked load of a change, which also asks whether there are webhooks at all and
    whether the ticket has CC addresses (``services/probes.py``): its events then skip
    those reads."""
    return load_statement(staff, True).add_columns(
        *probes.columns("hooks"), probes.cc_column(Ticket.id)
    )


async def _load_for_change(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    params: dict[str, object] = {"ticket_id": ticket_id}
    if not actor.is_staff:
        params["customer_id"] = actor.customer_id
    row = (await session.execute(_change_statement(actor.is_staff), params)).first()
    if row is None:
        raise NotFound("No such ticket.")
    probes.keep(session, row, ticket_id=ticket_id)
    ticket: Ticket = row[0]
    return ticket


def visible_attachments(actor: Actor) -> ColumnElement[bool]:
    """Files follow their ticket; the files of an internal reply are for staff only.

    Use with a join to the ticket (or on a ticket already loaded with :func:`load_ticket`).
    """
    if actor.is_staff:
        return true()
    return Attachment.internal.is_(False)


async def load_attachment(session: AsyncSession, actor: Actor, attachment_id: int) -> Attachment:
    """The attachment if the caller may see it and its ticket, else NotFound (never Forbidden)."""
    require_scope(actor, Scope.TICKETS_READ)
    attachment = await session.scalar(
        select(Attachment)
        .join(Ticket, Ticket.id == Attachment.ticket_id)
        .where(
            Attachment.id == attachment_id,
            visible_tickets(actor),
            visible_attachments(actor),
        )
    )
    if attachment is None:
        raise NotFound("No such attachment.")
    return attachment
