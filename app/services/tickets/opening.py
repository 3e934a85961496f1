"""Opening tickets and follow-ups: numbering, the checks of a new ticket, idempotent creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.base import utcnow
from app.db.models import (
    Category,
    Customer,
    CustomerOrder,
    Ticket,
    TicketCounter,
    User,
)
from app.db.session import take_turns
from app.domain.access import Actor, Scope, require_scope
from app.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from app.domain.events import TicketOpened
from app.domain.inbound import channel_of
from app.domain.tickets import (
    ContactChannel,
    Severity,
    TicketStatus,
    TicketType,
    can_follow_up,
)
from app.services import attachments as attachment_service
from app.services import idempotency, probes, timeline
from app.services import tags as tag_service
from app.services.visibility import load_ticket, ticket_query


@dataclass
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_channel: ContactChannel | None = None


@dataclass
class NewTicket:
    customer_code: str
    type: TicketType
    subject: str
    description: str
    category_id: int | None = None
    order_id: int | None = None
    severity: Severity = Severity.NORMAL
    contact: Contact = field(default_factory=Contact)
    tags: list[str] = field(default_factory=list)


@dataclass
class FollowUp:
    """A follow-up's request: what is None (or not given) is taken from the followed ticket."""

    subject: str
    description: str
    customer_code: str | None = None
    type: TicketType | None = None
    category_id: int | None = None
    category_given: bool = False
    order_id: int | None = None
    severity: Severity = Severity.NORMAL
    contact: Contact = field(default_factory=Contact)


# --- opening -------------------------------------------------------------------------------


async def _next_number(session: AsyncSession, now: datetime) -> str:
    """``T-YYYY-NNNNNN``: unique and increasing within a year, gaps allowed.

    PostgreSQL: ``nextval`` of the year's sequence (migration 0011), which holds no lock
    until commit, so concurrent openings do not queue on a counter row; an opening that
    rolls back leaves a gap. There it is taken with the customer (:func:`_resolve_customer`),
    and this is not called. SQLite, where writers are serialised anyway: one atomic upsert
    of the year's counter row.
    """
    stmt = (
        sqlite.insert(TicketCounter)
        .values(year=now.year, value=1)
        .on_conflict_do_update(
            index_elements=[TicketCounter.year], set_={"value": TicketCounter.value + 1}
        )
        .returning(TicketCounter.value)
    )
    value = (await session.execute(stmt)).scalar_one()
    return _number(now, value)


def _number(now: datetime, value: int) -> str:
    return f"T-{now.year}-{value:06d}"


@lru_cache(maxsize=4)
def _customer_statement(staff: bool, postgresql: bool) -> Select[Any]:
    """:func:`_resolve_customer`'s statement, built once per kind of caller and database
    (the values are bound): building it and its cache key costs about as much as running it.
    """
    extra: list[ColumnElement[Any]] = probes.columns("hooks", "routing", "sla")
    if postgresql:
        extra.append(func.sportello_next_ticket_number(bindparam("year")).label("number"))
    stmt = select(Customer, *extra).where(Customer.code == bindparam("code"))
    if not staff:
        # The same answer for "no such code" and "not your code": codes are not enumerable.
        stmt = stmt.where(Customer.id == bindparam("customer_id"))
    return stmt


async def _resolve_customer(
    session: AsyncSession, actor: Actor, code: str, now: datetime
) -> tuple[Customer, str | None]:
    """The customer the caller may open a ticket for, and (PostgreSQL) the ticket's number.

    One round trip: the customer, the number (``nextval``, only if a customer the caller
    may use is found: an unknown code takes none), and whether the desk has webhooks,
    routing rules and SLA policies at all (``services/probes.py``: the subscribers skip
    their reads when there are none).
    """
    postgresql = fulltext.dialect_of(session) == "postgresql"
    params: dict[str, object] = {"code": code.strip().upper()}
    if postgresql:
        params["year"] = now.year
    if not actor.is_staff:
        params["customer_id"] = actor.customer_id
    row = (await session.execute(_customer_statement(actor.is_staff, postgresql), params)).first()
    if row is None:
        raise InvalidInput("Unknown customer code.", ["body", "customer_code"])
    probes.keep(session, row)
    return row[0], _number(now, row.number) if postgresql else None


