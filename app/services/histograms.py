"""Daily duration histograms for the unfiltered response-time report (PostgreSQL).

Sorting a year's durations (a million) for exact percentiles takes seconds; a UTC day's
histogram (``domain/histograms.py``: buckets 4 % wide) is a few hundred rows. A report
counts each rolled day whole in the period holding its noon, then corrects with the facts
of the hours on the other side of a period boundary (a Rome week starts at 23:00 UTC: one
hour), and reads the days not rolled yet from the facts, bucketed the same way, so every
figure is within the histograms' bound (2 %, or 0.5 below 1) of ``percentile_cont`` over
the same durations. The counts stay exact.

Kept by the worker like the slot rollup (``services/rollups.py``): each run adds the days
finished since the last one; a change before that (an import) makes it rebuild. SQLite
does not keep them (its reports sort the durations in Python, exactly).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy import Integer as SaInteger
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import rollup_state
from app.db.base import utcnow
from app.db.fulltext import dialect_of
from app.db.models import ReportDayHistogram, ReportRollup, TicketFact
from app.domain import histograms as hd

STATE_ID = 2
"""The histograms' row in ``report_rollup`` (the slot rollup's is 1)."""
DAY = timedelta(days=1)
NOON = timedelta(hours=12)
F = TicketFact
METRICS: tuple[tuple[str, Any, Any], ...] = (
    ("first_response", F.first_response_at, F.first_response_seconds),
    ("first_response_business", F.first_response_at, F.first_response_business_minutes),
    ("resolution", F.first_resolved_at, F.resolution_seconds),
    ("resolution_business", F.first_resolved_at, F.resolution_business_minutes),
)


def _bucket_sql(value: Any) -> ColumnElement[int]:
    return case(
        (value < 1, -1),
        else_=cast(func.floor(func.ln(value) / literal_column(f"ln({hd.RATIO})")), SaInteger),
    )


def _day(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(UTC).date(), time(0), tzinfo=UTC)


async def roll_up(
    session: AsyncSession, settings: Settings | None = None, now: datetime | None = None
) -> int:
    """The worker's job: add the UTC days finished since the last run (rebuild if a fact
    before them changed). Returns the number of histogram rows written."""
    if dialect_of(session) != "postgresql":
        return 0
    until = _day((now or utcnow()) - rollup_state.MARGIN)
    state = await rollup_state.locked(session, STATE_ID)
    lo = rollup_state.rolled_until(state)
    if lo is not None and lo >= until:
        return 0
    if lo is not None and (
        await rollup_state.count_between(session, F.first_response_at, None, state.rolled_until)
        != state.facts_before
        or await rollup_state.count_between(session, F.first_resolved_at, None, state.rolled_until)
        != state.resolved_before
    ):
        lo = None
    return await _write(session, state, lo, until)


async def rebuild(session: AsyncSession, now: datetime | None = None) -> int:
    if dialect_of(session) != "postgresql":
        return 0
    state = await rollup_state.locked(session, STATE_ID)
    return await _write(session, state, None, _day((now or utcnow()) - rollup_state.MARGIN))


async def _write(
    session: AsyncSession, state: ReportRollup, lo: datetime | None, until: datetime
) -> int:
    if lo is None:
        await session.execute(delete(ReportDayHistogram))
    parts = []
    for metric, at, value in METRICS:
        inner = (
            select(
                at.label("x"), literal(metric).label("metric"), _bucket_sql(value).label("bucket")
            )
            .where(rollup_state.between(at, lo, until), value.is_not(None))
            .subquery()
        )
        parts.append(
            select(
                func.date_bin(
                    literal_column("interval '1 day'"), inner.c.x,
                    literal_column("timestamptz '2000-01-01 00:00:00+00'"),
                ).label("day_at"),
                inner.c.metric, inner.c.bucket, func.count().label("n"),
            ).group_by(literal_column("1"), inner.c.metric, inner.c.bucket)
        )  # fmt: skip
    table = ReportDayHistogram.metadata.tables["report_day_histogram"]
    stmt = pg_insert(table).from_select(["day_at", "metric", "bucket", "n"], union_all(*parts))
    stmt = stmt.on_conflict_do_update(
        index_elements=["day_at", "metric", "bucket"], set_={"n": stmt.excluded.n}
    )
    result = await session.execute(stmt)
    responses = await rollup_state.count_between(session, F.first_response_at, lo, until)
    resolutions = await rollup_state.count_between(session, F.first_resolved_at, lo, until)
    if lo is None:
        state.facts_before = state.resolved_before = 0
    state.rolled_until = until
    state.facts_before += responses
    state.resolved_before += resolutions
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


async def rolled_until(session: AsyncSession) -> datetime | None:
    if dialect_of(session) != "postgresql":
        return None
    state = await session.get(ReportRollup, STATE_ID)
    return rollup_state.rolled_until(state) if state is not None else None


@dataclass
class Plan:
    """How a report's periods are read: the rolled UTC days [first_day, last_day), each
    counted whole in the period holding its noon; the facts of ``plus`` counted in their own
    period; and, for the hours of a counted day that belong to another period (``minus``,
    a subset of ``plus``), the same facts taken out of the day's period again."""

    first_day: datetime | None = None
    last_day: datetime | None = None
    plus: list[tuple[datetime, datetime]] = field(default_factory=list)
    minus: list[tuple[datetime, datetime]] = field(default_factory=list)


