"""Saved views: list filters kept by name, per user or shared, and three built in.

A view is data (``filters``, ``sort``), turned into the ticket list's ``Filters``
here; "me" and "my teams" are resolved for the caller when the view is read, so one
shared view serves every agent. Each view reads as a keyset page plus a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import SavedView
from app.db.pagination import MAX_ID
from app.domain.access import Actor, Role, Scope, require_staff
from app.domain.errors import Forbidden, InvalidInput, NotFound
from app.domain.tickets import TicketStatus
from app.services import teams as team_service
from app.services import tickets as ticket_service

MAX_VIEWS_PER_USER = 100
OPEN_STATUSES = [
    s.value for s in TicketStatus if s not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
]


@dataclass(frozen=True)
class View:
    id: str
    name: str
    shared: bool
    built_in: bool
    filters: dict[str, Any]
    sort: str


BUILT_IN = [
    View("mine", "Mine", True, True, {"assignee": "me", "status": OPEN_STATUSES}, "due"),
    View(
        "team-unassigned",
        "My teams' unassigned",
        True,
        True,
        {"team": "mine", "assignee": "none", "status": OPEN_STATUSES},
        "due",
    ),
    View("breaching-soon", "Breaching soon", True, True, {"sla": "due_within:60"}, "due"),
]


def _of(row: SavedView) -> View:
    return View(str(row.id), row.name, row.owner_id is None, False, row.filters, row.sort)


def _visible(actor: Actor) -> Any:
    return or_(SavedView.owner_id.is_(None), SavedView.owner_id == actor.user_id)


async def list_views(session: AsyncSession, actor: Actor) -> list[View]:
    require_staff(actor, Scope.TICKETS_READ)
    rows = (
        await session.scalars(
            select(SavedView)
            .where(_visible(actor))
            .order_by(SavedView.id)
            .limit(2 * MAX_VIEWS_PER_USER)
        )
    ).all()
    return [*BUILT_IN, *(_of(r) for r in rows)]


async def get(session: AsyncSession, actor: Actor, view_id: str) -> View:
    require_staff(actor, Scope.TICKETS_READ)
    for view in BUILT_IN:
        if view.id == view_id:
            return view
    # An id no row can have (past the 32-bit column) is not sent to the database, where
    # PostgreSQL refuses it as an error (a 500), not as no row.
    if not view_id.isdigit() or len(view_id) > 10 or int(view_id) > MAX_ID:
        raise NotFound("No such view.")
    row = await session.scalar(
        select(SavedView).where(SavedView.id == int(view_id), _visible(actor))
    )
    if row is None:
        raise NotFound("No such view.")
    return _of(row)


async def create(
    session: AsyncSession, actor: Actor, name: str, filters: dict[str, Any], sort: str, shared: bool
) -> View:
    require_staff(actor, Scope.TICKETS_READ)
    if actor.user_id is None:
        raise Forbidden("API keys have no saved views.")
    if shared and actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators save shared views.")
    await to_filters(session, actor, filters)  # refuses what could not be read later
    owned = await session.scalar(
        select(func.count()).select_from(SavedView).where(SavedView.owner_id == actor.user_id)
    )
    if not shared and (owned or 0) >= MAX_VIEWS_PER_USER:
        raise InvalidInput(f"At most {MAX_VIEWS_PER_USER} views per user.", ["body"])
    row = SavedView(
        name=name, owner_id=None if shared else actor.user_id, filters=filters, sort=sort
    )
    session.add(row)
    await session.flush()
    return _of(row)


async def delete(session: AsyncSession, actor: Actor, view_id: str) -> None:
    view = await get(session, actor, view_id)
    if view.built_in:
        raise Forbidden("Built-in views cannot be deleted.")
    if view.shared and actor.role is not Role.ADMIN:
        raise Forbidden("Only administrators delete shared views.")
    row = await session.get(SavedView, int(view.id))
    await session.delete(row)
    await session.flush()


async def to_filters(
    session: AsyncSession, actor: Actor, f: dict[str, Any]
) -> ticket_service.Filters:
    """A view's stored filters as the ticket list's, with "me" and "mine" made the caller's."""
    filters = ticket_service.Filters(
        status=[TicketStatus(s) for s in f.get("status") or []],
        tags=list(f.get("tags") or []),
        tag_mode=ticket_service.TagMode(f.get("tag_mode") or "any"),
    )
    for name in ("type", "severity"):
        if f.get(name) is not None:
            setattr(filters, name, f[name])
    if f.get("customer_id") is not None:
        filters.customer_id = int(f["customer_id"])
    assignee = f.get("assignee")
    if assignee == "me":
        filters.assignee_id = actor.user_id if actor.user_id is not None else 0
    elif assignee == "none":
        filters.unassigned = True
    elif assignee is not None:
        filters.assignee_id = int(assignee)
    team = f.get("team")
    if team == "mine":
        filters.team_ids = await team_service.my_team_ids(session, actor.user_id)
    elif team is not None:
        filters.team_ids = [int(team)]
    if f.get("sla"):
        filters.sla = ticket_service.SlaFilter.parse(str(f["sla"]))
    return filters


async def page(
    session: AsyncSession, actor: Actor, view_id: str, *, limit: int, cursor: str | None
) -> tuple[list[ticket_service.Item], str | None, int]:
    view = await get(session, actor, view_id)
    try:
        filters = await to_filters(session, actor, view.filters)
        sort = ticket_service.Sort(view.sort)
    except ValueError:
        raise InvalidInput("The view's filters are no longer valid.", ["path", "view_id"]) from None
    rows, next_cursor = await ticket_service.list_page(
        session, actor, filters, sort=sort, limit=limit, cursor=cursor
    )
    total = await ticket_service.count(session, actor, filters)
    return rows, next_cursor, total