async def check_category(
    session: AsyncSession, category_id: int | None, ticket_type: TicketType
) -> None:
    if category_id is None:
        return
    category = await session.get(Category, category_id)
    if category is None or category.type is not ticket_type:
        raise InvalidInput(
            f"The category is not one of the {ticket_type.value} categories.",
            ["body", "category_id"],
        )


async def _check_order(
    session: AsyncSession, order_id: int | None, ticket_type: TicketType, customer: Customer
) -> None:
    if order_id is None:
        if ticket_type is TicketType.ORDER:
            raise InvalidInput("An order ticket needs the order it concerns.", ["body", "order_id"])
        return
    order = await session.get(CustomerOrder, order_id)
    if order is None or order.customer_id != customer.id:
        raise InvalidInput("No such order for this customer.", ["body", "order_id"])


async def _fill_contact(
    session: AsyncSession, actor: Actor, customer: Customer, given: Contact
) -> Contact:
    """Omitted parts of the contact come from the caller's profile (an API key: the customer)."""
    if actor.user_id is not None:
        user = await session.get(User, actor.user_id)
        assert user is not None
        name: str | None = user.name
        phone: str | None = user.phone
        email: str | None = user.email
    else:
        name, phone, email = customer.name, customer.phone, customer.email
    contact = Contact(
        name=given.name or name,
        phone=given.phone or phone,
        email=given.email or email,
        preferred_channel=given.preferred_channel or ContactChannel.EMAIL,
    )
    if contact.preferred_channel is ContactChannel.PHONE and not contact.phone:
        raise InvalidInput("A phone number is needed to be called back.", ["body", "contact"])
    if not contact.email and not contact.phone:
        raise InvalidInput("Give an e-mail address or a phone number.", ["body", "contact"])
    return contact


request_hash = idempotency.request_hash


async def _replay(session: AsyncSession, actor: Actor, key: str, body_hash: str) -> Ticket | None:
    row = await idempotency.find(session, actor, key, body_hash)
    if row is None:
        return None
    if row.ticket_id is None:
        raise InvalidInput(
            "This Idempotency-Key was used with another request body.",
            ["header", "Idempotency-Key"],
        )
    # Not load_ticket: a key allowed to create (tickets:write) gets its retry answered like
    # its first request, even without tickets:read.
    first = await session.scalar(ticket_query(actor).where(Ticket.id == row.ticket_id))
    if first is None:
        raise NotFound("No such ticket.")
    return first


async def open_ticket(
    session: AsyncSession,
    actor: Actor,
    data: NewTicket,
    *,
    parent: Ticket | None = None,
    idempotency_key: str | None = None,
    body_hash: str = "",
    uploads: attachment_service.Uploads | None = None,
) -> tuple[Ticket, bool]:
    """Open a ticket (or a follow-up of ``parent``); returns it and whether it is new.

    With an ``Idempotency-Key``, a repeat of the same request returns the first
    ticket and creates nothing. Two identical requests racing each other on
    PostgreSQL: the second waits on a transaction-scoped advisory lock of the key
    until the first commits, then answers with the first ticket (no ticket, no
    number, no mail). Should a race still reach the key's unique index, the
    savepoint rolls back and the answer is the same. The files of ``uploads`` are
    stored with the ticket, in the same savepoint.
    """
    require_scope(actor, Scope.TICKETS_WRITE)
    if idempotency_key is not None:
        # Requests racing with one key take turns from here (until commit), so the ones that
        # lose find the first ticket below, and take no number: a number comes from a
        # sequence, which a rollback would not give back.
        await take_turns(
            session, f"sportello.idempotency:{idempotency.owner(actor)}:{idempotency_key}"
        )
        first = await _replay(session, actor, idempotency_key, body_hash)
        if first is not None:
            return first, False
    if idempotency_key is None:
        # No savepoint: nothing to recover from here, a failure rolls the request back.
        return await _create(session, actor, data, parent, uploads), True
    try:
        async with session.begin_nested():
            ticket = await _create(session, actor, data, parent, uploads)
            idempotency.remember_ticket(session, actor, idempotency_key, body_hash, ticket.id)
            await session.flush()
    except IntegrityError:
        first = await _replay(session, actor, idempotency_key, body_hash)
        if first is None:
            raise
        return first, False
    return ticket, True


