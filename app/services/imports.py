"""Bulk import of tickets from another help desk: many tickets per call, in a few statements.

A migration brings tickets as they were: their replies, their history's times, their status
and solution. Nothing is "happening" to them now, so the timeline's subscribers are not
called (no mail to customers, no webhook flood); their timeline gets a ``created`` event and
one ``replied`` event per reply, at their historical times, written directly. A ticket is
known by its ``external_id`` (unique): importing it again answers ``already_imported``, so a
migration that stopped half-way is simply run again.

Cost: a fixed number of statements per request whatever its size (the references are read
once each, the rows are inserted with one multi-row INSERT per table), so 1,000 tickets take
about as many round trips as one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.base import Base, utcnow
from app.db.models import (
    Category,
    Customer,
    CustomerOrder,
    Reply,
    Ticket,
    TicketCounter,
    TicketImport,
    User,
)
from app.domain.access import Actor, Role, Scope
from app.domain.errors import Conflict, Forbidden
from app.domain.tickets import (
    ContactChannel,
    Severity,
    TicketStatus,
    TicketType,
    Visibility,
)

MAX_TICKETS = 1000


class Result(StrEnum):
    CREATED = "created"
    ALREADY_IMPORTED = "already_imported"
    REFUSED = "refused"


@dataclass
class ImportedReply:
    body: str
    visibility: Visibility
    author_name: str
    author_role: str
    created_at: datetime


@dataclass
class ImportedTicket:
    external_id: str
    customer_code: str
    type: TicketType
    subject: str
    description: str
    created_at: datetime
    status: TicketStatus = TicketStatus.OPEN
    severity: Severity = Severity.NORMAL
    category_id: int | None = None
    order_id: int | None = None
    solution: str | None = None
    assignee_id: int | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    contact_channel: ContactChannel = ContactChannel.EMAIL
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    replies: list[ImportedReply] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    external_id: str
    result: Result
    ticket_id: int | None = None
    number: str | None = None
    reason: str | None = None


def require_importer(actor: Actor) -> None:
    """Admins, and API keys with ``tickets:import``."""
    if actor.is_api_key:
        if actor.scopes is None or Scope.TICKETS_IMPORT not in actor.scopes:
            raise Forbidden(f"This API key lacks the scope {Scope.TICKETS_IMPORT.value!r}.")
        return
    if actor.role is not Role.ADMIN:
        raise Forbidden("Importing tickets is reserved to administrators.")


@dataclass
class _References:
    customers: dict[str, Customer]
    categories: dict[int, TicketType]
    orders: dict[int, int]
    staff: set[int]


async def _references(session: AsyncSession, items: list[ImportedTicket]) -> _References:
    codes = {t.customer_code.strip().upper() for t in items}
    category_ids = {t.category_id for t in items if t.category_id is not None}
    order_ids = {t.order_id for t in items if t.order_id is not None}
    assignee_ids = {t.assignee_id for t in items if t.assignee_id is not None}
    customers = (await session.scalars(select(Customer).where(Customer.code.in_(codes)))).all()
    categories = (
        (
            await session.execute(
                select(Category.id, Category.type).where(Category.id.in_(category_ids))
            )
        ).all()
        if category_ids
        else []
    )
    orders = (
        (
            await session.execute(
                select(CustomerOrder.id, CustomerOrder.customer_id).where(
                    CustomerOrder.id.in_(order_ids)
                )
            )
        ).all()
        if order_ids
        else []
    )
    staff = (
        (
            await session.scalars(
                select(User.id).where(
                    User.id.in_(assignee_ids), User.role.in_([Role.AGENT, Role.ADMIN])
                )
            )
        ).all()
        if assignee_ids
        else []
    )
    return _References(
        customers={c.code: c for c in customers},
        categories={r.id: TicketType(r.type) for r in categories},
        orders={r.id: r.customer_id for r in orders},
        staff=set(staff),
    )


def _refusal(t: ImportedTicket, refs: _References, now: datetime) -> str | None:
    """Why this ticket cannot be imported, or None."""
    customer = refs.customers.get(t.customer_code.strip().upper())
    if customer is None:
        return "unknown customer code"
    if t.category_id is not None and refs.categories.get(t.category_id) is not t.type:
        return f"category_id is not one of the {t.type.value} categories"
    if t.order_id is not None and refs.orders.get(t.order_id) != customer.id:
        return "order_id is not an order of this customer"
    if t.order_id is None and t.type is TicketType.ORDER:
        return "an order ticket needs its order_id"
    if t.assignee_id is not None and t.assignee_id not in refs.staff:
        return "assignee_id is not an agent or an admin"
    if t.status is TicketStatus.RESOLVED and not (t.solution or "").strip():
        return "a resolved ticket needs its solution"
    if t.created_at > now:
        return "created_at is in the future"
    last = max([t.created_at, *(r.created_at for r in t.replies)])
    if t.updated_at is not None and t.updated_at < t.created_at:
        return "updated_at is before created_at"
    if t.updated_at is not None and t.updated_at > now:
        return "updated_at is in the future"
    if any(r.created_at < t.created_at for r in t.replies):
        return "a reply is older than its ticket"
    if last > now:
        return "a reply is in the future"
    return _end_refusal(t, now)


def _end_refusal(t: ImportedTicket, now: datetime) -> str | None:
    """The resolution and closing times are kept as the ticket's and counted by the reports:
    within the ticket's life, in order, and only on a ticket that ended so."""
    done = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    if t.resolved_at is not None and t.status not in done:
        return f"resolved_at is given but the ticket is {t.status.value}"
    if t.closed_at is not None and t.status is not TicketStatus.CLOSED:
        return f"closed_at is given but the ticket is {t.status.value}, not closed"
    for name, at in (("resolved_at", t.resolved_at), ("closed_at", t.closed_at)):
        if at is not None and at > now:
            return f"{name} is in the future"
        if at is not None and at < t.created_at:
            return f"{name} is before created_at"
    if t.resolved_at is not None and t.closed_at is not None and t.closed_at < t.resolved_at:
        return "closed_at is before resolved_at"
    return None


