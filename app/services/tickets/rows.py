"""What a portal shows of a ticket besides its own columns, read in the same statement.

A list row carries the requester's and assignee's names, the area and sub-area, the
caller's read marker: joined onto the ticket query (primary-key lookups), so a page of
any size costs one statement. Read markers are written only when they move forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db import arrays
from app.db.models import Category, ReadMarker, Tag, Ticket, TicketTag, User
from app.domain.access import Actor, Scope, require_scope
from app.domain.errors import NotFound
from app.services.visibility import load_statement

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

Requester = aliased(User, name="requester")
Assignee = aliased(User, name="assignee")
Area = aliased(Category, name="area")
ParentArea = aliased(Category, name="parent_area")


@dataclass
class Row:
    """A ticket with what its list row shows."""

    ticket: Ticket
    requester_name: str | None
    assignee_name: str | None
    category: Category | None
    parent_category: Category | None
    read_at: datetime | None
    unread: bool
    tags: list[str] | None = None
    """The ticket's tags, when read with it (a ticket read by staff), else None."""


def _reader(actor: Actor) -> int:
    # An API key has no user and so no markers: 0 is no user's id, the join finds nothing.
    return actor.user_id or 0


def with_row_columns(stmt: Select[Any], actor: Actor) -> Select[Any]:
    """Add the row's extra columns to a ticket query (outer joins on primary keys)."""
    return _with_row_columns(stmt, literal(_reader(actor)))


def _with_row_columns(stmt: Select[Any], reader: ColumnElement[int]) -> Select[Any]:
    return _join_marker(
        stmt.add_columns(Requester.name, Assignee.name, Area, ParentArea, ReadMarker.read_at)
        .outerjoin(Requester, Requester.id == Ticket.requester_id)
        .outerjoin(Assignee, Assignee.id == Ticket.assignee_id)
        .outerjoin(Area, Area.id == Ticket.category_id)
        .outerjoin(ParentArea, ParentArea.id == Area.parent_id),
        reader,
    )


def with_bound_row_columns(stmt: Select[Any]) -> Select[Any]:
    """:func:`with_row_columns` for a statement built once: the caller's id is bound at
    execution as ``reader`` (:func:`reader`)."""
    return _with_row_columns(stmt, bindparam("reader", type_=Integer()))


def reader(actor: Actor) -> int:
    """The ``reader`` of :func:`with_bound_row_columns`."""
    return _reader(actor)


def join_marker(stmt: SelectT, actor: Actor) -> SelectT:
    """Join the caller's read marker of each ticket (for :func:`unread_clause`)."""
    return _join_marker(stmt, literal(_reader(actor)))


def _join_marker(stmt: SelectT, reader: ColumnElement[int]) -> SelectT:
    return stmt.outerjoin(
        ReadMarker, and_(ReadMarker.ticket_id == Ticket.id, ReadMarker.user_id == reader)
    )


@lru_cache(maxsize=4)
def _read_row_statement(staff: bool, dialect: str) -> Select[Any]:
    """:func:`read_row`'s statement, built once per kind of caller: the visibility rule of
    :func:`app.services.visibility.load_statement` (``ticket_id``, ``customer_id`` bound)
    and the row's columns, the reader bound too. Built per request, the statement and its
    cache key cost more CPU than the database takes to answer it. Staff also get the
    ticket's tags in it (a round trip less)."""
    stmt = with_bound_row_columns(load_statement(staff))
    if staff:
        tagged = (
            select(Tag.name)
            .join(TicketTag, TicketTag.tag_id == Tag.id)
            .where(TicketTag.ticket_id == Ticket.id)
        )
        stmt = stmt.add_columns(arrays.sorted_strings(dialect, Tag.name, tagged))
    return stmt


def unread_clause(actor: Actor) -> ColumnElement[bool]:
    """Public activity by someone else after the caller's last read (use on a row query)."""
    # The tables' columns: in a list page's Core statement, an ORM attribute would turn it
    # into an ORM one (app/services/tickets/items.py).
    ticket, marker = Ticket.__table__.c, ReadMarker.__table__.c
    return and_(
        ticket.last_public_at.is_not(None),
        ticket.last_public_actor_id.is_distinct_from(_reader(actor)),
        or_(marker.read_at.is_(None), marker.read_at < ticket.last_public_at),
    )


