"""Ticket lists: filters, sorts with keyset cursors, full-text search."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.base import utcnow
from app.db.models import (
    Category,
    Tag,
    Ticket,
    TicketTag,
)
from app.db.pagination import MAX_ID, decode_cursor, encode_cursor
from app.domain.access import Actor, Scope, require_scope
from app.domain.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
)
from app.domain.tickets import (
    Severity,
    TicketStatus,
    TicketType,
)
from app.services.visibility import ticket_query, visible_tickets


class Sort(StrEnum):
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    UPDATED = "updated_at"
    UPDATED_DESC = "-updated_at"
    SEVERITY = "severity"
    DUE = "due"
    """The earliest running SLA due time first; tickets without one last, newest first."""


class TagMode(StrEnum):
    ANY = "any"
    ALL = "all"


@dataclass(frozen=True)
class SlaFilter:
    """``breached``: a running target is past due; ``due_within:N``: due in the next N minutes."""

    breached: bool
    within_minutes: int = 0

    @classmethod
    def parse(cls, value: str) -> SlaFilter:
        if value == "breached":
            return cls(True)
        kind, _, minutes = value.partition(":")
        if kind == "due_within" and minutes.isdigit() and 1 <= int(minutes) <= 100_000:
            return cls(False, int(minutes))
        raise InvalidInput("Use sla=breached or sla=due_within:MINUTES.", ["query", "sla"])


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
    team_ids: list[int] | None = None
    unassigned: bool = False
    sla: SlaFilter | None = None
    tags: list[str] = field(default_factory=list)
    tag_mode: TagMode = TagMode.ANY


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
    if f.team_ids is not None:
        clauses.append(Ticket.team_id.in_(f.team_ids))
    if f.unassigned:
        clauses.append(Ticket.assignee_id.is_(None))
    if f.sla is not None:
        now = utcnow()
        if f.sla.breached:
            clauses.append(Ticket.sla_due_at <= _at(now))
        else:
            clauses.append(Ticket.sla_due_at > _at(now))
            clauses.append(Ticket.sla_due_at <= _at(now + timedelta(minutes=f.sla.within_minutes)))
    if f.tags:
        tagged = (
            select(TicketTag.ticket_id)
            .join(Tag, Tag.id == TicketTag.tag_id)
            .where(Tag.name.in_(f.tags))
        )
        if f.tag_mode is TagMode.ALL:
            tagged = tagged.group_by(TicketTag.ticket_id).having(func.count() == len(set(f.tags)))
        clauses.append(Ticket.id.in_(tagged))
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
    if sort is Sort.DUE:
        due = ticket.sla_due_at.isoformat() if ticket.sla_due_at is not None else None
        return [sort.value, due, ticket.created_at.isoformat(), ticket.id]
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


def _due_cursor(key: list[Any]) -> tuple[datetime | None, datetime, int]:
    try:
        if len(key) != 4 or key[0] != Sort.DUE.value:
            raise ValueError
        due = None if key[1] is None else _cursor_time(key[1])
        return due, _cursor_time(key[2]), _cursor_id(key[3])
    except (ValueError, TypeError, OverflowError):
        raise BadRequest("The cursor is not valid for this sort.") from None


async def _page_by_due(
    session: AsyncSession, stmt: Select[Ticket], n: int, key: list[Any] | None
) -> list[Ticket]:
    """Up to ``n`` rows by next due time, then the tickets with none, newest first.

    Two index ranges, like the severity sort: (sla_due_at, id) ascending for the
    tickets with a running target, then (created_at, id) backwards for the others,
    so neither a page nor "breaching soon" ever sorts the whole table.
    """
    start = _due_cursor(key) if key is not None else None
    rows: list[Ticket] = []
    if start is None or start[0] is not None:
        part = stmt.where(Ticket.sla_due_at.is_not(None))
        if start is not None and start[0] is not None:
            part = part.where(
                tuple_(Ticket.sla_due_at, Ticket.id) > tuple_(_at(start[0]), start[2])
            )
        part = part.order_by(Ticket.sla_due_at.asc(), Ticket.id.asc()).limit(n)
        rows.extend((await session.scalars(part)).all())
    if len(rows) < n:
        part = stmt.where(Ticket.sla_due_at.is_(None))
        if start is not None and start[0] is None:
            part = part.where(
                tuple_(Ticket.created_at, Ticket.id) < tuple_(_at(start[1]), start[2])
            )
        part = part.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(n - len(rows))
        rows.extend((await session.scalars(part)).all())
    return rows


def filtered(actor: Actor, dialect: str, filters: Filters) -> Select[Ticket]:
    stmt = ticket_query(actor)
    for clause in _filter_clauses(dialect, filters):
        stmt = stmt.where(clause)
    return stmt


async def count(session: AsyncSession, actor: Actor, filters: Filters) -> int:
    """How many tickets the caller may see match (one COUNT over the same conditions)."""
    require_scope(actor, Scope.TICKETS_READ)
    stmt = select(func.count()).select_from(Ticket).where(visible_tickets(actor))
    for clause in _filter_clauses(fulltext.dialect_of(session), filters):
        stmt = stmt.where(clause)
    return int(await session.scalar(stmt) or 0)


async def list_page(
    session: AsyncSession,
    actor: Actor,
    filters: Filters,
    *,
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> tuple[list[Ticket], str | None]:
    """A page of the tickets the caller may see, filtered, in a stable keyset order.

    Teams, tags and service levels are the desk's internal organisation: filtering or
    sorting by them is for staff (403 for a customer).
    """
    require_scope(actor, Scope.TICKETS_READ)
    internal = (
        filters.team_ids is not None
        or filters.unassigned
        or filters.sla is not None
        or filters.tags
        or sort is Sort.DUE
    )
    if internal and not actor.is_staff:
        raise Forbidden("Filters on teams, tags and service levels are for the support staff.")
    dialect = fulltext.dialect_of(session)
    stmt = ticket_query(actor)
    for clause in _filter_clauses(dialect, filters):
        stmt = stmt.where(clause)
    key = decode_cursor(cursor) if cursor is not None else None
    if sort is Sort.SEVERITY:
        rows = await _page_by_severity(session, stmt, limit + 1, key)
    elif sort is Sort.DUE:
        rows = await _page_by_due(session, stmt, limit + 1, key)
    else:
        if key is not None:
            stmt = stmt.where(_after(sort, key))
        rows = list((await session.scalars(stmt.order_by(*_order(sort)).limit(limit + 1))).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(_sort_key(rows[-1], sort))
    return rows, None
