"""Customers: the companies whose users open tickets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, CustomerOrder
from app.db.pagination import page_by_id
from app.db.session import flush_unique
from app.domain.access import Actor, Locale, Scope, require_scope, require_staff
from app.domain.errors import Conflict, NotFound
from app.domain.orders import OrderKind, OrderStatus


def normalise_code(code: str) -> str:
    return code.strip().upper()


async def create(
    session: AsyncSession,
    actor: Actor | None,
    *,
    code: str,
    name: str,
    email: str | None,
    phone: str | None,
    locale: Locale,
    plan: str | None,
) -> Customer:
    """Create a customer. ``actor`` None is the command line (demo data)."""
    if actor is not None:
        require_staff(actor, Scope.CUSTOMERS_WRITE)
    customer = Customer(
        code=normalise_code(code), name=name, email=email, phone=phone, locale=locale, plan=plan
    )
    await _ensure_code_free(session, customer.code)
    session.add(customer)
    await flush_unique(session, f"A customer with code {customer.code!r} already exists.")
    return customer


async def _ensure_code_free(
    session: AsyncSession, code: str, exclude_id: int | None = None
) -> None:
    stmt = select(Customer.id).where(Customer.code == code)
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    if await session.scalar(stmt) is not None:
        raise Conflict(f"A customer with code {code!r} already exists.")


async def get(session: AsyncSession, actor: Actor, customer_id: int) -> Customer:
    require_staff(actor, Scope.CUSTOMERS_READ)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    return customer


async def get_by_code(session: AsyncSession, code: str) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.code == normalise_code(code)))


async def list_page(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Customer], str | None]:
    require_staff(actor, Scope.CUSTOMERS_READ)
    stmt = select(Customer)
    if code is not None:
        stmt = stmt.where(Customer.code == normalise_code(code))
    return await page_by_id(session, stmt, Customer.id, limit=limit, cursor=cursor)


async def update(
    session: AsyncSession, actor: Actor, customer_id: int, changes: dict[str, Any]
) -> Customer:
    require_staff(actor, Scope.CUSTOMERS_WRITE)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    if "code" in changes:
        changes["code"] = normalise_code(changes["code"])
        await _ensure_code_free(session, changes["code"], exclude_id=customer.id)
    for field, value in changes.items():
        setattr(customer, field, value)
    await flush_unique(session, f"A customer with code {customer.code!r} already exists.")
    return customer


async def own_customer(session: AsyncSession, actor: Actor) -> tuple[Customer, dict[str, Any]]:
    """A customer user's company with its subscription profile (plan and orders summary)."""
    require_scope(actor, Scope.CUSTOMERS_READ)
    if actor.customer_id is None:
        raise NotFound("This account belongs to no customer.")
    customer = await session.get(Customer, actor.customer_id)
    if customer is None:
        raise NotFound("This account belongs to no customer.")
    rows = (
        await session.execute(
            select(CustomerOrder.kind, CustomerOrder.status, func.count())
            .where(CustomerOrder.customer_id == customer.id)
            .group_by(CustomerOrder.kind, CustomerOrder.status)
        )
    ).all()
    summary: dict[str, Any] = {
        "total": 0,
        "by_kind": {kind.value: 0 for kind in OrderKind},
        "by_status": {status.value: 0 for status in OrderStatus},
    }
    for kind, status, count in rows:
        summary["total"] += count
        summary["by_kind"][OrderKind(kind).value] += count
        summary["by_status"][OrderStatus(status).value] += count
    return customer, summary
