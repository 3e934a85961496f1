"""Service levels at scale: "breaching soon", ``sort=due`` and the worker's claim, on N tickets.

    python bench/sla.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_sla \
        --tickets 1000000

It (1) recreates the schema with the migrations (the database is emptied), (2) builds
N tickets over 1,000 customers and the SLA clocks of the open ones with INSERT ...
SELECT generate_series (due times spread from two days ago to a week ahead), (3) runs
the app's own services for the "breaching soon" view (its page and its count), a
``sort=due`` page and the worker's alarm scan, capturing the SQL they send, and (4)
prints ``EXPLAIN (ANALYZE, BUFFERS)`` of each: every one must be an index range scan
reading a bounded number of entries, whatever N is.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db import migrate
from app.domain.access import Actor, Role
from app.services import sla as sla_service
from app.services import tickets as ticket_service
from app.services import views as view_service


def seed_sql(n: int) -> list[str]:
    open_ = "(g % 7) < 5"  # five of seven statuses are still open
    return [
        "INSERT INTO customer (code, name, locale, plan, created_at, updated_at) "
        "SELECT 'C' || g, 'Customer ' || g, 'it', "
        "CASE WHEN g % 5 = 0 THEN 'Premium' ELSE 'Base' END, now(), now() "
        "FROM generate_series(1, 1000) g",
        "INSERT INTO sla_policy (name, position, active, plans, severities, types, "
        "first_response_minutes, resolution_minutes, pause_statuses, warning_minutes, "
        "created_at, updated_at) VALUES ('Tutti', 0, true, '[]', '[]', '[]', 60, 480, "
        "'[\"waiting_customer\"]', 30, now(), now())",
        "INSERT INTO ticket (number, customer_id, type, subject, description, severity, status, "
        "contact_channel, contact_email, created_at, updated_at, status_changed_at, version, "
        "sla_policy_id, sla_due_at) "
        "SELECT 'B-' || g, 1 + g % 1000, 'technical', 'Oggetto ' || g, 'Descrizione', "
        "(ARRAY['normal','normal','normal','blocking'])[1 + g % 4], "
        "(ARRAY['open','in_progress','waiting_customer','waiting_third_party','improvement',"
        "'resolved','closed'])[1 + g % 7], 'email', 'c@example.com', "
        "now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, "
        "now() - (g || ' seconds')::interval, 1, 1, "
        f"CASE WHEN {open_} AND (g % 7) <> 2 "
        "THEN now() + (((g::bigint * 7919) % 13000) - 3000 || ' minutes')::interval END "
        f"FROM generate_series(1, {n}) g",
        "INSERT INTO ticket_sla (ticket_id, policy_id, target, cycle, target_minutes, started_at, "
        "used_minutes, running_since, due_at, alarm_at) "
        "SELECT id, 1, 'resolution', 1, 480, created_at, 0, created_at, sla_due_at, "
        "sla_due_at - interval '30 minutes' FROM ticket WHERE sla_due_at IS NOT NULL",
        # The past ones were handled already: their alarms are spent.
        "UPDATE ticket_sla SET breached_at = due_at, alarm_at = NULL "
        "WHERE due_at < now() - interval '5 minutes'",
        "ANALYZE",
    ]


class Recorder:
    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, params))


async def explain(session: AsyncSession, statement: str, params: Any) -> str:
    conn = await session.connection()
    result = await conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params
    )
    return "\n".join(row[0] for row in result)


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
        print(f"seeded {n:,} tickets in {time.perf_counter() - started:.1f} s")
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM ticket), (SELECT count(*) FROM ticket_sla),"
                    " (SELECT count(*) FROM ticket WHERE sla_due_at > now()"
                    "  AND sla_due_at <= now() + interval '60 minutes')"
                )
            )
        ).one()
    print(f"tickets {counts[0]:,}; SLA clocks {counts[1]:,}; due within the hour {counts[2]:,}")

    agent = Actor(role=Role.AGENT, user_id=None, customer_id=None, name="bench")
    recorder = Recorder()
    event.listen(engine.sync_engine, "before_cursor_execute", recorder)
    cases: list[tuple[str, Any]] = []

    async def breaching_soon(session: AsyncSession) -> None:
        await view_service.page(session, agent, "breaching-soon", limit=25, cursor=None)

    async def sort_due(session: AsyncSession) -> None:
        _first, cursor = await ticket_service.list_page(
            session,
            agent,
            ticket_service.Filters(),
            sort=ticket_service.Sort.DUE,
            limit=25,
            cursor=None,
        )
        # And a page deep into the list.
        for _ in range(3):
            _items, cursor = await ticket_service.list_page(
                session,
                agent,
                ticket_service.Filters(),
                sort=ticket_service.Sort.DUE,
                limit=25,
                cursor=cursor,
            )

    async def alarms(session: AsyncSession) -> None:
        await sla_service.raise_alarms_at(
            session, __import__("datetime").datetime.now(__import__("datetime").UTC), batch=200
        )

    cases = [
        ("view breaching-soon (page + count)", breaching_soon),
        ("GET /tickets?sort=due (4 pages)", sort_due),
        ("worker: SLA alarm scan", alarms),
    ]
    for title, case in cases:
        recorder.statements.clear()
        async with AsyncSession(engine) as session:
            started = time.perf_counter()
            await case(session)
            elapsed = (time.perf_counter() - started) * 1000
            statements = list(recorder.statements)
            print(f"\n=== {title}: {elapsed:.1f} ms, {len(statements)} SELECTs")
            seen: set[str] = set()
            for statement, params in statements:
                if "FROM ticket" not in statement or statement in seen:
                    continue  # each distinct statement once (the alarm scan repeats per ticket)
                seen.add(statement)
                print("--", " ".join(statement.split())[:400])
                print(await explain(session, statement, params))
            await session.rollback()
    event.remove(engine.sync_engine, "before_cursor_execute", recorder)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--skip-seed", action="store_true", help="reuse the seeded database")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.tickets, args.skip_seed))


if __name__ == "__main__":
    main()
