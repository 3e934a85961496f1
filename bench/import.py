"""Benchmark of the bulk import over real HTTP: N generated tickets in requests of 1,000.

    python bench/import.py --tickets 100000
    python bench/import.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sportello_bench \
        --tickets 100000

It (1) recreates the schema with the migrations (a fresh SQLite file by default), (2) adds an
admin and 20 customers, (3) starts `sportello serve` in a subprocess (one process, RUN_WORKER
off), (4) posts the generated export (`tests/exports.py`: 0-3 replies per ticket, mixed
statuses, two years of history) in requests of `--batch` tickets, `--concurrency` at a time,
and prints the time of each request, the total and tickets per second. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db import migrate
from app.services.passwords import _hasher
from tests.exports import export

CUSTOMERS = 20
PASSWORD = "bench-password"


async def prepare(url: str) -> None:
    engine = create_async_engine(url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await asyncio.to_thread(migrate.upgrade, url)
    now = "now()" if engine.dialect.name == "postgresql" else "CURRENT_TIMESTAMP"
    async with engine.begin() as conn:
        for i in range(CUSTOMERS):
            await conn.execute(
                text(
                    "INSERT INTO customer (code, name, email, locale, created_at, updated_at)"
                    f" VALUES (:code, :name, :email, 'it', {now}, {now})"
                ),
                {"code": f"IMP{i}", "name": f"Cliente {i}", "email": f"c{i}@example.com"},
            )
        await conn.execute(
            text(
                "INSERT INTO user_account (email, name, role, locale, password_hash, is_active,"
                f" created_at, updated_at) VALUES ('admin@bench.example', 'Admin', 'admin', 'en',"
                f" :pw, true, {now}, {now})"
            ),
            {"pw": _hasher(1, 8).hash(PASSWORD)},
        )
    await engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(base: str, tickets: int, batch: int, concurrency: int) -> None:
    codes = [f"IMP{i}" for i in range(CUSTOMERS)]
    started = time.perf_counter()
    data = export(tickets, codes, prefix="BENCH-")
    replies = sum(len(t["replies"]) for t in data)
    print(
        f"generated {tickets} tickets ({replies} replies) in {time.perf_counter() - started:.1f} s"
    )
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        r = await client.post(
            "/auth/login", json={"email": "admin@bench.example", "password": PASSWORD}
        )
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        batches = [data[i : i + batch] for i in range(0, len(data), batch)]
        times: list[float] = []
        created = 0
        gate = asyncio.Semaphore(concurrency)

        async def one(chunk: list[dict[str, object]]) -> None:
            nonlocal created
            async with gate:
                t = time.perf_counter()
                r = await client.post("/imports/tickets", json={"tickets": chunk})
                times.append(time.perf_counter() - t)
                r.raise_for_status()
                created += r.json()["created"]

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in batches))
        total = time.perf_counter() - started
    print(
        f"imported {created} of {tickets} tickets in {len(batches)} requests of {batch}"
        f" ({concurrency} at a time): {total:.1f} s, {created / total:.0f} tickets/s;"
        f" per request median {statistics.median(times):.2f} s, max {max(times):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="sportello-import-bench-")
    url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
    asyncio.run(prepare(url))
    port = free_port()
    env = {
        **os.environ,
        "SPORTELLO_DATABASE_URL": url,
        "SPORTELLO_RUN_WORKER": "false",
        "SPORTELLO_AUTO_MIGRATE": "false",
        "SPORTELLO_LOG_LEVEL": "WARNING",
        "SPORTELLO_STORAGE_DIR": f"{tmp}/attachments",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        asyncio.run(run(base, args.tickets, args.batch, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