async def _numbers(session: AsyncSession, years: Counter[int]) -> dict[int, list[str]]:
    """``count`` new numbers for each year, from one upsert of that year's counter."""
    dialect = fulltext.dialect_of(session)
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    numbers: dict[int, list[str]] = {}
    for year, count in sorted(years.items()):
        stmt = (
            upsert(TicketCounter)
            .values(year=year, value=count)
            .on_conflict_do_update(
                index_elements=[TicketCounter.year], set_={"value": TicketCounter.value + count}
            )
            .returning(TicketCounter.value)
        )
        last = (await session.execute(stmt)).scalar_one()
        numbers[year] = [f"T-{year}-{n:06d}" for n in range(last - count + 1, last + 1)]
    return numbers


async def import_tickets(
    session: AsyncSession, actor: Actor, items: list[ImportedTicket]
) -> list[Outcome | None]:
    """Import what can be; an outcome per item, in order (None for none of ours: the caller's
    own refusals keep their place)."""
    require_importer(actor)
    now = utcnow()
    ids = [t.external_id for t in items]
    known = dict(
        (
            await session.execute(
                select(TicketImport.external_id, TicketImport.ticket_id).where(
                    TicketImport.external_id.in_(ids)
                )
            )
        ).all()
    )
    refs = await _references(session, items)
    outcomes: list[Outcome | None] = [None] * len(items)
    seen: set[str] = set()
    todo: list[tuple[int, ImportedTicket, Customer]] = []
    for i, t in enumerate(items):
        if t.external_id in known:
            outcomes[i] = Outcome(t.external_id, Result.ALREADY_IMPORTED, known[t.external_id])
            continue
        if t.external_id in seen:
            outcomes[i] = Outcome(
                t.external_id, Result.REFUSED, reason="external_id repeated in this request"
            )
            continue
        seen.add(t.external_id)
        reason = _refusal(t, refs, now)
        if reason is not None:
            outcomes[i] = Outcome(t.external_id, Result.REFUSED, reason=reason)
            continue
        todo.append((i, t, refs.customers[t.customer_code.strip().upper()]))
    if not todo:
        return outcomes
    numbers = await _numbers(session, Counter(t.created_at.year for _, t, _ in todo))
    rows = [_ticket_row(t, c, numbers[t.created_at.year].pop(0)) for _, t, c in todo]
    # Plain multi-row INSERTs, then the ids read back by their (unique, just given) numbers:
    # INSERT ... RETURNING in parameter order is row by row on SQLite.
    await session.execute(insert(_table("ticket")), rows)
    by_number = dict(
        (
            await session.execute(
                select(Ticket.number, Ticket.id).where(
                    Ticket.number.in_([r["number"] for r in rows])
                )
            )
        ).all()
    )
    ticket_ids = [by_number[r["number"]] for r in rows]
    try:
        await session.execute(
            insert(_table("ticket_import")),
            [
                {"external_id": t.external_id, "ticket_id": tid, "created_at": now}
                for (_, t, _), tid in zip(todo, ticket_ids, strict=True)
            ],
        )
    except IntegrityError:
        raise Conflict(
            "Another import of some of these tickets ran at the same time; send this request "
            "again (what it imported answers already_imported)."
        ) from None
    await _children(session, todo, ticket_ids)
    await _report_facts(session, todo, ticket_ids, rows)
    for (i, t, _), tid, row in zip(todo, ticket_ids, rows, strict=True):
        outcomes[i] = Outcome(t.external_id, Result.CREATED, tid, str(row["number"]))
    return outcomes


