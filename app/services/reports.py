"""Reports over the ticket facts (read-only), for the staff, over the tickets they may see.

Each report is a fixed number of grouped statements over indexed ranges of
``ticket_fact`` (or ``ticket_sla``) joined to the ticket for the filters; the rows
come back flat (one per period, or per period and metric) for JSON and CSV alike.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, and_, bindparam, case, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.fulltext import dialect_of
from app.db.models import (
    Category,
    Customer,
    Tag,
    Ticket,
    TicketFact,
    TicketSatisfaction,
    TicketSla,
    TicketTag,
)
from app.db.timebuckets import bucket, slot
from app.domain import backlog as bl
from app.domain import reports as rd
from app.domain.access import Actor, Scope, require_staff
from app.domain.routing import Channel
from app.domain.tickets import Severity, TicketType
from app.services import histograms, rollups
from app.services.visibility import visible_tickets

Row = dict[str, Any]
_INSTANTS = ARRAY(DateTime(timezone=True))
MAX_SQLITE_DURATIONS = 200_000
"""SQLite has no percentile function: at most this many durations are read, sorted, picked."""


@dataclass(frozen=True, slots=True)
class Filters:
    customer_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    type: TicketType | None = None
    category_id: int | None = None
    severity: Severity | None = None
    tag: str | None = None
    channel: Channel | None = None


def _where(actor: Actor, f: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [visible_tickets(actor)]
    if f.customer_id is not None:
        out.append(Ticket.customer_id == f.customer_id)
    if f.team_id is not None:
        out.append(Ticket.team_id == f.team_id)
    if f.agent_id is not None:
        out.append(Ticket.assignee_id == f.agent_id)
    if f.type is not None:
        out.append(Ticket.type == f.type)
    if f.category_id is not None:
        out.append(Ticket.category_id == f.category_id)
    if f.severity is not None:
        out.append(Ticket.severity == f.severity)
    if f.channel is not None:
        out.append(Ticket.channel == f.channel)
    if f.tag is not None:
        out.append(
            Ticket.id.in_(
                select(TicketTag.ticket_id)
                .join(Tag, Tag.id == TicketTag.tag_id)
                .where(Tag.name == f.tag.strip().casefold())
            )
        )
    return out


def _needs_ticket(actor: Actor, f: Filters) -> bool:
    """Whether the ticket row must be joined: for a filter, or for a caller who sees only some
    tickets (staff see them all: the facts alone answer, by an index-only scan)."""
    return not actor.is_staff or f != Filters()


def _facts(actor: Actor, f: Filters, *cols: Any, join: bool = False) -> Select[Any]:
    stmt = select(*cols).select_from(TicketFact)
    if join or _needs_ticket(actor, f):
        stmt = stmt.join(Ticket, Ticket.id == TicketFact.ticket_id).where(*_where(actor, f))
    return stmt


def _in(col: Any, w: rd.Window) -> ColumnElement[bool]:
    return and_(col >= w.start, col < w.end)


def _period_of(value: Any, w: rd.Window) -> str:
    """The period of a :func:`slot` value (a UTC instant on PostgreSQL, the period on SQLite)."""
    if isinstance(value, datetime):
        return rd.local_bucket(value if value.tzinfo else value.replace(tzinfo=UTC), w).isoformat()
    return str(value)


def _periods(w: rd.Window) -> list[str]:
    return [p.isoformat() for p in rd.periods(w)]


async def volume(session: AsyncSession, actor: Actor, w: rd.Window, f: Filters) -> list[Row]:
    """Tickets opened, first resolved, closed (last closing) and reopened (last reopening).

    Unfiltered, the openings and first resolutions come from the worker's rollup up to
    where it goes, then from the facts; closings and reopenings (rarer, and rewritten by a
    later reopening or closing) always from the facts."""
    require_staff(actor, Scope.REPORTS_READ)
    dialect = dialect_of(session)
    rows: dict[str, Row] = {
        p: {"period": p, "opened": 0, "resolved": 0, "closed": 0, "reopened": 0}
        for p in _periods(w)
    }
    periods = list(rows)
    bounds = _bounds(w)
    live_from = w.start
    if not _needs_ticket(actor, f):
        until = (await rollups.rolled(session)).until
        if until is not None and until > w.start:
            live_from = min(until, w.end)
            _, sums = await rollups.period_sums(session, bounds, live_from)
            for row, counts in zip(rows.values(), sums, strict=True):
                row["opened"] += counts["opened"]
                row["resolved"] += counts["resolved"]
    for name, col in (
        ("opened", TicketFact.created_at),
        ("resolved", TicketFact.first_resolved_at),
        ("closed", TicketFact.closed_at),
        ("reopened", TicketFact.reopened_at),
    ):
        lo = live_from if name in ("opened", "resolved") else w.start
        if lo >= w.end:
            continue
        if dialect == "postgresql":
            # The period's index among the periods' first instants: a binary search per row.
            b = func.width_bucket(col, bindparam("bounds", bounds, type_=_INSTANTS)).label("b")
        else:
            b = slot(dialect, col, w).label("b")
        stmt = _facts(actor, f, b, func.count()).where(col >= lo, col < w.end).group_by(b)
        for key, n in (await session.execute(stmt)).all():
            period = periods[int(key) - 1] if dialect == "postgresql" else _period_of(key, w)
            rows[period][name] += int(n)
    return list(rows.values())


_DURATIONS = (
    (
        "first_response",
        TicketFact.first_response_at,
        TicketFact.first_response_seconds,
        TicketFact.first_response_business_minutes,
    ),
    (
        "resolution",
        TicketFact.first_resolved_at,
        TicketFact.resolution_seconds,
        TicketFact.resolution_business_minutes,
    ),
)


def _empty_times(period: str, metric: str) -> Row:
    return {
        "period": period,
        "metric": metric,
        "count": 0,
        "median_seconds": None,
        "p90_seconds": None,
        "business_count": 0,
        "median_business_minutes": None,
        "p90_business_minutes": None,
    }


async def response_times(
    session: AsyncSession, actor: Actor, w: rd.Window, f: Filters
) -> list[Row]:
    """First response and (first) resolution times per period of the response/resolution:
    median and p90 in calendar seconds, and in business minutes where a calendar applied.

    Unfiltered on PostgreSQL, once the worker has rolled the daily histograms, the
    percentiles come from them (within 2 %, ``services/histograms.py``); else exact."""
    require_staff(actor, Scope.REPORTS_READ)
    dialect = dialect_of(session)
    out: dict[tuple[str, str], Row] = {}
    for p in _periods(w):
        for metric, *_ in _DURATIONS:
            out[(p, metric)] = _empty_times(p, metric)
    until = None if _needs_ticket(actor, f) else await histograms.rolled_until(session)
    if until is not None and until > w.start:
        bounds = _bounds(w)
        found = await histograms.period_percentiles(session, bounds, w.end, until)
        none: tuple[int, dict[float, float | None]] = (0, {0.5: None, 0.9: None})
        for i, p in enumerate(_periods(w)):
            for metric, *_ in _DURATIONS:
                n, secs_q = found.get((i, metric), none)
                bn, biz_q = found.get((i, f"{metric}_business"), none)
                out[(p, metric)].update(
                    count=n,
                    median_seconds=secs_q[0.5],
                    p90_seconds=secs_q[0.9],
                    business_count=bn,
                    median_business_minutes=biz_q[0.5],
                    p90_business_minutes=biz_q[0.9],
                )
        return list(out.values())
    for metric, at, secs, biz in _DURATIONS:
        b = bucket(dialect, at, w).label("b")
        if dialect == "postgresql":
            stmt = (
                _facts(
                    actor,
                    f,
                    b,
                    func.count(secs),
                    func.percentile_cont(0.5).within_group(secs),
                    func.percentile_cont(0.9).within_group(secs),
                    func.count(biz),
                    func.percentile_cont(0.5).within_group(biz),
                    func.percentile_cont(0.9).within_group(biz),
                )
                .where(_in(at, w))
                .group_by(b)
            )
            for period, n, med, p90, bn, bmed, bp90 in (await session.execute(stmt)).all():
                out[(str(period), metric)].update(
                    count=int(n),
                    median_seconds=med,
                    p90_seconds=p90,
                    business_count=int(bn),
                    median_business_minutes=bmed,
                    p90_business_minutes=bp90,
                )
            continue
        stmt = (
            _facts(actor, f, b, secs, biz).where(_in(at, w)).order_by(b).limit(MAX_SQLITE_DURATIONS)
        )
        seconds: dict[str, list[float]] = defaultdict(list)
        business: dict[str, list[float]] = defaultdict(list)
        for period, s, m in (await session.execute(stmt)).all():
            if s is not None:
                seconds[str(period)].append(float(s))
            if m is not None:
                business[str(period)].append(float(m))
        for period in set(seconds) | set(business):
            s_vals = sorted(seconds[period])
            b_vals = sorted(business[period])
            out[(period, metric)].update(
                count=len(s_vals),
                median_seconds=rd.percentile(s_vals, 0.5),
                p90_seconds=rd.percentile(s_vals, 0.9),
                business_count=len(b_vals),
                median_business_minutes=rd.percentile(b_vals, 0.5),
                p90_business_minutes=rd.percentile(b_vals, 0.9),
            )
    return list(out.values())


async def sla(session: AsyncSession, actor: Actor, w: rd.Window, f: Filters) -> list[Row]:
    """SLA targets by the period they started in: met, breached (late or marked), in progress."""
    require_staff(actor, Scope.REPORTS_READ)
    dialect = dialect_of(session)
    late = or_(
        TicketSla.breached_at.is_not(None),
        and_(
            TicketSla.met_at.is_not(None),
            TicketSla.due_at.is_not(None),
            TicketSla.met_at > TicketSla.due_at,
        ),
    )
    bounds = _bounds(w)
    periods = _periods(w)
    if dialect == "postgresql":
        b = func.width_bucket(
            TicketSla.started_at, bindparam("bounds", bounds, type_=_INSTANTS)
        ).label("b")
    else:
        b = slot(dialect, TicketSla.started_at, w).label("b")
    stmt = (
        select(
            b,
            TicketSla.target,
            func.sum(case((late, 1), else_=0)),
            func.sum(case((and_(~late, TicketSla.met_at.is_not(None)), 1), else_=0)),
            func.sum(case((and_(~late, TicketSla.met_at.is_(None)), 1), else_=0)),
        )
        .select_from(TicketSla)
        .where(_in(TicketSla.started_at, w))
        .group_by(b, TicketSla.target)
    )
    if _needs_ticket(actor, f):
        stmt = stmt.join(Ticket, Ticket.id == TicketSla.ticket_id).where(*_where(actor, f))
    out: dict[tuple[str, str], Row] = {
        (p, t.value): {"period": p, "target": t.value, "met": 0, "breached": 0, "in_progress": 0}
        for p in _periods(w)
        for t in rd.Target
    }
    for at, target, breached, met, running in (await session.execute(stmt)).all():
        period = periods[int(at) - 1] if dialect == "postgresql" else _period_of(at, w)
        row = out[(period, str(getattr(target, "value", target)))]
        row["met"] += int(met or 0)
        row["breached"] += int(breached or 0)
        row["in_progress"] += int(running or 0)
    return list(out.values())


async def backlog(session: AsyncSession, actor: Actor, w: rd.Window, f: Filters) -> list[Row]:
    """Tickets in an open status at the end of each period, by status and by age: the sum of
    the sweep-line events before it (``domain/backlog.py``). Unfiltered, from the worker's
    rollup up to where it goes, then from the status moves; filtered, from the moves of the
    matching tickets."""
    require_staff(actor, Scope.REPORTS_READ)
    starts = rd.periods(w)
    bounds = _bounds(w)
    before: Counter[str] = Counter()
    per: list[Counter[str]] = [Counter() for _ in starts]
    live_from: datetime | None = None
    where: list[ColumnElement[bool]] | None = _where(actor, f) if _needs_ticket(actor, f) else None
    if where is None:
        until = (await rollups.rolled(session)).until
        if until is not None:
            before, per = await rollups.period_sums(session, bounds, min(until, w.end))
            live_from = until
    live_before, live = await rollups.period_deltas(session, live_from, bounds, w.end, where)
    before.update(live_before)
    for counts, more in zip(per, live, strict=True):
        counts.update(more)
    out: list[Row] = []
    running = Counter(before)
    for start, counts in zip(starts, per, strict=True):
        running.update(counts)
        out.append({"period": start.isoformat(), **bl.age_columns(running)})
    return out


def _bounds(w: rd.Window) -> list[datetime]:
    """The instants the report's periods start at (the first one at the report's start)."""
    return [w.start, *(rd.local_midnight(p, w.tz) for p in rd.periods(w)[1:])]


async def top(session: AsyncSession, actor: Actor, w: rd.Window, f: Filters) -> list[Row]:
    """The categories and the customers with the most tickets opened in the range."""
    require_staff(actor, Scope.REPORTS_READ)
    out: list[Row] = []
    # Straight from the ticket (its created_at is the fact's): one index range, grouped by
    # the id alone; only the ten winners are joined to their names.
    stmts = []
    for model, col in ((Category, Ticket.category_id), (Customer, Ticket.customer_id)):
        n = func.count().label("n")
        ranked = (
            select(col.label("id"), n)
            .where(_in(Ticket.created_at, w), col.is_not(None), *_where(actor, f))
            .group_by(col)
            .order_by(n.desc(), col)
            .limit(rd.TOP_LIMIT)
            .subquery()
        )
        stmts.append(
            select(model.id, model.name, ranked.c.n)
            .join(ranked, ranked.c.id == model.id)
            .order_by(ranked.c.n.desc(), model.id)
        )
    cats, custs = stmts
    for kind, stmt in (("category", cats), ("customer", custs)):
        for rank, (row_id, name, count) in enumerate((await session.execute(stmt)).all(), 1):
            out.append(
                {"kind": kind, "rank": rank, "id": row_id, "name": name, "tickets": int(count)}
            )
    return out


async def satisfaction(session: AsyncSession, actor: Actor, w: rd.Window, f: Filters) -> list[Row]:
    """Answers to "How did we do?" by the period of their (last) answer: good, bad, the share
    of good, and how many came with a comment."""
    require_staff(actor, Scope.REPORTS_READ)
    b = slot(dialect_of(session), TicketSatisfaction.answered_at, w).label("b")
    good = TicketSatisfaction.rating == rd.Rating.GOOD.value
    stmt = (
        select(
            b,
            func.count(),
            func.sum(case((good, 1), else_=0)),
            func.count(TicketSatisfaction.comment),
        )
        .select_from(TicketSatisfaction)
        .where(_in(TicketSatisfaction.answered_at, w), TicketSatisfaction.rating.is_not(None))
        .group_by(b)
    )
    if _needs_ticket(actor, f):
        stmt = stmt.join(Ticket, Ticket.id == TicketSatisfaction.ticket_id).where(*_where(actor, f))
    out: dict[str, Row] = {
        p: {"period": p, "answers": 0, "good": 0, "bad": 0, "good_share": None, "comments": 0}
        for p in _periods(w)
    }
    for at, n, n_good, comments in (await session.execute(stmt)).all():
        row = out[_period_of(at, w)]
        row["answers"] += int(n)
        row["good"] += int(n_good or 0)
        row["bad"] += int(n) - int(n_good or 0)
        row["comments"] += int(comments)
    for row in out.values():
        if row["answers"]:
            row["good_share"] = round(row["good"] / row["answers"], 4)
    return list(out.values())


REPORTS = {
    "volume": volume,
    "response-times": response_times,
    "sla": sla,
    "backlog": backlog,
    "satisfaction": satisfaction,
    "top": top,
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "volume": ("period", "opened", "resolved", "closed", "reopened"),
    "response-times": (
        "period",
        "metric",
        "count",
        "median_seconds",
        "p90_seconds",
        "business_count",
        "median_business_minutes",
        "p90_business_minutes",
    ),
    "sla": ("period", "target", "met", "breached", "in_progress"),
    "backlog": (
        "period",
        "open",
        *(label for label, _ in rd.AGE_BUCKETS),
        *(f"status_{status}" for status in bl.OPEN_STATUSES),
    ),
    "satisfaction": ("period", "answers", "good", "bad", "good_share", "comments"),
    "top": ("kind", "rank", "id", "name", "tickets"),
}
