"""What the two report rollups (``services/rollups.py``, ``services/histograms.py``) share:
the rows that say how far each goes, taken under lock, and the time ranges they count.

Each rollup job starts by locking its row of ``report_rollup``. The very first run
of a desk has no row to lock: two workers would both see none and both insert one
(the second failed on the primary key). The row is therefore made first, by an
insert that does nothing when it exists (on PostgreSQL the second worker's insert
waits for the first's transaction, then does nothing), and then locked: every run,
the first one included, is serialised by the same row lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.fulltext import dialect_of
from app.db.models import ReportRollup

MARGIN = timedelta(minutes=5)
"""A rollup stops this long before now: what happened later may still be committing."""
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""``rolled_until`` of a rollup that has never run: nothing before it is rolled."""


async def locked(session: AsyncSession, state_id: int) -> ReportRollup:
    """The rollup's state row, made if missing, locked until the transaction ends."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    await session.execute(
        insert(ReportRollup)
        .values(
            id=state_id,
            rolled_until=NEVER,
            facts_before=0,
            resolved_before=0,
            changes_before=0,
        )
        .on_conflict_do_nothing(index_elements=[ReportRollup.id])
    )
    state = await session.get(ReportRollup, state_id, with_for_update=True, populate_existing=True)
    assert state is not None  # made just above, or there already
    return state


def rolled_until(state: ReportRollup) -> datetime | None:
    """How far the rollup goes, or None when it has never run."""
    return None if state.rolled_until <= NEVER else state.rolled_until


def between(col: Any, lo: datetime | None, hi: datetime) -> ColumnElement[bool]:
    """``col`` in ``[lo, hi)``; with no ``lo``, everything before ``hi``."""
    if lo is None:
        below: ColumnElement[bool] = col < hi
        return below
    return and_(col >= lo, col < hi)


async def count_between(session: AsyncSession, col: Any, lo: datetime | None, hi: datetime) -> int:
    """How many rows have ``col`` in ``[lo, hi)`` (see :func:`between`)."""
    return int(await session.scalar(select(func.count()).where(between(col, lo, hi))) or 0)
