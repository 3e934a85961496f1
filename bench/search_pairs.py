"""Every two-word search of the bench's vocabulary, one after the other, timed in one process.

    SPORTELLO_DATABASE_URL=postgresql+asyncpg://.../bench python bench/search_pairs.py

Against a database made by ``bench/wrk_bench.py prepare``: the app is driven through its
ASGI interface (no HTTP, no other load of its own), as the bench's agent, for each of the
253 pairs of ``wrk_bench.WORDS`` (a word with itself included); prints the median, 90th
and 99th percentiles and the slowest searches. ``PYTHONPATH=OTHER_CHECKOUT`` times another
checkout's code.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time

os.environ.setdefault("SPORTELLO_RUN_WORKER", "false")
os.environ.setdefault("SPORTELLO_AUTO_MIGRATE", "false")
os.environ.setdefault("SPORTELLO_RATE_LIMIT_ENABLED", "false")
os.environ.setdefault("SPORTELLO_SEMANTIC_SEARCH", "false")
os.environ.setdefault("SPORTELLO_LOG_LEVEL", "WARNING")

import httpx

from app.main import create_app

AGENT_TOKEN = "bench-agent-token-0123456789abcdef"
WORDS = [
    "fattura", "elettronica", "invio", "errore", "stampa", "registro", "magazzino",
    "inventario", "certificato", "dominio", "hosting", "pagamento", "bonifico", "disdetta",
    "factura", "servidor", "invoice", "printer", "backup", "password", "login", "export",
]  # fmt: skip


async def main() -> None:
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench/api/v1", timeout=60
        ) as client:
            times = []
            for a, b in itertools.combinations_with_replacement(WORDS, 2):
                started = time.perf_counter()
                r = await client.get(
                    f"/tickets?q={a}%20{b}", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
                )
                assert r.status_code == 200, r.text
                ms = (time.perf_counter() - started) * 1000
                times.append((ms, a, b, len(r.json()["items"])))
    first, rest = times[0], sorted(times[1:])
    n = len(rest)
    print(f"first search (cold): {first[0]:.0f} ms")
    print(
        f"{n} searches: median {rest[n // 2][0]:.0f} ms, p90 {rest[int(n * 0.9)][0]:.0f} ms, "
        f"p99 {rest[int(n * 0.99)][0]:.0f} ms"
    )
    for ms, a, b, found in rest[-5:]:
        print(f"  {ms:6.0f} ms  {a} {b}  ({found} on the first page)")


if __name__ == "__main__":
    asyncio.run(main())