def is_unread(ticket: Ticket, read_at: datetime | None, actor: Actor) -> bool:
    if actor.user_id is None or ticket.last_public_at is None:
        return False
    if ticket.last_public_actor_id == actor.user_id:
        return False
    return read_at is None or read_at < ticket.last_public_at


def to_row(result: Any, actor: Actor) -> Row:
    ticket, requester, assignee, area, parent, read_at = result
    return Row(
        ticket=ticket,
        requester_name=requester,
        assignee_name=assignee,
        category=area,
        parent_category=parent,
        read_at=read_at,
        unread=is_unread(ticket, read_at, actor),
    )


async def read_row(session: AsyncSession, actor: Actor, ticket_id: int) -> Row:
    """A ticket the caller may see (else NotFound), with its row's columns: one statement."""
    require_scope(actor, Scope.TICKETS_READ)
    params: dict[str, Any] = {"ticket_id": ticket_id, "reader": _reader(actor)}
    if not actor.is_staff:
        params["customer_id"] = actor.customer_id
    dialect = session.get_bind().dialect.name
    stmt = _read_row_statement(actor.is_staff, dialect)
    result = (await session.execute(stmt, params)).first()
    if result is None:
        raise NotFound("No such ticket.")
    if not actor.is_staff:
        return to_row(tuple(result), actor)
    row = to_row(tuple(result)[:-1], actor)
    row.tags = arrays.values_of(dialect, result[-1])
    return row


async def row_of(session: AsyncSession, actor: Actor, ticket: Ticket) -> Row:
    """The row of a ticket already loaded (and checked visible): one statement."""
    stmt = with_row_columns(select(Ticket).where(Ticket.id == ticket.id), actor)
    result = (await session.execute(stmt)).one()
    return to_row((ticket, *tuple(result)[1:]), actor)


async def new_row(session: AsyncSession, actor: Actor, ticket: Ticket) -> Row:
    """The row of a ticket this request has just opened, from what the session already holds
    (the caller, the area it checked, the assignee routing chose): ``session.get`` reads only
    what it does not hold, and there is no read marker yet. Saves a creation the SELECT of
    :func:`row_of` (one of its statements)."""
    area = await session.get(Category, ticket.category_id) if ticket.category_id else None
    parent = (
        await session.get(Category, area.parent_id)
        if area is not None and area.parent_id is not None
        else None
    )
    return to_row(
        (
            ticket,
            await _name_of(session, ticket.requester_id),
            await _name_of(session, ticket.assignee_id),
            area,
            parent,
            None,
        ),
        actor,
    )


async def _name_of(session: AsyncSession, user_id: int | None) -> str | None:
    user = await session.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else None


async def mark_read(session: AsyncSession, actor: Actor, row: Row) -> None:
    """Record that the caller has seen the ticket's public activity so far.

    Nothing is written when the marker is already there (reading again is free); the
    upsert never moves a marker back, so two reads racing cannot undo each other.
    """
    seen = row.ticket.last_public_at
    if actor.user_id is None or seen is None or not row.unread:
        return  # nothing unseen: read already, or the caller's own activity is the latest
    values = {"user_id": actor.user_id, "ticket_id": row.ticket.id, "read_at": seen}
    if session.get_bind().dialect.name == "postgresql":
        pg = pg_insert(ReadMarker).values(values)
        stmt: Any = pg.on_conflict_do_update(
            index_elements=[ReadMarker.user_id, ReadMarker.ticket_id],
            set_={"read_at": pg.excluded.read_at},
            where=ReadMarker.read_at < pg.excluded.read_at,
        )
    else:
        lite = sqlite_insert(ReadMarker).values(values)
        stmt = lite.on_conflict_do_update(
            index_elements=[ReadMarker.user_id, ReadMarker.ticket_id],
            set_={"read_at": lite.excluded.read_at},
            where=ReadMarker.read_at < lite.excluded.read_at,
        )
    await session.execute(stmt)
