"""The addresses of the e-mail channel: customers' mail domains and tickets' CC lists."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import Customer, CustomerMailDomain, TicketCc
from app.domain.access import Actor, Scope, require_staff
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.inbound import MAX_CC, MAX_DOMAINS, domain_of, normalise_address, valid_domain
from app.services.visibility import load_ticket


async def customer_domains(session: AsyncSession, actor: Actor, customer_id: int) -> list[str]:
    require_staff(actor, Scope.CUSTOMERS_READ)
    if await session.get(Customer, customer_id) is None:
        raise NotFound("No such customer.")
    rows = await session.scalars(
        select(CustomerMailDomain.domain)
        .where(CustomerMailDomain.customer_id == customer_id)
        .order_by(CustomerMailDomain.domain)
    )
    return list(rows.all())


async def set_customer_domains(
    session: AsyncSession, actor: Actor, customer_id: int, domains: list[str]
) -> list[str]:
    """Replace a customer's mail domains; a domain belongs to one customer only (409)."""
    require_staff(actor, Scope.CUSTOMERS_WRITE)
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id).with_for_update()
    )
    if customer is None:
        raise NotFound("No such customer.")
    wanted: list[str] = []
    for i, value in enumerate(domains[:MAX_DOMAINS]):
        domain = valid_domain(value)
        if domain is None:
            raise InvalidInput(f"{value!r} is not a mail domain.", ["body", "domains", i])
        wanted.append(domain)
    wanted = sorted(set(wanted))
    if wanted:
        taken = await session.scalar(
            select(CustomerMailDomain.domain).where(
                CustomerMailDomain.domain.in_(wanted),
                CustomerMailDomain.customer_id != customer_id,
            )
        )
        if taken is not None:
            raise Conflict(f"The domain {taken!r} belongs to another customer.")
    await session.execute(
        delete(CustomerMailDomain).where(CustomerMailDomain.customer_id == customer_id)
    )
    session.add_all(CustomerMailDomain(customer_id=customer_id, domain=d) for d in wanted)
    await session.flush()
    return wanted


async def ticket_cc(session: AsyncSession, actor: Actor, ticket_id: int) -> list[str]:
    ticket = await load_ticket(session, actor, ticket_id)
    rows = await session.scalars(
        select(TicketCc.email).where(TicketCc.ticket_id == ticket.id).order_by(TicketCc.id)
    )
    return list(rows.all())


async def set_ticket_cc(
    session: AsyncSession, actor: Actor, ticket_id: int, emails: list[str]
) -> list[str]:
    """Replace a ticket's CC list (staff, or the ticket's customer). Customers may only add
    addresses within their customer's mail domains, so a CC cannot send our mail anywhere."""
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    wanted = list(dict.fromkeys(normalise_address(e) for e in emails))[:MAX_CC]
    if not actor.is_staff:
        domains = set(
            (
                await session.scalars(
                    select(CustomerMailDomain.domain).where(
                        CustomerMailDomain.customer_id == ticket.customer_id
                    )
                )
            ).all()
        )
        for i, email in enumerate(wanted):
            if domain_of(email) not in domains:
                raise InvalidInput(
                    f"{email!r} is not within your company's mail domains.", ["body", "emails", i]
                )
    await session.execute(delete(TicketCc).where(TicketCc.ticket_id == ticket.id))
    now = utcnow()
    session.add_all(TicketCc(ticket_id=ticket.id, email=e, created_at=now) for e in wanted)
    await session.flush()
    return wanted