def _ticket_row(t: ImportedTicket, customer: Customer, number: str) -> dict[str, Any]:
    last_reply = max((r.created_at for r in t.replies), default=t.created_at)
    updated = t.updated_at or max(t.created_at, last_reply)
    done = t.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    resolved_at = t.resolved_at or (updated if done else None)
    closed_at = t.closed_at or (updated if t.status is TicketStatus.CLOSED else None)
    return {
        "number": number,
        "customer_id": customer.id,
        "requester_id": None,
        "type": t.type,
        "category_id": t.category_id,
        "order_id": t.order_id,
        "subject": t.subject,
        "description": t.description,
        "severity": t.severity,
        "status": t.status,
        "assignee_id": t.assignee_id,
        "solution": t.solution,
        "parent_id": None,
        "contact_name": t.contact_name or customer.name,
        "contact_phone": t.contact_phone or (None if t.contact_email else customer.phone),
        "contact_email": t.contact_email or (None if t.contact_phone else customer.email),
        "contact_channel": t.contact_channel,
        "created_at": t.created_at,
        "updated_at": updated,
        "status_changed_at": closed_at or resolved_at or updated,
        "resolved_at": resolved_at if done else None,
        "closed_at": closed_at,
        "version": 1,
    }


async def _children(
    session: AsyncSession,
    todo: list[tuple[int, ImportedTicket, Customer]],
    ticket_ids: list[int],
) -> None:
    """Replies, timeline events and the search index of the new tickets."""
    replies: list[dict[str, Any]] = [
        {
            "ticket_id": tid,
            "author_id": None,
            "author_name": r.author_name,
            "author_role": r.author_role,
            "body": r.body,
            "visibility": r.visibility,
            "created_at": r.created_at,
        }
        for (_, t, _), tid in zip(todo, ticket_ids, strict=True)
        for r in t.replies
    ]
    events: list[dict[str, Any]] = [
        _event(tid, "created", t.created_at, internal=False)
        for (_, t, _), tid in zip(todo, ticket_ids, strict=True)
    ]
    if replies:
        await session.execute(insert(_table("reply")), replies)
        stored = await session.execute(
            select(
                Reply.id,
                Reply.ticket_id,
                Reply.created_at,
                Reply.visibility,
                Reply.author_name,
                Reply.author_role,
            ).where(Reply.ticket_id.in_(ticket_ids))
        )
        for reply in stored:
            events.append(
                {
                    **_event(
                        reply.ticket_id,
                        "replied",
                        reply.created_at,
                        internal=reply.visibility is Visibility.INTERNAL,
                    ),
                    "reply_id": reply.id,
                    "actor_name": reply.author_name,
                    "actor_role": reply.author_role,
                }
            )
    events.sort(key=lambda e: (e["ticket_id"], e["created_at"], e["reply_id"] or 0))
    events.sort(key=lambda e: (e["ticket_id"], e["created_at"]))
    await session.execute(insert(_table("ticket_event")), events)
    await fulltext.index_new_tickets(
        session,
        [
            (
                tid,
                t.subject,
                t.description,
                t.solution,
                [r.body for r in t.replies if r.visibility is Visibility.PUBLIC],
            )
            for (_, t, _), tid in zip(todo, ticket_ids, strict=True)
        ],
    )


