"""Tags on tickets (staff): add, remove, the list with counts for autocomplete.

``tag.ticket_count`` is kept by the add and the remove (an atomic UPDATE), so the
autocomplete reads a few rows of a small table, never the ticket_tag table.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.models import Tag, Ticket, TicketTag
from app.domain.access import Actor, Scope, require_staff
from app.domain.errors import InvalidInput, NotFound
from app.domain.events import TicketTagged, TicketUntagged
from app.services import timeline
from app.services.visibility import load_ticket

MAX_TAGS_PER_TICKET = 20


def normalise(name: str) -> str:
    return " ".join(name.split()).casefold()


async def _tag_ids(session: AsyncSession, names: list[str]) -> dict[str, int]:
    """The ids of ``names``, creating the tags that do not exist (race-free upsert)."""
    if not names:
        return {}
    insert = postgresql.insert if fulltext.dialect_of(session) == "postgresql" else sqlite.insert
    await session.execute(
        insert(Tag)
        .values([{"name": n, "ticket_count": 0} for n in names])
        .on_conflict_do_nothing(index_elements=[Tag.name])
    )
    rows = (await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))).all()
    return {name: tag_id for name, tag_id in rows}


async def tags_of(session: AsyncSession, ticket_id: int) -> list[str]:
    return list(
        (
            await session.scalars(
                select(Tag.name)
                .join(TicketTag, TicketTag.tag_id == Tag.id)
                .where(TicketTag.ticket_id == ticket_id)
                .order_by(Tag.name)
            )
        ).all()
    )


async def add_to(
    session: AsyncSession, actor: Actor | None, ticket: Ticket, names: list[str]
) -> list[str]:
    """Tag a ticket (already loaded for writing); returns the tags newly added."""
    new = await attach(session, ticket, names)
    await record(session, actor, ticket, new)
    return new


async def record(
    session: AsyncSession, actor: Actor | None, ticket: Ticket, names: list[str]
) -> None:
    who = timeline.event_actor(actor) if actor is not None else None
    for name in names:
        await timeline.record(session, TicketTagged(ticket_id=ticket.id, tag=name, actor=who))


async def attach(session: AsyncSession, ticket: Ticket, names: list[str]) -> list[str]:
    """The tag rows only (no event yet: a new ticket records them after its opening)."""
    wanted = sorted({normalise(n) for n in names if normalise(n)})
    if not wanted:
        return []
    current = set(await tags_of(session, ticket.id))
    new = [n for n in wanted if n not in current]
    if len(current) + len(new) > MAX_TAGS_PER_TICKET:
        raise InvalidInput(f"A ticket has at most {MAX_TAGS_PER_TICKET} tags.", ["body", "tags"])
    ids = await _tag_ids(session, new)
    for name in new:
        session.add(TicketTag(ticket_id=ticket.id, tag_id=ids[name]))
    if new:
        await session.execute(
            update(Tag).where(Tag.id.in_(ids.values())).values(ticket_count=Tag.ticket_count + 1)
        )
        await session.flush()
    return new


async def add(session: AsyncSession, actor: Actor, ticket_id: int, names: list[str]) -> list[str]:
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    require_staff(actor, Scope.TICKETS_WRITE)
    await add_to(session, actor, ticket, names)
    return await tags_of(session, ticket.id)


async def remove(session: AsyncSession, actor: Actor, ticket_id: int, name: str) -> list[str]:
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    require_staff(actor, Scope.TICKETS_WRITE)
    tag = await session.scalar(select(Tag).where(Tag.name == normalise(name)))
    removed = 0
    if tag is not None:
        result = await session.execute(
            delete(TicketTag).where(TicketTag.ticket_id == ticket.id, TicketTag.tag_id == tag.id)
        )
        removed = int(getattr(result, "rowcount", 0) or 0)
    if not removed or tag is None:
        raise NotFound("The ticket has no such tag.")
    await session.execute(
        update(Tag).where(Tag.id == tag.id).values(ticket_count=Tag.ticket_count - 1)
    )
    await timeline.record(
        session,
        TicketUntagged(ticket_id=ticket.id, tag=tag.name, actor=timeline.event_actor(actor)),
    )
    return await tags_of(session, ticket.id)


async def suggest(session: AsyncSession, actor: Actor, prefix: str | None, limit: int) -> list[Tag]:
    """Tags in use, most used first (those starting with ``prefix`` when given)."""
    require_staff(actor, Scope.TICKETS_READ)
    stmt = select(Tag).where(Tag.ticket_count > 0)
    if prefix:
        escaped = normalise(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Tag.name.like(escaped + "%", escape="\\"))
    stmt = stmt.order_by(Tag.ticket_count.desc(), Tag.name).limit(limit)
    return list((await session.scalars(stmt)).all())
