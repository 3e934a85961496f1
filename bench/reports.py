"""Reports at scale: a year's weekly report of each kind over N tickets on PostgreSQL.

    python bench/reports.py --database-url \
        postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_reports_bench --tickets 1000000

It (1) recreates the schema with the migrations (the database is emptied), (2) builds N
tickets spread over the past year across 1,000 customers and 20 categories, their facts
(first response, first resolution, closing, reopenings, calendar and business durations)
and their SLA targets and status moves, with INSERT ... SELECT generate_series, (3) builds
the rollup with the worker's own code, then (4) runs the app's own
report services for the year, grouped by week, in Europe/Rome, and prints each one's time
(best of three, warm cache), unfiltered (the rollup) and filtered (the facts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db import migrate
from app.domain import reports as rd
from app.domain.access import Actor, Role
from app.domain.tickets import Severity
from app.services import histograms, rollups
from app.services import reports as report_service


def seed_sql(n: int) -> list[str]:
    # Ticket g was opened g * (a year / n) ago; most are answered and resolved.
    spread = f"(g::float8 * 31536000 / {n})"
    created = f"(now() - ({spread} || ' seconds')::interval)"
    return [
        "INSERT INTO customer (code, name, locale, plan, created_at, updated_at) "
        "SELECT 'C' || g, 'Customer ' || g, 'it', 'Base', now(), now() "
        "FROM generate_series(1, 1000) g",
        "INSERT INTO category (type, name, created_at) "
        "SELECT 'technical', 'Area ' || g, now() FROM generate_series(1, 20) g",
        "INSERT INTO ticket (number, customer_id, type, category_id, subject, description, "
        "severity, status, contact_channel, contact_email, created_at, updated_at, "
        "status_changed_at, version) "
        "SELECT 'B-' || g, 1 + g % 1000, 'technical', 1 + g % 20, 'Oggetto ' || g, 'Descrizione', "
        "(ARRAY['normal','normal','normal','blocking'])[1 + g % 4], "
        "(ARRAY['open','in_progress','resolved','closed','closed','closed','resolved'])[1 + g % 7],"
        f" 'email', 'c@example.com', {created}, {created}, {created}, 1 "
        f"FROM generate_series(1, {n}) g",
        "INSERT INTO ticket_fact (ticket_id, created_at, first_response_at, "
        "first_response_seconds, first_response_business_minutes, first_resolved_at, "
        "resolution_seconds, resolution_business_minutes, closed_at, reopened_at, reopen_count) "
        "SELECT id, created_at, "
        "CASE WHEN id % 10 <> 0 THEN created_at + ((id::bigint * 7919) % 86400 || ' seconds')::interval END, "
        "CASE WHEN id % 10 <> 0 THEN (id::bigint * 7919) % 86400 END, "
        "CASE WHEN id % 10 <> 0 AND id % 2 = 0 THEN ((id::bigint * 7919) % 86400) / 180.0 END, "
        "CASE WHEN id % 7 >= 2 THEN created_at + ((id::bigint * 104729) % 864000 || ' seconds')::interval END, "
        "CASE WHEN id % 7 >= 2 THEN (id::bigint * 104729) % 864000 END, "
        "CASE WHEN id % 7 >= 2 AND id % 2 = 0 THEN ((id::bigint * 104729) % 864000) / 180.0 END, "
        "CASE WHEN id % 7 BETWEEN 3 AND 5 THEN created_at + interval '12 days' END, "
        "CASE WHEN id % 50 = 0 THEN created_at + interval '13 days' END, "
        "CASE WHEN id % 50 = 0 THEN 1 ELSE 0 END FROM ticket",
        # The status history: answered tickets (one in three) went in progress at the first
        # response, then resolution, closing, and a reopening for one in fifty.
        "INSERT INTO ticket_status_change (ticket_id, at, opened_at, from_status, to_status) "
        "SELECT ticket_id, first_response_at, created_at, 'open', 'in_progress' FROM ticket_fact "
        "WHERE first_response_at IS NOT NULL AND ticket_id % 3 = 0 "
        "AND (first_resolved_at IS NULL OR first_response_at < first_resolved_at) "
        "UNION ALL SELECT ticket_id, first_resolved_at, created_at, "
        "CASE WHEN ticket_id % 3 = 0 AND first_response_at < first_resolved_at "
        "THEN 'in_progress' ELSE 'open' END, 'resolved' FROM ticket_fact "
        "WHERE first_resolved_at IS NOT NULL "
        "UNION ALL SELECT ticket_id, closed_at, created_at, 'resolved', 'closed' FROM ticket_fact "
        "WHERE closed_at IS NOT NULL "
        "UNION ALL SELECT ticket_id, reopened_at, created_at, "
        "CASE WHEN closed_at IS NOT NULL THEN 'closed' ELSE 'resolved' END, 'open' "
        "FROM ticket_fact WHERE reopened_at IS NOT NULL AND first_resolved_at IS NOT NULL",
        "INSERT INTO ticket_sla (ticket_id, target, cycle, target_minutes, started_at, "
        "used_minutes, due_at, met_at, breached_at) "
        "SELECT id, 'first_response', 1, 480, created_at, 0, created_at + interval '8 hours', "
        "CASE WHEN id % 10 <> 0 THEN created_at + ((id::bigint * 7919) % 86400 || ' seconds')::interval END,"
        " CASE WHEN (id::bigint * 7919) % 86400 > 28800 THEN created_at + interval '8 hours' END "
        "FROM ticket",
    ]


async def run(url: str, n: int, skip_seed: bool) -> None:
    engine = create_async_engine(url)
    if not skip_seed:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await asyncio.to_thread(migrate.upgrade, url)
        started = time.perf_counter()
        async with engine.begin() as conn:
            for sql in seed_sql(n):
                await conn.execute(text(sql))
        print(f"seeded {n:,} tickets in {time.perf_counter() - started:.0f} s")
        # As autovacuum would in time: the visibility map lets the scans skip the heap.
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    async with AsyncSession(engine) as session:
        # The worker's job, from scratch (a later run only rolls the new quarter-hours).
        started_cpu, started = time.process_time(), time.perf_counter()
        slots = await rollups.rebuild(session)
        await session.commit()
        print(
            f"rollup rebuilt: {slots:,} slots in {time.perf_counter() - started:.1f} s "
            f"({time.process_time() - started_cpu:.1f} s CPU here)"
        )
        started = time.perf_counter()
        rows = await histograms.rebuild(session)
        await session.commit()
        print(f"daily histograms rebuilt: {rows:,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        await rollups.roll_up(session)
        await histograms.roll_up(session)
        await session.commit()
        print(f"a worker run with nothing new: {(time.perf_counter() - started) * 1000:.0f} ms")
    agent = Actor(role=Role.AGENT, user_id=None, customer_id=None, name="bench")
    today = date.today()
    window = rd.window(today - timedelta(days=364), today, rd.Group.WEEK, "Europe/Rome")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # A yardstick measured in the same run, as loaded as the reports: counting the year's
    # facts (one index-only range of a million entries, nothing else).
    best = float("inf")
    for _ in range(3):
        async with AsyncSession(engine) as session:
            started = time.perf_counter()
            await session.execute(
                text("SELECT count(*) FROM ticket_fact WHERE created_at >= :a AND created_at < :b"),
                {"a": window.start, "b": window.end},
            )
            best = min(best, time.perf_counter() - started)
    print(f"yardstick (count the year's facts): {best * 1000:.0f} ms")
    for label, filters in (
        ("no filter", report_service.Filters()),
        ("customer=7", report_service.Filters(customer_id=7)),
        ("severity=blocking", report_service.Filters(severity=Severity.BLOCKING)),
    ):
        print(f"-- {label}")
        total = 0.0
        for name, runner in report_service.REPORTS.items():
            best = float("inf")
            cpu = float("inf")
            rows = 0
            for _ in range(3 if label == "no filter" else 1):
                async with AsyncSession(engine) as session:
                    started_cpu, started = time.process_time(), time.perf_counter()
                    rows = len(await runner(session, agent, window, filters))
                    best = min(best, time.perf_counter() - started)
                    cpu = min(cpu, time.process_time() - started_cpu)
            total += best
            print(
                f"{name:>15}: {best * 1000:7.0f} ms  ({cpu * 1000:5.0f} ms CPU here, {rows} rows)"
            )
        print(f"{'all six':>15}: {total * 1000:7.0f} ms")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.tickets, args.skip_seed))


if __name__ == "__main__":
    main()
