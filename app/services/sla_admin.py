"""Business calendars and SLA policies: admin CRUD (staff may read them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BusinessCalendar, SlaPolicy, Ticket, TicketSla
from app.domain import sla
from app.domain.access import Actor, Scope, require_admin, require_staff
from app.domain.errors import Conflict, InvalidInput, NotFound

MAX_ROWS = 500


def _check_calendar(fields: dict[str, Any]) -> None:
    try:
        week = tuple(tuple((int(s), int(e)) for s, e in day) for day in fields["week"])
        sla.Calendar(
            fields["tz"], week, frozenset(date.fromisoformat(d) for d in fields["holidays"])
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), ["body"]) from None


async def _unique(session: AsyncSession, what: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"A {what} with this name exists.") from None


async def list_calendars(session: AsyncSession, actor: Actor) -> list[BusinessCalendar]:
    require_staff(actor, Scope.TICKETS_READ)
    return list(
        (
            await session.scalars(
                select(BusinessCalendar).order_by(BusinessCalendar.id).limit(MAX_ROWS)
            )
        ).all()
    )


async def get_calendar(session: AsyncSession, actor: Actor, calendar_id: int) -> BusinessCalendar:
    require_staff(actor, Scope.TICKETS_READ)
    row = await session.get(BusinessCalendar, calendar_id)
    if row is None:
        raise NotFound("No such calendar.")
    return row


async def create_calendar(
    session: AsyncSession, actor: Actor, fields: dict[str, Any]
) -> BusinessCalendar:
    require_admin(actor)
    _check_calendar(fields)
    row = BusinessCalendar(**fields)
    session.add(row)
    await _unique(session, "calendar")
    return row


async def update_calendar(
    session: AsyncSession, actor: Actor, calendar_id: int, changes: dict[str, Any]
) -> BusinessCalendar:
    """Changes apply to clocks started or moved from now on; running due times stay."""
    require_admin(actor)
    row = await get_calendar(session, actor, calendar_id)
    merged = {"tz": row.tz, "week": row.week, "holidays": row.holidays, **changes}
    _check_calendar(merged)
    for name, value in changes.items():
        setattr(row, name, value)
    await _unique(session, "calendar")
    return row


async def delete_calendar(session: AsyncSession, actor: Actor, calendar_id: int) -> None:
    require_admin(actor)
    row = await get_calendar(session, actor, calendar_id)
    used = await session.scalar(select(func.count()).where(SlaPolicy.calendar_id == row.id))
    if used:
        raise Conflict("A policy uses this calendar.")
    await session.delete(row)
    await session.flush()


async def list_policies(session: AsyncSession, actor: Actor) -> list[SlaPolicy]:
    """In the order they are tried (position, then id)."""
    require_staff(actor, Scope.TICKETS_READ)
    return list(
        (
            await session.scalars(
                select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id).limit(MAX_ROWS)
            )
        ).all()
    )


async def get_policy(session: AsyncSession, actor: Actor, policy_id: int) -> SlaPolicy:
    require_staff(actor, Scope.TICKETS_READ)
    row = await session.get(SlaPolicy, policy_id)
    if row is None:
        raise NotFound("No such SLA policy.")
    return row


async def _check_policy(session: AsyncSession, fields: dict[str, Any]) -> None:
    calendar_id = fields.get("calendar_id")
    if calendar_id is not None and await session.get(BusinessCalendar, calendar_id) is None:
        raise InvalidInput("No such calendar.", ["body", "calendar_id"])


async def create_policy(session: AsyncSession, actor: Actor, fields: dict[str, Any]) -> SlaPolicy:
    """A new policy applies to tickets opened from now on."""
    require_admin(actor)
    await _check_policy(session, fields)
    row = SlaPolicy(**fields)
    session.add(row)
    await _unique(session, "policy")
    return row


async def update_policy(
    session: AsyncSession, actor: Actor, policy_id: int, changes: dict[str, Any]
) -> SlaPolicy:
    require_admin(actor)
    row = await get_policy(session, actor, policy_id)
    await _check_policy(session, changes)
    for name, value in changes.items():
        setattr(row, name, value)
    await _unique(session, "policy")
    return row


async def delete_policy(session: AsyncSession, actor: Actor, policy_id: int) -> None:
    """Its tickets keep their recorded clocks (their policy becomes null)."""
    require_admin(actor)
    row = await get_policy(session, actor, policy_id)
    await session.delete(row)
    await session.flush()


async def ticket_clocks(
    session: AsyncSession, ticket: Ticket
) -> tuple[SlaPolicy | None, list[TicketSla]]:
    """The ticket's policy and the latest cycle of each of its targets."""
    if ticket.sla_policy_id is None:
        return None, []
    policy = await session.get(SlaPolicy, ticket.sla_policy_id)
    rows = (
        await session.scalars(
            select(TicketSla).where(TicketSla.ticket_id == ticket.id).order_by(TicketSla.cycle)
        )
    ).all()
    latest: dict[str, TicketSla] = {}
    for row in rows:
        latest[row.target.value] = row
    order = [t.value for t in sla.SlaTarget]
    return policy, sorted(latest.values(), key=lambda r: order.index(r.target.value))
