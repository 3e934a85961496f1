"""Orders and subscriptions of customers; tickets of type ``order`` point at one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, CustomerOrder
from app.db.pagination import page_by_id
from app.db.session import flush_unique
from app.domain.access import Actor, Scope, may_see_customer, require_scope, require_staff
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.orders import OrderKind, OrderStatus


async def create(
    session: AsyncSession,
    actor: Actor | None,
    *,
    customer_id: int,
    number: str,
    kind: OrderKind,
    description: str | None,
    status: OrderStatus,
) -> CustomerOrder:
    """Record an order. ``actor`` None is the command line (demo data)."""
    if actor is not None:
        require_staff(actor, Scope.ORDERS_WRITE)
    if await session.get(Customer, customer_id) is None:
        raise InvalidInput("No such customer.", ["body", "customer_id"])
    number = number.strip()
    if await session.scalar(select(CustomerOrder.id).where(CustomerOrder.number == number)):
        raise Conflict(f"An order numbered {number!r} already exists.")
    order = CustomerOrder(
        customer_id=customer_id, number=number, kind=kind, description=description, status=status
    )
    session.add(order)
    await flush_unique(session, f"An order numbered {number!r} already exists.")
    return order


async def get(session: AsyncSession, actor: Actor, order_id: int) -> CustomerOrder:
    require_scope(actor, Scope.ORDERS_READ)
    order = await session.get(CustomerOrder, order_id)
    if order is None or not may_see_customer(actor, order.customer_id):
        raise NotFound("No such order.")
    return order


async def list_page(
    session: AsyncSession,
    actor: Actor,
    *,
    customer_id: int | None,
    status: OrderStatus | None,
    kind: OrderKind | None,
    number: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CustomerOrder], str | None]:
    """Staff see every order; a customer user only their customer's, whatever they filter."""
    require_scope(actor, Scope.ORDERS_READ)
    stmt = select(CustomerOrder)
    if not actor.is_staff:
        stmt = stmt.where(CustomerOrder.customer_id == actor.customer_id)
    if customer_id is not None:
        stmt = stmt.where(CustomerOrder.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(CustomerOrder.status == status)
    if kind is not None:
        stmt = stmt.where(CustomerOrder.kind == kind)
    if number is not None:
        stmt = stmt.where(CustomerOrder.number == number.strip())
    return await page_by_id(session, stmt, CustomerOrder.id, limit=limit, cursor=cursor)


async def update(
    session: AsyncSession, actor: Actor, order_id: int, changes: dict[str, Any]
) -> CustomerOrder:
    require_staff(actor, Scope.ORDERS_WRITE)
    order = await session.get(CustomerOrder, order_id)
    if order is None:
        raise NotFound("No such order.")
    for field, value in changes.items():
        setattr(order, field, value)
    await session.flush()
    return order
