"""Categories: per ticket type, areas and their sub-areas (two levels), managed by admins."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Category
from app.db.session import take_turns
from app.domain.access import Actor, require_admin
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.tickets import TicketType


@dataclass
class Node:
    category: Category
    children: list[Node] = field(default_factory=list)


async def tree(session: AsyncSession) -> list[Node]:
    """Areas with their sub-areas, by type then name; one query."""
    rows = (
        await session.scalars(select(Category).order_by(Category.type, Category.name, Category.id))
    ).all()
    nodes = {c.id: Node(c) for c in rows}
    roots: list[Node] = []
    for c in rows:
        if c.parent_id is None:
            roots.append(nodes[c.id])
        elif c.parent_id in nodes:
            nodes[c.parent_id].children.append(nodes[c.id])
    return roots


async def _names_taking_turns(session: AsyncSession) -> None:
    """Creations and renames take turns until commit, so the siblings' check of
    :func:`_ensure_unique` sees the name another just gave: two requests at once (a form
    sent twice) otherwise both found it free and made two categories of one name. Admins
    edit the tree rarely."""
    await take_turns(session, "sportello.categories")


async def _ensure_unique(
    session: AsyncSession, type_: TicketType, parent_id: int | None, name: str, exclude: int | None
) -> None:
    stmt = select(Category.id).where(
        Category.type == type_,
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
        Category.name == name,
    )
    if exclude is not None:
        stmt = stmt.where(Category.id != exclude)
    if await session.scalar(stmt) is not None:
        raise Conflict(f"A category named {name!r} already exists there.")


async def create(
    session: AsyncSession,
    actor: Actor | None,
    *,
    type_: TicketType,
    name: str,
    parent_id: int | None,
    names: dict[str, str | None] | None = None,
) -> Category:
    """A new area (no parent) or sub-area (its parent an area of the same type)."""
    if actor is not None:
        require_admin(actor)
    await _names_taking_turns(session)
    if parent_id is not None:
        parent = await session.get(Category, parent_id)
        if parent is None:
            raise InvalidInput("No such parent category.", ["body", "parent_id"])
        if parent.parent_id is not None:
            raise InvalidInput("Sub-areas cannot have sub-areas.", ["body", "parent_id"])
        if parent.type is not type_:
            raise InvalidInput("A sub-area has the type of its area.", ["body", "type"])
    await _ensure_unique(session, type_, parent_id, name, None)
    category = Category(type=type_, name=name, parent_id=parent_id)
    _set_names(category, names)
    session.add(category)
    await session.flush()
    return category


LANGUAGES = ("it", "es", "en")


def _set_names(category: Category, names: dict[str, str | None] | None) -> None:
    """Set the translations given (a language left out keeps its translation)."""
    for lang, value in (names or {}).items():
        if lang in LANGUAGES:
            setattr(category, f"name_{lang}", value)


async def rename(
    session: AsyncSession,
    actor: Actor,
    category_id: int,
    name: str | None,
    names: dict[str, str | None] | None = None,
) -> Node:
    """Rename a category or change its translations; returned with its sub-areas, so the
    answer reads like the tree's node."""
    require_admin(actor)
    category = await session.get(Category, category_id)
    if category is None:
        raise NotFound("No such category.")
    if name is not None:
        await _names_taking_turns(session)
        await _ensure_unique(session, category.type, category.parent_id, name, category.id)
        category.name = name
    _set_names(category, names)
    await session.flush()
    children = await session.scalars(
        select(Category)
        .where(Category.parent_id == category.id)
        .order_by(Category.name, Category.id)
    )
    return Node(category, [Node(child) for child in children])
