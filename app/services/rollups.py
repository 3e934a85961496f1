"""The reports' periodic rollup: per quarter-hour slot (UTC), tickets opened and first
resolved and the backlog's sweep-line events (``domain/backlog.py``), kept by the worker.

A report reads the rollup for the slots before ``rolled_until`` and the facts for the
rest, with the same event code, so a figure does not depend on when the worker last ran.
Only finished slots are rolled (a margin covers transactions still in flight); each run
rolls the new slots, from the facts and status moves of that time alone. A report with a
filter reads the facts for the whole history (the rollup is for every ticket).

The rollup remembers how many openings, first resolutions and status moves came before
``rolled_until``: when the counts differ on a later run (an import of old tickets, a
deletion, a late commit), it is rebuilt from scratch.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import rollup_state
from app.db.base import utcnow
from app.db.fulltext import dialect_of
from app.db.models import ReportRollup, ReportSlot, Ticket, TicketFact, TicketStatusChange
from app.db.timebuckets import later, plus_days, quarter_hour
from app.domain import backlog as bl

STATE_ID = 1
"""This rollup's row of ``report_rollup`` (the histograms' is 2)."""
"""A slot is rolled once it ended this long ago: a transaction still open then is rare."""
COLUMNS = ("opened", "resolved", *bl.KEYS)


@dataclass
class Deltas:
    """Per slot, the summed events (a Counter over :data:`COLUMNS`)."""

    slots: dict[datetime, Counter[str]] = field(default_factory=dict)


def _as_instant(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite's slot is text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _events(
    dialect: str, lo: datetime | None, hi: datetime, where: list[ColumnElement[bool]] | None
) -> list[Select[Any]]:
    """One SELECT per kind of event: ``(x, one column per COLUMNS)``, only the events at an
    ``x`` in [lo, hi), each reading an indexed range of the facts or the moves."""

    def row(x: Any, **values: Any) -> list[Any]:
        return [
            x.label("x"),
            *((values[name] if name in values else literal(0)).label(name) for name in COLUMNS),
        ]

    def scoped(stmt: Select[Any], ticket_id: Any) -> Select[Any]:
        if where is None:
            return stmt
        return stmt.join(Ticket, Ticket.id == ticket_id).where(*where)

    f, c = TicketFact, TicketStatusChange
    out = [
        scoped(
            select(*row(f.created_at, opened=literal(1), d_open=literal(1))).where(
                rollup_state.between(f.created_at, lo, hi)
            ),
            f.ticket_id,
        ),
        scoped(
            select(*row(f.first_resolved_at, resolved=literal(1))).where(
                rollup_state.between(f.first_resolved_at, lo, hi)
            ),
            f.ticket_id,
        ),
    ]
    for key, age in bl.AGE_KEYS:
        x = plus_days(dialect, f.created_at, age.days)
        out.append(
            scoped(
                select(*row(x, **{key: literal(1)})).where(
                    rollup_state.between(f.created_at, None if lo is None else lo - age, hi - age)
                ),
                f.ticket_id,
            )
        )
    for status_col, sign in ((c.from_status, -1), (c.to_status, 1)):
        values = {
            key: case((status_col == status, sign), else_=0)
            for status, key in bl.STATUS_KEYS.items()
        }
        out.append(
            scoped(
                select(*row(c.at, **values)).where(
                    rollup_state.between(c.at, lo, hi), status_col.in_(bl.OPEN_STATUSES)
                ),
                c.ticket_id,
            )
        )
    from_open = c.from_status.in_(bl.OPEN_STATUSES)
    to_open = c.to_status.in_(bl.OPEN_STATUSES)
    for key, age in bl.AGE_KEYS:
        x = later(dialect, c.at, plus_days(dialect, c.opened_at, age.days))
        ever = c.at < hi if lo is None else or_(c.at >= lo, c.opened_at >= lo - age)
        out.append(
            scoped(
                select(*row(x, **{key: case((to_open, 1), else_=-1)})).where(
                    c.at < hi,
                    c.opened_at < hi - age,
                    ever,
                    from_open != to_open,
                    x < hi,
                    *(() if lo is None else (x >= lo,)),
                ),
                c.ticket_id,
            )
        )
    return out


def _summed(
    dialect: str, lo: datetime | None, hi: datetime, where: list[ColumnElement[bool]] | None
) -> Select[Any]:
    """``(slot, one sum per COLUMNS)`` for the events in [lo, hi), summed in the database."""
    events = union_all(*_events(dialect, lo, hi, where)).subquery("e")
    slot = quarter_hour(dialect, events.c.x).label("slot_at")
    sums = (func.coalesce(func.sum(events.c[name]), 0).label(name) for name in COLUMNS)
    # WHERE true: SQLite's INSERT ... SELECT ... ON CONFLICT needs a WHERE to parse.
    return select(slot, *sums).where(true()).group_by(slot)


async def deltas(
    session: AsyncSession,
    lo: datetime | None,
    hi: datetime,
    where: list[ColumnElement[bool]] | None = None,
) -> Deltas:
    """The events that happen in [lo, hi) (lo None: since the beginning), summed per slot in
    the database, over the tickets matching ``where`` (None: every ticket, no join)."""
    out = Deltas()
    if lo is not None and hi <= lo:
        return out
    stmt = _summed(dialect_of(session), lo, hi, where)
    for slot_at, *values in (await session.execute(stmt)).all():
        counts = Counter({name: int(v) for name, v in zip(COLUMNS, values, strict=True) if v})
        if counts:
            out.slots[_as_instant(slot_at)] = counts
    return out


async def period_deltas(
    session: AsyncSession,
    lo: datetime | None,
    bounds: list[datetime],
    hi: datetime,
    where: list[ColumnElement[bool]] | None,
) -> tuple[Counter[str], list[Counter[str]]]:
    """The events of [lo, hi) summed before ``bounds[0]`` and per period (as
    :func:`period_sums`); PostgreSQL sums them per period itself."""
    before: Counter[str] = Counter()
    per: list[Counter[str]] = [Counter() for _ in bounds]
    dialect = dialect_of(session)
    if dialect != "postgresql":
        for slot_at, counts in (await deltas(session, lo, hi, where)).slots.items():
            i = bisect_right(bounds, slot_at) - 1
            (before if i < 0 else per[i]).update(counts)
        return before, per
    if lo is not None and hi <= lo:
        return before, per
    events = union_all(*_events(dialect, lo, hi, where)).subquery("e")
    array = bindparam("bounds", bounds, type_=ARRAY(DateTime(timezone=True)))
    index = func.width_bucket(events.c.x, array).label("i")
    sums = (func.coalesce(func.sum(events.c[name]), 0) for name in COLUMNS)
    stmt = select(index, *sums).group_by(index)
    for i, *values in (await session.execute(stmt)).all():
        found = dict(zip(COLUMNS, (int(v) for v in values), strict=True))
        (before if int(i) == 0 else per[int(i) - 1]).update(found)
    return before, per


@dataclass(frozen=True, slots=True)
class Rolled:
    until: datetime | None
    """Every slot before this instant is in ``report_slot`` (None: no rollup yet)."""


async def rolled(session: AsyncSession) -> Rolled:
    state = await session.get(ReportRollup, STATE_ID)
    return Rolled(rollup_state.rolled_until(state) if state else None)


async def period_sums(
    session: AsyncSession, bounds: list[datetime], hi: datetime
) -> tuple[Counter[str], list[Counter[str]]]:
    """The rollup summed over every slot before ``bounds[0]``, and per period: the slots in
    [bounds[i], bounds[i + 1]) (the last period up to ``hi``, never past it).

    PostgreSQL groups by ``width_bucket`` over the bounds (a binary search per slot), so a
    year's 35,000 slots come back as a few dozen rows; SQLite's slots are read and placed."""
    cols = [getattr(ReportSlot, name) for name in COLUMNS]
    sums = [func.coalesce(func.sum(col), 0) for col in cols]
    base_row = (await session.execute(select(*sums).where(ReportSlot.slot_at < bounds[0]))).one()
    base = Counter(dict(zip(COLUMNS, (int(v) for v in base_row), strict=True)))
    per: list[Counter[str]] = [Counter() for _ in bounds]
    inside = and_(ReportSlot.slot_at >= bounds[0], ReportSlot.slot_at < hi)
    if dialect_of(session) == "postgresql":
        array = bindparam("bounds", bounds, type_=ARRAY(DateTime(timezone=True)))
        index = func.width_bucket(ReportSlot.slot_at, array).label("i")
        stmt = select(index, *sums).where(inside).group_by(index)
        for i, *values in (await session.execute(stmt)).all():
            per[int(i) - 1].update(dict(zip(COLUMNS, (int(v) for v in values), strict=True)))
        return base, per
    stmt = select(ReportSlot.slot_at, *cols).where(inside)
    for slot_at, *values in (await session.execute(stmt)).all():
        i = bisect_right(bounds, slot_at) - 1
        per[i].update(dict(zip(COLUMNS, (int(v) for v in values), strict=True)))
    return base, per


async def roll_up(
    session: AsyncSession, settings: Settings | None = None, now: datetime | None = None
) -> int:
    """The worker's job: roll the slots finished since the last run (or rebuild the whole
    rollup when what came before has changed). Returns the number of slots written."""
    until = bl.slot_of((now or utcnow()) - rollup_state.MARGIN)
    state = await rollup_state.locked(session, STATE_ID)
    lo = rollup_state.rolled_until(state)
    if lo is not None and lo >= until:
        return 0
    if lo is not None and (
        await rollup_state.count_between(session, TicketFact.created_at, None, state.rolled_until)
        != state.facts_before
        or await rollup_state.count_between(
            session, TicketFact.first_resolved_at, None, state.rolled_until
        )
        != state.resolved_before
        or await rollup_state.count_between(
            session, TicketStatusChange.at, None, state.rolled_until
        )
        != state.changes_before
    ):
        lo = None
    return await _write(session, state, lo, until)


async def rebuild(session: AsyncSession, until: datetime | None = None) -> int:
    """Rebuild the whole rollup up to ``until`` (default: the last finished slot)."""
    until = until or bl.slot_of(utcnow() - rollup_state.MARGIN)
    state = await rollup_state.locked(session, STATE_ID)
    return await _write(session, state, None, until)


async def _write(
    session: AsyncSession, state: ReportRollup, lo: datetime | None, until: datetime
) -> int:
    """Sum the events of [lo, until) into their slots with one INSERT ... SELECT: nothing
    travels through Python. Idempotent: two workers rolling the same slots write the same."""
    dialect = dialect_of(session)
    if lo is None:
        await session.execute(delete(ReportSlot))
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(ReportSlot.metadata.tables["report_slot"]).from_select(
        ["slot_at", *COLUMNS], _summed(dialect, lo, until, None)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ReportSlot.slot_at],
        set_={name: getattr(stmt.excluded, name) for name in COLUMNS},
    )
    await session.execute(stmt)
    written = rollup_state.between(ReportSlot.slot_at, lo, until)
    slots, opened, resolved = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ReportSlot.opened), 0),
                func.coalesce(func.sum(ReportSlot.resolved), 0),
            ).where(written)
        )
    ).one()
    changes = await session.scalar(
        select(func.count()).where(rollup_state.between(TicketStatusChange.at, lo, until))
    )
    if lo is None:
        state.facts_before = state.resolved_before = state.changes_before = 0
    state.rolled_until = until
    state.facts_before += int(opened)
    state.resolved_before += int(resolved)
    state.changes_before += int(changes or 0)
    await session.flush()
    return int(slots)
