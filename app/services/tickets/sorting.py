"""The orders of the ticket list, and their keyset cursors."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import UTCDateTime
from app.db.models import Ticket
from app.db.pagination import MAX_ID
from app.domain.errors import BadRequest
from app.domain.tickets import Severity


class Sort(StrEnum):
    CREATED = "created_at"
    CREATED_DESC = "-created_at"
    UPDATED = "updated_at"
    UPDATED_DESC = "-updated_at"
    SEVERITY = "severity"
    DUE = "due"
    """The earliest running SLA due time first; tickets without one last, newest first."""


def sort_key(ticket: Ticket | Row[*tuple[Any, ...]], sort: Sort) -> list[Any]:
    """The cursor's key of the last ticket of a page (an ORM ticket or a list item)."""
    if sort in (Sort.UPDATED, Sort.UPDATED_DESC):
        return [sort.value, ticket.updated_at.isoformat(), ticket.id]
    if sort is Sort.SEVERITY:
        # Severity(): a list item's severity is its stored string.
        severity = Severity(ticket.severity).value
        return [sort.value, severity, ticket.created_at.isoformat(), ticket.id]
    if sort is Sort.DUE:
        due = ticket.sla_due_at.isoformat() if ticket.sla_due_at is not None else None
        return [sort.value, due, ticket.created_at.isoformat(), ticket.id]
    return [sort.value, ticket.created_at.isoformat(), ticket.id]


def after(sort: Sort, key: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor's key, in the order of ``sort`` (not ``severity``)."""
    at, last_id = time_cursor(sort, key)
    return after_clause(sort, at_time(at), literal(last_id))


def time_cursor(sort: Sort, key: list[Any]) -> tuple[datetime, int]:
    """The time and id of a cursor of a sort by time.

    The key came from a client: every part is checked, so a forged cursor is a 400,
    never a value the database refuses (a 500).
    """
    try:
        if len(key) != 3 or key[0] != sort.value:
            raise ValueError
        return _cursor_time(key[1]), _cursor_id(key[2])
    except (ValueError, TypeError, OverflowError):
        raise BadRequest("The cursor is not valid for this sort.") from None


# The table's columns, not the mapped attributes: in a statement of Core columns (a list
# page), an ORM attribute would make SQLAlchemy run it through the ORM's result loading.
_ticket = Ticket.__table__.c


def after_clause(sort: Sort, at: Any, last_id: Any) -> ColumnElement[bool]:
    column = _ticket.updated_at if sort in (Sort.UPDATED, Sort.UPDATED_DESC) else _ticket.created_at
    if sort.value.startswith("-"):
        return tuple_(column, _ticket.id) < tuple_(at, last_id)
    return tuple_(column, _ticket.id) > tuple_(at, last_id)


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


def at_time(value: datetime) -> Any:
    return literal(value, UTCDateTime())


def ordering(sort: Sort) -> list[Any]:
    if sort is Sort.CREATED:
        return [_ticket.created_at.asc(), _ticket.id.asc()]
    if sort is Sort.UPDATED:
        return [_ticket.updated_at.asc(), _ticket.id.asc()]
    if sort is Sort.UPDATED_DESC:
        return [_ticket.updated_at.desc(), _ticket.id.desc()]
    return [_ticket.created_at.desc(), _ticket.id.desc()]


# "blocking" sorts before "normal": the urgent first.
SEVERITY_ORDER = sorted(Severity, key=lambda s: s.value)


async def page_by_severity(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any], n: int, key: list[Any] | None
) -> list[Any]:
    """Up to ``n`` rows by severity, newest first within each: one index range per severity.

    A single ``ORDER BY severity, created_at DESC`` mixes directions, which the
    (severity, created_at, id) index cannot serve: PostgreSQL would read and sort every
    ticket for every page. Severity by severity, the order is one backward scan of it.
    """
    start = _severity_cursor(key) if key is not None else None
    rows: list[Any] = []
    for severity in SEVERITY_ORDER:
        part = stmt.where(_ticket.severity == severity)
        if start is not None:
            if SEVERITY_ORDER.index(severity) < SEVERITY_ORDER.index(start[0]):
                continue
            if severity is start[0]:
                part = part.where(
                    tuple_(_ticket.created_at, _ticket.id) < tuple_(at_time(start[1]), start[2])
                )
        part = part.order_by(_ticket.created_at.desc(), _ticket.id.desc()).limit(n - len(rows))
        rows.extend((await session.execute(part, params)).all())
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


async def page_by_due(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any], n: int, key: list[Any] | None
) -> list[Any]:
    """Up to ``n`` rows by next due time, then the tickets with none, newest first.

    Two index ranges, like the severity sort: (sla_due_at, id) ascending for the
    tickets with a running target, then (created_at, id) backwards for the others,
    so neither a page nor "breaching soon" ever sorts the whole table.
    """
    start = _due_cursor(key) if key is not None else None
    rows: list[Any] = []
    if start is None or start[0] is not None:
        part = stmt.where(_ticket.sla_due_at.is_not(None))
        if start is not None and start[0] is not None:
            part = part.where(
                tuple_(_ticket.sla_due_at, _ticket.id) > tuple_(at_time(start[0]), start[2])
            )
        part = part.order_by(_ticket.sla_due_at.asc(), _ticket.id.asc()).limit(n)
        rows.extend((await session.execute(part, params)).all())
    if len(rows) < n:
        part = stmt.where(_ticket.sla_due_at.is_(None))
        if start is not None and start[0] is None:
            part = part.where(
                tuple_(_ticket.created_at, _ticket.id) < tuple_(at_time(start[1]), start[2])
            )
        part = part.order_by(_ticket.created_at.desc(), _ticket.id.desc()).limit(n - len(rows))
        rows.extend((await session.execute(part, params)).all())
    return rows
