"""How self-service search scales: /solutions and /kb/suggest over a big synthetic ticket index.

    python bench/knowledge.py postgresql+asyncpg://postgres@127.0.0.1:5432/EMPTY_DB
    python bench/knowledge.py sqlite+aiosqlite:///var/bench.db
    python bench/knowledge.py URL --reuse    # times again a database it filled before

Fills an empty database (migrated here) with 400,000 tickets of 2,000 customers,
two thirds solved, each indexed with 68 words drawn from a 20,000-word
vocabulary with a skewed (Zipf-like) frequency; customer 7 gets 20,000 of them.
Then times the service calls (milliseconds, 40 runs each, fresh session each run;
PostgreSQL switches prepared statements to a generic plan from the 6th run). With
the ``[semantic]`` extra installed, the solved tickets of customers 3 and 7 and 200
articles get (random) vectors, and the suggestions are timed with the model too:
the draft's embedding included, and the first run loading the customer's vectors.

The figures (p50 / p95; with the model, the draft's embedding included) are in the
README ("Semantic suggestions", "Speed and memory"), measured with no other work on the
machine: on 2 shared cores the model's time swings by a third from one minute to the next,
so compare settings in interleaved rounds.

Before the query constants were written into the statements, PostgreSQL's
generic plan took 1.4-1.8 s for the first line from the 6th run; and ranking an
any-word draft over every customer's tickets (what staff suggestions did before
they had to name a customer) took 12-17 s.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.domain.access import Actor, Role
from app.services import embeddings as embedding_service
from app.services import suggestions

TICKETS = 400_000
CUSTOMERS = 2_000
BIG_CUSTOMER = 7
WORDS = ["w3", "w15", "w120", "w800", "w2500", "w9000", "w40", "w7", "w333", "w1200"]

FILL_PG = f"""
INSERT INTO customer (id, code, name, locale, created_at, updated_at)
  SELECT g, 'C' || g, 'c', 'it', now(), now() FROM generate_series(1, {CUSTOMERS}) g;
INSERT INTO ticket (id, number, customer_id, type, subject, description, severity, status,
  solution, contact_channel, created_at, updated_at, status_changed_at, version)
  SELECT g, 'T-' || g, CASE WHEN g % 20 = 0 THEN {BIG_CUSTOMER} ELSE g % {CUSTOMERS} + 1 END,
    'technical', 's', 'd', 'normal', CASE WHEN g % 3 = 0 THEN 'open' ELSE 'resolved' END,
    'soluzione', 'email', now(), now(), now(), 1
  FROM generate_series(1, {TICKETS}) g;
INSERT INTO ticket_fts (ticket_id, customer_id, document)
  SELECT g, CASE WHEN g % 20 = 0 THEN {BIG_CUSTOMER} ELSE g % {CUSTOMERS} + 1 END,
    setweight(to_tsvector('simple', (SELECT string_agg(
      'w' || floor(power(random(), 3) * 20000)::int, ' ') FROM generate_series(1, 8)
      WHERE g > 0)), 'A')
    || setweight(to_tsvector('simple', (SELECT string_agg(
      'w' || floor(power(random(), 3) * 20000)::int, ' ') FROM generate_series(1, 60)
      WHERE g > 0)), 'B')
  FROM generate_series(1, {TICKETS}) g;