async def _create(
    session: AsyncSession,
    actor: Actor,
    data: NewTicket,
    parent: Ticket | None,
    uploads: attachment_service.Uploads | None = None,
) -> Ticket:
    if data.tags and not actor.is_staff:
        raise Forbidden("Tags are for the support staff.")
    now = utcnow()
    customer, number = await _resolve_customer(session, actor, data.customer_code, now)
    if parent is not None and parent.customer_id != customer.id:
        raise InvalidInput(
            "A follow-up belongs to the customer of its ticket.", ["body", "customer_code"]
        )
    await check_category(session, data.category_id, data.type)
    await _check_order(session, data.order_id, data.type, customer)
    contact = await _fill_contact(session, actor, customer, data.contact)
    who = timeline.event_actor(actor)
    ticket = Ticket(
        number=number or await _next_number(session, now),
        customer_id=customer.id,
        requester_id=actor.user_id,
        type=data.type,
        category_id=data.category_id,
        order_id=data.order_id,
        subject=data.subject,
        description=data.description,
        severity=data.severity,
        status=TicketStatus.OPEN,
        parent_id=parent.id if parent else None,
        contact_name=contact.name,
        contact_phone=contact.phone,
        contact_email=contact.email,
        contact_channel=contact.preferred_channel,
        channel=channel_of(actor),
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        has_attachments=bool(uploads is not None and uploads.files),
        # The opening is the ticket's first public activity: written with the row, not
        # by an UPDATE from the timeline (see timeline.record's ``public_written``).
        last_public_at=now,
        last_public_actor_id=who.user_id if who else None,
        last_public_actor_name=who.name if who else None,
    )
    ticket.customer = customer
    session.add(ticket)
    await session.flush()
    await fulltext.index_ticket_text(
        session, ticket.id, ticket.subject, ticket.description, new=True
    )
    # Tags first, so routing rules see them; their events follow the opening's.
    tagged = await tag_service.attach(session, ticket, data.tags)
    await timeline.record(
        session,
        TicketOpened(ticket_id=ticket.id, actor=who, channel=ticket.channel.value),
        public_written=True,
    )
    await tag_service.record(session, actor, ticket, tagged)
    await attachment_service.attach(session, actor, ticket, uploads)
    return ticket


async def follow_up(
    session: AsyncSession,
    actor: Actor,
    parent_id: int,
    data: FollowUp,
    *,
    idempotency_key: str | None = None,
    body_hash: str = "",
    uploads: attachment_service.Uploads | None = None,
) -> tuple[Ticket, bool]:
    """A new ticket continuing a resolved or closed one (409 for a ticket still in work).

    Customer code and type default from the followed ticket, and so does the
    category while the type stays the same. A key without ``tickets:write`` is refused
    before the followed ticket's state is looked at.
    """
    require_scope(actor, Scope.TICKETS_WRITE)
    parent = await load_ticket(session, actor, parent_id)
    if not can_follow_up(parent.status):
        raise Conflict("Only a resolved or closed ticket can be followed up; reply to it instead.")
    ticket_type = data.type or parent.type
    category_id = data.category_id
    if not data.category_given and ticket_type is parent.type:
        category_id = parent.category_id
    order_id = data.order_id
    if order_id is None and ticket_type is TicketType.ORDER and parent.type is TicketType.ORDER:
        order_id = parent.order_id
    new = NewTicket(
        customer_code=data.customer_code or parent.customer.code,
        type=ticket_type,
        subject=data.subject,
        description=data.description,
        category_id=category_id,
        order_id=order_id,
        severity=data.severity,
        contact=data.contact,
    )
    return await open_ticket(
        session,
        actor,
        new,
        parent=parent,
        idempotency_key=idempotency_key,
        body_hash=body_hash,
        uploads=uploads,
    )
