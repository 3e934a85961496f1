"""Tickets: open, follow up, move, assign and edit, list and search, the automatic moves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import fulltext
from app.db.base import utcnow
from app.db.models import (
    Category,
    Customer,
    CustomerOrder,
    IdempotencyKey,
    Ticket,
    TicketCounter,
    TicketEvent,
    User,
)
from app.db.pagination import MAX_ID, decode_cursor, encode_cursor
from app.domain.access import Actor, Role, Scope, require_scope, require_staff
from app.domain.errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from app.domain.events import StatusChanged, TicketAssigned, TicketOpened
from app.domain.tickets import (
    LACK_OF_RESPONSE,
    ContactChannel,
    Mover,
    Severity,
    TicketState,
    TicketStatus,
    TicketType,
    allowed_moves,
    can_follow_up,
    mover_of,
    transition,
)
from app.services import attachments as attachment_service
from app.services import timeline
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


def etag(ticket: Ticket) -> str:
    return f'"{ticket.id}-{ticket.version}"'


def check_if_match(ticket: Ticket, if_match: str | None) -> None:
    """``If-Match``: the change applies only to the version the client saw (else 412)."""
    if if_match is None:
        return
    candidates = [part.strip() for part in if_match.split(",")]
    if "*" in candidates:
        return
    current = etag(ticket)
    if current not in candidates and f"W/{current}" not in candidates:
        raise PreconditionFailed(
            "The ticket has changed since you read it; reload it and try again."
        )


def allowed_for(ticket: Ticket, actor: Actor) -> list[TicketStatus]:
    """The moves the caller may make now (none for an API key that may not write tickets)."""
    if actor.scopes is not None and Scope.TICKETS_WRITE not in actor.scopes:
        return []
    return allowed_moves(ticket.status, mover_of(actor))


# --- opening -------------------------------------------------------------------------------


async def _next_number(session: AsyncSession, now: datetime) -> str:
    """``T-YYYY-NNNNNN``, from one atomic upsert of the year's counter.

    The counter row stays locked until the creation commits, so numbers have no
    gaps and never repeat; concurrent openings queue on that row for the rest of
    their (short) transaction. A separate transaction for the counter would cut
    the wait but needs a second connection per request, which can starve the
    pool under load: measured in bench/RESULTS.md, the wait is not the bottleneck.
    """
    dialect = fulltext.dialect_of(session)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(TicketCounter)
        .values(year=now.year, value=1)
        .on_conflict_do_update(
            index_elements=[TicketCounter.year], set_={"value": TicketCounter.value + 1}
        )
        .returning(TicketCounter.value)
    )
    value = (await session.execute(stmt)).scalar_one()
    return f"T-{now.year}-{value:06d}"


async def _resolve_customer(session: AsyncSession, actor: Actor, code: str) -> Customer:
    customer = await session.scalar(select(Customer).where(Customer.code == code.strip().upper()))
    # The same answer for "no such code" and "not your code": codes are not enumerable.
    if customer is None or (not actor.is_staff and customer.id != actor.customer_id):
        raise InvalidInput("Unknown customer code.", ["body", "customer_code"])
    return customer


async def _check_category(
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


def _owner(actor: Actor) -> str:
    return f"k:{actor.api_key_id}" if actor.api_key_id is not None else f"u:{actor.user_id}"


def request_hash(payload: dict[str, Any]) -> str:
    import json

    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _replay(session: AsyncSession, actor: Actor, key: str, body_hash: str) -> Ticket | None:
    row = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.owner == _owner(actor), IdempotencyKey.key == key
        )
    )
    if row is None:
        return None
    if row.request_hash != body_hash:
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
    PostgreSQL: the second waits on the key's unique index, its savepoint rolls
    back (no ticket, no number, no mail), and it answers with the first ticket.
    The files of ``uploads`` are stored with the ticket, in the same savepoint.
    """
    require_scope(actor, Scope.TICKETS_WRITE)
    if idempotency_key is not None:
        first = await _replay(session, actor, idempotency_key, body_hash)
        if first is not None:
            return first, False
    try:
        async with session.begin_nested():
            ticket = await _create(session, actor, data, parent, uploads)
            if idempotency_key is not None:
                session.add(
                    IdempotencyKey(
                        owner=_owner(actor),
                        key=idempotency_key,
                        request_hash=body_hash,
                        ticket_id=ticket.id,
                    )
                )
                await session.flush()
    except IntegrityError:
        if idempotency_key is None:
            raise
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
    customer = await _resolve_customer(session, actor, data.customer_code)
    if parent is not None and parent.customer_id != customer.id:
        raise InvalidInput(
            "A follow-up belongs to the customer of its ticket.", ["body", "customer_code"]
        )
    await _check_category(session, data.category_id, data.type)
    await _check_order(session, data.order_id, data.type, customer)
    contact = await _fill_contact(session, actor, customer, data.contact)
    now = utcnow()
    ticket = Ticket(
        number=await _next_number(session, now),
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
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    ticket.customer = customer
    session.add(ticket)
    await session.flush()
    await fulltext.index_ticket_text(session, ticket.id, ticket.subject, ticket.description)
    await timeline.record(
        session, TicketOpened(ticket_id=ticket.id, actor=timeline.event_actor(actor))
    )
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


# --- changes -------------------------------------------------------------------------------


def apply_move(
    ticket: Ticket,
    to: TicketStatus,
    mover: Mover,
    now: datetime,
    solution: str | None = None,
) -> TicketStatus:
    """Run the state machine on the row; returns the status it left."""
    new = transition(state_of(ticket), to, mover, now, solution)
    return set_state(ticket, new, now)


def state_of(ticket: Ticket) -> TicketState:
    return TicketState(ticket.status, ticket.solution, ticket.resolved_at, ticket.closed_at)


def set_state(ticket: Ticket, new: TicketState, now: datetime) -> TicketStatus:
    """Write a state the domain computed onto the row; returns the status it left."""
    previous = ticket.status
    ticket.status = new.status
    ticket.solution = new.solution
    ticket.resolved_at = new.resolved_at
    ticket.closed_at = new.closed_at
    ticket.status_changed_at = now
    ticket.updated_at = now
    return previous


async def change_status(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    to: TicketStatus,
    solution: str | None,
    note: str | None,
    if_match: str | None = None,
) -> Ticket:
    """Move a ticket for the caller, per the table of moves (409 with ``allowed`` otherwise).

    The row is locked first, so two agents resolving one ticket take turns and
    the second sees the first's result (and gets a 409 if its move no longer applies).
    """
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    check_if_match(ticket, if_match)
    mover = mover_of(actor)
    solution_changed = to is TicketStatus.RESOLVED
    previous = apply_move(ticket, to, mover, utcnow(), solution)
    # Taking a ticket in charge makes the agent its assignee, unless someone already is.
    assign = (
        to is TicketStatus.IN_PROGRESS
        and ticket.assignee_id is None
        and actor.is_staff
        and actor.user_id is not None
    )
    if assign:
        ticket.assignee_id = actor.user_id
    await session.flush()
    if solution_changed:
        await fulltext.index_ticket(session, ticket.id)
    who = timeline.event_actor(actor)
    await timeline.record(
        session,
        StatusChanged(
            ticket_id=ticket.id, from_status=previous, to_status=ticket.status, actor=who, note=note
        ),
    )
    if assign:
        await timeline.record(
            session, TicketAssigned(ticket_id=ticket.id, assignee_id=actor.user_id, actor=who)
        )
    return ticket


async def update(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    changes: dict[str, Any],
    *,
    if_match: str | None = None,
) -> Ticket:
    """Staff edit category, severity, assignee and subject (never the status).

    The ticket is loaded before the role is checked: another customer's ticket is a
    404 for a customer user, like every other endpoint under it, and never a 403.
    """
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    require_staff(actor, Scope.TICKETS_WRITE)
    check_if_match(ticket, if_match)
    if "category_id" in changes:
        await _check_category(session, changes["category_id"], ticket.type)
    assignee_changed = "assignee_id" in changes and changes["assignee_id"] != ticket.assignee_id
    if assignee_changed and changes["assignee_id"] is not None:
        assignee = await session.get(User, changes["assignee_id"])
        if assignee is None or assignee.role is Role.CUSTOMER or not assignee.is_active:
            raise InvalidInput("The assignee must be an active agent.", ["body", "assignee_id"])
    for name, value in changes.items():
        setattr(ticket, name, value)
    if changes:
        ticket.updated_at = utcnow()
    await session.flush()
    if "subject" in changes:
        await fulltext.index_ticket(session, ticket.id)
    if assignee_changed:
        await timeline.record(
            session,
            TicketAssigned(
                ticket_id=ticket.id,
                assignee_id=ticket.assignee_id,
                actor=timeline.event_actor(actor),
            ),
        )
    return ticket


async def get(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    return await load_ticket(session, actor, ticket_id)


async def events(session: AsyncSession, actor: Actor, ticket_id: int) -> list[TicketEvent]:
    """The timeline, oldest first; customers do not see what concerns internal notes."""
    ticket = await load_ticket(session, actor, ticket_id)
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if not actor.is_staff:
        stmt = stmt.where(TicketEvent.internal.is_(False))
    return list((await session.scalars(stmt.order_by(TicketEvent.id))).all())


# --- listing -------------------------------------------------------------------------------


class Sort(StrEnum):
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    UPDATED = "updated_at"
    UPDATED_DESC = "-updated_at"
    SEVERITY = "severity"


@dataclass
class Filters:
    status: list[TicketStatus] = field(default_factory=list)
    type: TicketType | None = None
    category_id: int | None = None
    severity: Severity | None = None
    order_id: int | None = None
    customer_id: int | None = None
    assignee_id: int | None = None
    requester_id: int | None = None
    q: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None


def _filter_clauses(dialect: str, f: Filters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if f.status:
        clauses.append(Ticket.status.in_(f.status))
    if f.type is not None:
        clauses.append(Ticket.type == f.type)
    if f.category_id is not None:
        family = select(Category.id).where(
            or_(Category.id == f.category_id, Category.parent_id == f.category_id)
        )
        clauses.append(Ticket.category_id.in_(family))
    for column, value in (
        (Ticket.severity, f.severity),
        (Ticket.order_id, f.order_id),
        (Ticket.customer_id, f.customer_id),
        (Ticket.assignee_id, f.assignee_id),
        (Ticket.requester_id, f.requester_id),
    ):
        if value is not None:
            clauses.append(column == value)
    if f.created_after is not None:
        clauses.append(Ticket.created_at >= f.created_after)
    if f.created_before is not None:
        clauses.append(Ticket.created_at < f.created_before)
    if f.updated_after is not None:
        clauses.append(Ticket.updated_at >= f.updated_after)
    if f.q is not None:
        groups = fulltext.query_groups(f.q)
        if not groups:
            raise InvalidInput("The search finds no words to look for.", ["query", "q"])
        ids = fulltext.matching_ids(dialect, "ticket_fts", "ticket_id", groups)
        clauses.append(Ticket.id.in_(ids))
    return clauses


def _sort_key(ticket: Ticket, sort: Sort) -> list[Any]:
    if sort in (Sort.UPDATED, Sort.UPDATED_DESC):
        return [sort.value, ticket.updated_at.isoformat(), ticket.id]
    if sort is Sort.SEVERITY:
        return [sort.value, ticket.severity.value, ticket.created_at.isoformat(), ticket.id]
    return [sort.value, ticket.created_at.isoformat(), ticket.id]


def _after(sort: Sort, key: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor's key, in the order of ``sort`` (not ``severity``).

    The key came from a client: every part is checked, so a forged cursor is a 400,
    never a value the database refuses (a 500).
    """
    try:
        if len(key) != 3 or key[0] != sort.value:
            raise ValueError
        at = _cursor_time(key[1])
        last_id = _cursor_id(key[2])
    except (ValueError, TypeError, OverflowError):
        raise BadRequest("The cursor is not valid for this sort.") from None
    column = Ticket.updated_at if sort in (Sort.UPDATED, Sort.UPDATED_DESC) else Ticket.created_at
    if sort.value.startswith("-"):
        return tuple_(column, Ticket.id) < tuple_(_at(at), last_id)
    return tuple_(column, Ticket.id) > tuple_(_at(at), last_id)


def _severity_cursor(key: list[Any]) -> tuple[Severity, datetime, int]:
    try:
        if len(key) != 4 or key[0] != Sort.SEVERITY.value:
            raise ValueError
        return Severity(key[1]), _cursor_time(key[2]), _cursor_id(key[3])
    except (ValueError, TypeError, OverflowError):
        raise BadRequest("The cursor is not valid for this sort.") from None


def _cursor_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError
    return at.astimezone(UTC)


def _cursor_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise ValueError
    return value


def _at(value: datetime) -> Any:
    from sqlalchemy import literal

    from app.db.base import UTCDateTime

    return literal(value, UTCDateTime())


def _order(sort: Sort) -> list[Any]:
    if sort is Sort.CREATED:
        return [Ticket.created_at.asc(), Ticket.id.asc()]
    if sort is Sort.UPDATED:
        return [Ticket.updated_at.asc(), Ticket.id.asc()]
    if sort is Sort.UPDATED_DESC:
        return [Ticket.updated_at.desc(), Ticket.id.desc()]
    return [Ticket.created_at.desc(), Ticket.id.desc()]


# "blocking" sorts before "normal": the urgent first.
SEVERITY_ORDER = sorted(Severity, key=lambda s: s.value)


async def _page_by_severity(
    session: AsyncSession, stmt: Select[Ticket], n: int, key: list[Any] | None
) -> list[Ticket]:
    """Up to ``n`` rows by severity, newest first within each: one index range per severity.

    A single ``ORDER BY severity, created_at DESC`` mixes directions, which the
    (severity, created_at, id) index cannot serve: PostgreSQL would read and sort every
    ticket for every page. Severity by severity, the order is one backward scan of it.
    """
    start = _severity_cursor(key) if key is not None else None
    rows: list[Ticket] = []
    for severity in SEVERITY_ORDER:
        part = stmt.where(Ticket.severity == severity)
        if start is not None:
            if SEVERITY_ORDER.index(severity) < SEVERITY_ORDER.index(start[0]):
                continue
            if severity is start[0]:
                part = part.where(
                    tuple_(Ticket.created_at, Ticket.id) < tuple_(_at(start[1]), start[2])
                )
        part = part.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(n - len(rows))
        rows.extend((await session.scalars(part)).all())
        if len(rows) >= n:
            break
    return rows


async def list_page(
    session: AsyncSession,
    actor: Actor,
    filters: Filters,
    *,
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> tuple[list[Ticket], str | None]:
    """A page of the tickets the caller may see, filtered, in a stable keyset order."""
    require_scope(actor, Scope.TICKETS_READ)
    dialect = fulltext.dialect_of(session)
    stmt = ticket_query(actor)
    for clause in _filter_clauses(dialect, filters):
        stmt = stmt.where(clause)
    key = decode_cursor(cursor) if cursor is not None else None
    if sort is Sort.SEVERITY:
        rows = await _page_by_severity(session, stmt, limit + 1, key)
    else:
        if key is not None:
            stmt = stmt.where(_after(sort, key))
        rows = list((await session.scalars(stmt.order_by(*_order(sort)).limit(limit + 1))).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(_sort_key(rows[-1], sort))
    return rows, None


# --- automatic moves -----------------------------------------------------------------------


async def automatic_moves(session: AsyncSession, settings: Settings, *, batch: int = 200) -> int:
    """Resolve tickets left waiting for the customer, close tickets left resolved.

    Run by the worker. Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL,
    so several workers share the work and never move one ticket twice; SQLite
    runs one writer at a time anyway.
    """
    now = utcnow()
    moved = 0
    plans = (
        (
            TicketStatus.WAITING_CUSTOMER,
            TicketStatus.RESOLVED,
            Ticket.status_changed_at <= now - timedelta(days=settings.waiting_timeout_days),
        ),
        (
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
            Ticket.resolved_at <= now - timedelta(days=settings.auto_close_days),
        ),
    )
    for frm, to, due in plans:
        rows = (
            await session.execute(
                select(Ticket, Customer.locale)
                .join(Customer, Customer.id == Ticket.customer_id)
                .where(Ticket.status == frm, due)
                .order_by(Ticket.id)
                .limit(batch)
                .with_for_update(of=Ticket, skip_locked=True)
            )
        ).all()
        for ticket, locale in rows:
            solution = None
            if to is TicketStatus.RESOLVED:
                solution = LACK_OF_RESPONSE.get(str(locale), LACK_OF_RESPONSE["en"])
            previous = apply_move(ticket, to, Mover.SYSTEM, now, solution)
            await session.flush()
            if solution is not None:
                await fulltext.index_ticket(session, ticket.id)
            await timeline.record(
                session,
                StatusChanged(
                    ticket_id=ticket.id,
                    from_status=previous,
                    to_status=to,
                    actor=None,
                    note=None,
                ),
            )
            moved += 1
    return moved


IDEMPOTENCY_RETENTION = timedelta(days=30)


async def purge_idempotency_keys(session: AsyncSession, settings: Settings) -> int:
    """Forget Idempotency-Keys after 30 days (a periodic job): retries come within minutes."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