ANALYZE;
"""


def fill_sqlite(path: str) -> None:
    rng = random.Random(1)

    def words(n: int) -> str:
        return " ".join(f"w{int(rng.random() ** 3 * 20000)}" for _ in range(n))

    conn = sqlite3.connect(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO customer (id, code, name, locale, created_at, updated_at)"
        " VALUES (?, ?, 'c', 'it', '2026-01-01', '2026-01-01')",
        [(i, f"C{i}") for i in range(1, CUSTOMERS + 1)],
    )
    conn.executemany(
        "INSERT INTO ticket (id, number, customer_id, type, subject, description, severity,"
        " status, solution, contact_channel, created_at, updated_at, status_changed_at, version)"
        " VALUES (?, ?, ?, 'technical', 's', 'd', 'normal', ?, 'soluzione', 'email',"
        " '2026-01-01', '2026-01-01', '2026-01-01', 1)",
        [
            (
                g,
                f"T-{g}",
                BIG_CUSTOMER if g % 20 == 0 else g % CUSTOMERS + 1,
                "open" if g % 3 == 0 else "resolved",
            )
            for g in range(1, TICKETS + 1)
        ],
    )
    conn.executemany(
        "INSERT INTO ticket_fts (rowid, title, body) VALUES (?, ?, ?)",
        ((g, words(8), words(60)) for g in range(1, TICKETS + 1)),
    )
    conn.execute("COMMIT")
    conn.close()


async def main(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM ticket"))
    reuse = "--reuse" in sys.argv and count == TICKETS
    if count and not reuse:
        sys.exit("the database is not empty (--reuse times again a database this filled)")
    started = time.perf_counter()
    if reuse:
        pass
    elif settings.is_sqlite:
        await asyncio.to_thread(fill_sqlite, str(make_url(url).database))
    else:
        async with engine.begin() as conn:
            for statement in FILL_PG.split(";"):
                if statement.strip():
                    await conn.execute(text(statement))
    print(f"filled in {time.perf_counter() - started:.0f} s")
    rss_before = rss_mb()
    embedder = embedding_service.embedder_for(settings)
    if embedder is not None:
        embedder.query("warm up")
        print(f"model loaded: process RSS {rss_before:.0f} MB -> {rss_mb():.0f} MB")
        if not reuse:
            async with sessions.begin() as session:
                solved = await fill_vectors(session, embedder.name)
            print(f"vectors of {solved} solved tickets (customers 3 and 7), 200 articles stored")
        times, cpu = [], []
        for n in range(20):
            t, c = time.perf_counter(), time.process_time()
            await asyncio.to_thread(embedder.query, f"{n} {DRAFT_TEXT}")
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        print(f"{'embedding one draft (wall, cpu)':40}" + pct(times) + " |" + pct(cpu))

    agent = Actor(role=Role.AGENT, user_id=None, customer_id=None, name="agent")
    small = Actor(role=Role.CUSTOMER, user_id=None, customer_id=3, name="small")
    big = Actor(role=Role.CUSTOMER, user_id=None, customer_id=BIG_CUSTOMER, name="big")

    fresh = itertools.count()

    def drafted(n: int, long: bool = False) -> suggestions.Draft:
        """A draft of its own for every call, as customers write them (and should a cache of
        drafts' vectors ever come back, it must not answer for the model)."""
        text = f"{next(fresh)} {DRAFT_TEXT}" + (f" {LONG_TAIL}" if long else "")
        return suggestions.Draft(
            subject=" ".join(WORDS[:3]), description=" ".join(WORDS[3:]) + " " + text
        )

    two = " ".join(WORDS[:2])
    calls: list[tuple[str, Callable[[AsyncSession, int], Awaitable[Any]]]] = [
        (
            "solutions, staff, every customer",
            lambda s, n: suggestions.search_solutions(
                s, agent, q=two, customer_id=None, limit=25, cursor=None
            ),
        ),
        (
            "solutions, one customer (20,000)",
            lambda s, n: suggestions.search_solutions(
                s, big, q=two, customer_id=None, limit=25, cursor=None
            ),
        ),
        ("suggest, a customer of 200", lambda s, n: suggestions.suggest(s, small, drafted(n))),
        ("suggest, a customer of 20,000", lambda s, n: suggestions.suggest(s, big, drafted(n))),
        (
            "suggest + model, customer of 200",
            lambda s, n: suggestions.suggest(s, small, drafted(n), embedder),
        ),
        (
            "suggest + model, customer of 20,000",
            lambda s, n: suggestions.suggest(s, big, drafted(n), embedder),
        ),
        (
            "suggest + model, 200, long draft",
            lambda s, n: suggestions.suggest(s, small, drafted(n, long=True), embedder),
        ),
        (
            "suggest + model, 20,000, one more solved",
            lambda s, n: suggestions.suggest(s, big, drafted(n), embedder),
        ),
    ]
    for name, call in calls:
        if embedder is None and "model" in name:
            continue
        times = []
        for n in range(RUNS):
            if "one more solved" in name:
                # Before each call (not timed), the worker stores one more of the customer's
                # vectors: the call brings its held set up to date first.
                async with sessions.begin() as session:
                    await store_one_more(session, embedder.name if embedder else "", n)
            async with sessions() as session:
                t = time.perf_counter()
                await call(session, n)
                times.append((time.perf_counter() - t) * 1000)
        print(f"{name:40}" + pct(times) + "   runs: " + " ".join(f"{ms:.0f}" for ms in times))
    print(f"process RSS at the end {rss_mb():.0f} MB")
    await engine.dispose()


RUNS = 40
DRAFT_TEXT = (
    "Buongiorno, da ieri la fattura al cliente risulta scartata e non riesco a reinviarla, "
    "potete aiutarmi a capire cosa devo correggere?"
)
LONG_TAIL = (
    "Ho provato a correggere la partita IVA e il codice destinatario, ho rigenerato il file "
    "XML e l'ho firmato di nuovo, ma il programma continua a dire che il documento è già "
    "stato trasmesso. Il commercialista dice che va emessa una nota di credito, il vostro "
    "collega al telefono invece mi ha detto di aspettare la ricevuta. "
) * 3


def pct(times: list[float]) -> str:
    """p50 and p95 of the calls after the first (the p95 of all would often be the
    first call, which loads what a process then holds), and that first call apart."""
    ordered = sorted(times[1:] or times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f" p50 {ordered[len(ordered) // 2]:5.0f} p95 {p95:5.0f} first {times[0]:5.0f} ms"


async def store_one_more(session: AsyncSession, model: str, n: int) -> None:
    """As the worker does for a ticket just solved: its vector in a new row (random, as all)."""
    import numpy as np

    ticket = (
        await session.execute(
            text(
                "SELECT ticket_id FROM embedding WHERE customer_id = :c ORDER BY ticket_id"
                " LIMIT 1 OFFSET :n"
            ),
            {"c": BIG_CUSTOMER, "n": n},
        )
    ).scalar_one()
    v = np.random.default_rng(n).standard_normal(384).astype("<f4")
    await session.execute(text("DELETE FROM embedding WHERE ticket_id = :t"), {"t": ticket})
    await session.execute(
        text(
            "INSERT INTO embedding (ticket_id, customer_id, model, vector) VALUES (:t, :c, :m, :v)"
        ),
        {"t": ticket, "c": BIG_CUSTOMER, "m": model, "v": (v / np.linalg.norm(v)).tobytes()},
    )


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def fill_vectors(session: AsyncSession, model: str) -> int:
    """Random unit vectors for the solved tickets of customers 3 and 7, and 200 articles: the
    cost of ranking by meaning does not depend on what the vectors say."""
    import numpy as np

    rng = np.random.default_rng(1)
    tickets = (
        await session.execute(
            text(
                "SELECT id, customer_id FROM ticket WHERE customer_id IN (3, 7)"
                " AND status = 'resolved'"
            )
        )
    ).all()
    await session.execute(
        text(
            "INSERT INTO kb_article (id, title, body, locale, published, created_at, updated_at)"
            " SELECT g, 't', 'b', 'it', true, '2026-01-01', '2026-01-01' FROM ("
            + " UNION ALL ".join(f"SELECT {g} AS g" for g in range(1, 201))
            + ") AS s"
        )
    )

    def unit() -> bytes:
        v = rng.standard_normal(384).astype("<f4")
        return bytes((v / np.linalg.norm(v)).astype("<f4").tobytes())

    rows = [{"a": None, "t": t, "c": c, "m": model, "v": unit()} for t, c in tickets] + [
        {"a": a, "t": None, "c": None, "m": model, "v": unit()} for a in range(1, 201)
    ]
    await session.execute(
        text(
            "INSERT INTO embedding (kb_article_id, ticket_id, customer_id, model, vector)"
            " VALUES (:a, :t, :c, :m, :v)"
        ),
        rows,
    )
    return len(tickets)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