async def _report_facts(
    session: AsyncSession,
    todo: list[tuple[int, ImportedTicket, Customer]],
    ticket_ids: list[int],
    rows: list[dict[str, Any]],
) -> None:
    """The report facts and status history of the new tickets, as the facts subscriber keeps
    them for tickets opened here (``services/facts.py``), from the times the migration brings:
    without them the reports would not count imported tickets at all. Business minutes stay
    null (as for tickets backfilled by migration 0015): no SLA policy applied to them."""
    facts: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for (_, t, _), tid, row in zip(todo, ticket_ids, rows, strict=True):
        opened: datetime = t.created_at
        answers = [
            r.created_at
            for r in t.replies
            if r.visibility is Visibility.PUBLIC and r.author_role != "customer"
        ]
        first_response = min(answers, default=None)
        resolved: datetime | None = row["resolved_at"]
        closed: datetime | None = row["closed_at"]
        facts.append(
            {
                "ticket_id": tid,
                "created_at": opened,
                "first_response_at": first_response,
                "first_response_seconds": (first_response - opened).total_seconds()
                if first_response
                else None,
                "first_resolved_at": resolved,
                "resolution_seconds": (resolved - opened).total_seconds() if resolved else None,
                "closed_at": closed,
                "reopen_count": 0,
            }
        )
        status = TicketStatus(row["status"])
        # Every ticket opens as `open` at its creation (no row); then where it stands now.
        steps: list[tuple[datetime, str, str]] = []
        if (
            status is TicketStatus.CLOSED
            and resolved is not None
            and closed is not None
            and resolved < closed
        ):
            steps = [(resolved, "open", "resolved"), (closed, "resolved", "closed")]
        elif status is not TicketStatus.OPEN:
            steps = [(row["status_changed_at"], "open", status.value)]
        moves += [
            {"ticket_id": tid, "at": at, "opened_at": opened, "from_status": a, "to_status": b}
            for at, a, b in steps
        ]
    await session.execute(insert(_table("ticket_fact")), facts)
    if moves:
        await session.execute(insert(_table("ticket_status_change")), moves)


def _table(name: str) -> Table:
    """The Core table: a plain multi-row INSERT, not the ORM's bulk path."""
    return Base.metadata.tables[name]


def _event(ticket_id: int, kind: str, at: datetime, *, internal: bool) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "kind": kind,
        "from_status": None,
        "to_status": None,
        "actor_id": None,
        "actor_name": None,
        "actor_role": None,
        "note": None,
        "reply_id": None,
        "assignee_id": None,
        "attachment_id": None,
        "internal": internal,
        "created_at": at,
    }