def plan(bounds: list[datetime], end: datetime, until: datetime) -> Plan:
    """For a Rome week (from 23:00 UTC) that is one hour of facts per period boundary."""
    out = Plan()
    edges = [*bounds, end]

    def period_of(at: datetime) -> int:
        return bisect_right(edges, at) - 1  # -1: before; len(bounds): after

    def add(ranges: list[tuple[datetime, datetime]], a: datetime, b: datetime) -> None:
        if a >= b:
            return
        if ranges and ranges[-1][1] == a:
            ranges[-1] = (ranges[-1][0], b)
        else:
            ranges.append((a, b))

    d = _day(bounds[0])
    while d < end:
        i = period_of(d + NOON)
        if d + DAY <= until and 0 <= i < len(bounds):
            out.first_day = out.first_day or d
            out.last_day = d + DAY
            for a, b in ((d, max(d, edges[i])), (min(d + DAY, edges[i + 1]), d + DAY)):
                add(out.minus, a, b)
                add(out.plus, max(a, bounds[0]), min(b, end))
        else:
            add(out.plus, max(d, bounds[0]), min(d + DAY, end))
        d += DAY
    return out


QUANTILES = (0.5, 0.9)


async def period_percentiles(
    session: AsyncSession, bounds: list[datetime], end: datetime, until: datetime
) -> dict[tuple[int, str], tuple[int, dict[float, float | None]]]:
    """``{(period index, metric): (count, {q: percentile})}`` for the report's periods.

    One statement: the rolled days and the facts of :func:`plan` bucketed alike, summed per
    period and bucket, then (window sums) the buckets holding the two ranks each percentile
    sits between; only those come back."""
    p = plan(bounds, end, until)
    array = bindparam("bounds", [*bounds, end], type_=ARRAY(DateTime(timezone=True)))
    noon: ColumnElement[Any] = literal_column("interval '12 hours'")
    h = ReportDayHistogram
    parts: list[Any] = []
    if p.first_day is not None and p.last_day is not None:
        parts.append(
            select(
                func.width_bucket(h.day_at + noon, array).label("i"), h.metric.label("metric"),
                h.bucket.label("bucket"), h.n.label("n"),
            ).where(h.day_at >= p.first_day, h.day_at < p.last_day)
        )  # fmt: skip
    for column in (F.first_response_at, F.first_resolved_at):
        if not p.plus:
            break
        # One read of the facts per instant column, for both of its durations.
        edge = (
            select(F.first_response_at, F.first_resolved_at, *(m[2] for m in METRICS))
            .where(or_(*(and_(column >= a, column < b) for a, b in p.plus)))
            .cte(f"edge_{column.key}")
            .prefix_with("MATERIALIZED")
        )
        at_ = edge.c[column.key]
        day_noon = func.date_bin(
            literal_column("interval '1 day'"), at_,
            literal_column("timestamptz '2000-01-01 00:00:00+00'"),
        ) + noon  # fmt: skip
        for metric, at, value in METRICS:
            if at is not column:
                continue
            k = _bucket_sql(edge.c[value.key])
            for i, sign, where in (
                (func.width_bucket(at_, array), 1, true()),
                (
                    func.width_bucket(day_noon, array),
                    -1,
                    or_(false(), *(and_(at_ >= a, at_ < b) for a, b in p.minus)),
                ),
            ):
                if sign < 0 and not p.minus:
                    continue
                parts.append(
                    select(
                        i.label("i"), literal(metric).label("metric"), k.label("bucket"),
                        (func.count() * sign).label("n"),
                    )
                    .where(edge.c[value.key].is_not(None), where)
                    .group_by(i, k)
                )  # fmt: skip
    if not parts:
        return {}
    u = union_all(*parts).subquery("u")
    merged = (
        select(u.c.i, u.c.metric, u.c.bucket, func.sum(u.c.n).label("n"))
        .where(u.c.i >= 1, u.c.i <= len(bounds))
        .group_by(u.c.i, u.c.metric, u.c.bucket)
        .having(func.sum(u.c.n) != 0)
        .subquery("m")
    )
    part = (merged.c.i, merged.c.metric)
    ranked = select(
        merged.c.i, merged.c.metric, merged.c.bucket,
        func.sum(merged.c.n).over(partition_by=part, order_by=merged.c.bucket).label("cum"),
        func.sum(merged.c.n).over(partition_by=part).label("total"),
    ).subquery("r")  # fmt: skip
    picks = []
    for q in QUANTILES:
        for rounding in (func.floor, func.ceil):
            rank = rounding((ranked.c.total - 1) * q)
            picks.append(func.min(ranked.c.bucket).filter(ranked.c.cum > rank))
    stmt = select(ranked.c.i, ranked.c.metric, func.max(ranked.c.total), *picks).group_by(
        ranked.c.i, ranked.c.metric
    )
    out: dict[tuple[int, str], tuple[int, dict[float, float | None]]] = {}
    for idx, metric, total, *buckets in (await session.execute(stmt)).all():
        n = int(total)
        values: dict[float, float | None] = {}
        for j, q in enumerate(QUANTILES):
            lo, hi = hd.middle(int(buckets[2 * j])), hd.middle(int(buckets[2 * j + 1]))
            pos = (n - 1) * q
            values[q] = lo + (hi - lo) * (pos - int(pos))
        out[(int(idx) - 1, str(metric))] = (n, values)
    return out
