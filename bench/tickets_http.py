"""Load benchmark of the ticket endpoints over real HTTP, on a database of many tickets.

    python bench/tickets_http.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_bench \
        --tickets 1000000 --seconds 10 --concurrency 16

It (1) recreates the database schema with the migrations, (2) seeds N tickets
spread over 1,000 customers straight in SQL (with their full-text entries),
(3) starts `sportello serve` in a subprocess (one worker process, RUN_WORKER off),
(4) drives each scenario for a fixed time with a pool of concurrent clients
and prints requests per second and latency percentiles, and (5) shows the
query plans of the list queries, to check that they use the indexes.
Only loopback traffic; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db import migrate
from app.services.passwords import _hasher

WORDS = [
    "fattura",
    "fatture",
    "elettronica",
    "invio",
    "SdI",
    "errore",
    "stampa",
    "registro",
    "IVA",
    "magazzino",
    "inventario",
    "certificato",
    "dominio",
    "hosting",
    "pagamento",
    "bonifico",
    "disdetta",
    "factura",
    "error",
    "envio",
    "servidor",
    "invoice",
    "printer",
    "backup",
    "password",
    "login",
    "export",
    "report",
]


def seed_sql(dialect: str, n: int) -> list[str]:
    now = "now()" if dialect == "postgresql" else "CURRENT_TIMESTAMP"
    if dialect != "postgresql":
        raise SystemExit(
            "seeding in SQL is written for PostgreSQL; use --database-url postgresql+asyncpg://..."
        )
    words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
    k = len(WORDS)
    return [
        "INSERT INTO customer (code, name, email, locale, created_at, updated_at) "
        "SELECT 'C' || g, 'Customer ' || g, 'c' || g || '@example.com', "
        "(ARRAY['it','es','en'])[1 + g % 3], now(), now() FROM generate_series(1, 1000) g",
        f"INSERT INTO ticket (number, customer_id, type, subject, description, severity, status, "
        "contact_channel, contact_email, created_at, updated_at, status_changed_at, version) "
        "SELECT 'B-' || g, 1 + g % 1000, "
        "(ARRAY['administrative','commercial','technical','order'])[1 + g % 4], "
        f"{words}[1 + g % {k}] || ' ' || {words}[1 + (g / 7) % {k}] || ' ' || g, "
        f"'Descrizione ' || {words}[1 + (g / 3) % {k}] || ' ' || {words}[1 + (g / 11) % {k}], "
        "(ARRAY['normal','normal','normal','blocking'])[1 + g % 4], "
        "(ARRAY['open','in_progress','waiting_customer','waiting_third_party','improvement',"
        "'resolved','closed'])[1 + g % 7], 'email', 'c@example.com', "
        f"{now} - (g || ' seconds')::interval, {now} - (g || ' seconds')::interval, "
        f"{now} - (g || ' seconds')::interval, 1 FROM generate_series(1, {n}) g",
        "INSERT INTO ticket_fts (ticket_id, customer_id, document) SELECT id, customer_id, "
        "setweight(to_tsvector('simple', lower(subject)), 'A') || "
        "setweight(to_tsvector('simple', lower(description)), 'B') FROM ticket",
        "ANALYZE",
    ]


async def prepare(url: str, n: int) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await asyncio.to_thread(migrate.upgrade, url)
    started = time.perf_counter()
    async with engine.begin() as conn:
        for sql in seed_sql(engine.dialect.name, n):
            await conn.execute(text(sql))
        pw = _hasher(1, 8).hash("bench-password")
        await conn.execute(
            text(
                "INSERT INTO user_account (email, name, role, locale, password_hash, is_active, "
                "customer_id, created_at, updated_at) VALUES "
                "('agent@bench.example', 'Agent', 'agent', 'en', :pw, true, NULL, now(), now()), "
                "('cust@bench.example', 'Cust', 'customer', 'it', :pw, true, 7, now(), now())"
            ),
            {"pw": pw},
        )
    print(f"seeded {n} tickets in {time.perf_counter() - started:.1f} s")
    await engine.dispose()


async def explain(url: str) -> None:
    engine = create_async_engine(url)
    queries = {
        "customer's newest": "SELECT id FROM ticket WHERE customer_id = 7 ORDER BY created_at DESC, id DESC LIMIT 26",
        "status filter": "SELECT id FROM ticket WHERE status = 'open' ORDER BY created_at DESC, id DESC LIMIT 26",
        "deep keyset page": "SELECT id FROM ticket WHERE (created_at, id) < (now() - interval '400000 seconds', 400000) ORDER BY created_at DESC, id DESC LIMIT 26",
        "full text": "SELECT id FROM ticket WHERE id IN (SELECT ticket_id FROM ticket_fts WHERE document @@ to_tsquery('simple', 'fattura & magazzino')) ORDER BY created_at DESC, id DESC LIMIT 26",
    }
    async with engine.connect() as conn:
        for name, sql in queries.items():
            rows = (
                await conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql))
            ).all()
            plan = "; ".join(r[0].strip() for r in rows[:4])
            print(f"  plan [{name}]: {plan}")
    await engine.dispose()


async def drive(
    name: str,
    call: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    base: str,
    token: str,
    seconds: float,
    concurrency: int,
) -> str:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(wid: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as c:
            i = 0
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = await call(c, wid * 1_000_000 + i)
                latencies.append(time.perf_counter() - t)
                if r.status_code >= 400:
                    errors += 1
                i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return (
        f"| {name} | {len(latencies) / elapsed:.0f} | {q[49] * 1000:.1f} | {q[94] * 1000:.1f} "
        f"| {q[98] * 1000:.1f} | {errors} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    await prepare(args.database_url, args.tickets)
    await explain(args.database_url)
    env = {
        **os.environ,
        "SPORTELLO_DATABASE_URL": args.database_url,
        "SPORTELLO_RUN_WORKER": "false",
        "SPORTELLO_AUTO_MIGRATE": "false",
        "SPORTELLO_LOG_LEVEL": "WARNING",
        "SPORTELLO_DATABASE_POOL_SIZE": "20",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(args.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{args.port}/api/v1"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        tokens = {}
        for who in ("agent", "cust"):
            r = httpx.post(
                f"{base}/auth/login",
                json={"email": f"{who}@bench.example", "password": "bench-password"},
            )
            tokens[who] = r.json()["access_token"]
        n = args.tickets
        rnd = random.Random(7)

        def body(i: int) -> dict[str, object]:
            return {
                "customer_code": "C7",
                "type": "technical",
                "subject": f"Errore stampa fattura {i}",
                "description": "La stampa della fattura elettronica si blocca con un errore.",
            }

        scenarios = [
            ("agent", "POST /tickets", lambda c, i: c.post("/tickets", json=body(i))),
            ("agent", "GET /tickets/{id}", lambda c, i: c.get(f"/tickets/{rnd.randint(1, n)}")),
            (
                "agent",
                "GET /tickets?status=open",
                lambda c, i: c.get("/tickets", params={"status": "open"}),
            ),
            ("cust", "GET /tickets (customer's own)", lambda c, i: c.get("/tickets")),
            (
                "agent",
                "GET /tickets?q=fattura magazzino",
                lambda c, i: c.get("/tickets", params={"q": "fattura magazzino"}),
            ),
            (
                "agent",
                "GET /tickets?sort=severity&type=order",
                lambda c, i: c.get("/tickets", params={"sort": "severity", "type": "order"}),
            ),
        ]
        print(
            f"\n{n} tickets, {args.concurrency} concurrent clients, {args.seconds:.0f} s per scenario\n"
        )
        print("| scenario | req/s | p50 ms | p95 ms | p99 ms | errors |")
        print("| --- | --- | --- | --- | --- | --- |")
        for who, name, call in scenarios:
            print(
                await drive(name, call, base, tokens[who], args.seconds, args.concurrency),
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
