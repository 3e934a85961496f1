"""The embeddings of articles and solved tickets: computed by the worker, held in memory to rank.

``embed_pending`` is a worker job: it claims the rows waiting for a vector
(FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers share them), embeds
their texts outside the event loop, and stores each vector in a new row (a new
id). ``Vectors`` keeps, per database, the articles' vectors and those of the
customers' solved tickets asked about lately as matrices in the process, and
reloads a set when its largest row id shows that one of its vectors changed.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import embeddings as store
from app.db.models import Embedding, KbArticle, Ticket
from app.domain.ranking import CALIBRATIONS, close_enough
from app.infra.embeddings import Embedder, VectorSet, get_embedder

BATCH = 16
"""Rows embedded per run of the job, in one transaction (~0.05-0.1 s each on one core)."""
SQLITE_BATCH = 4
"""On SQLite the job's transaction holds the one write lock while the model runs: fewer rows
a run, so that a request's write waits a fraction of a second at most."""
MAX_CACHED_TICKETS = 200_000
"""Solved tickets' vectors held in memory at most (1.5 KB each), the customers asked lately."""
MAX_MERGES = 50
"""Refreshes of a held set (each reading the vectors stored since) before it is read whole."""
LOOKBACK_IDS = 64
"""A refresh reads this many row ids before the held version as well (the worker's
concurrent batches take ids a few dozen apart and may commit out of order)."""
REREAD_SECONDS = 600.0
"""A held set is read whole again when asked for this long after it was last read whole,
whatever its version says: a row whose transaction took its id before a newer one's and
committed after it (farther back than ``LOOKBACK_IDS``), or a row deleted, is not missed
or kept for longer than this."""


def embedder_for(settings: Settings) -> Embedder | None:
    return get_embedder(settings.semantic_search, settings.embedding_threads)


def article_text(title: str, body: str) -> str:
    return f"{title}\n{body}"


def ticket_text(subject: str, description: str, solution: str | None) -> str:
    return f"{subject}\n{description}\n{solution or ''}"


_retired: set[tuple[int, str]] = set()


async def embed_pending(
    session: AsyncSession, settings: Settings, *, batch: int | None = None
) -> int:
    """Compute the embeddings that are missing or stale; how many were stored."""
    embedder = embedder_for(settings)
    if embedder is None:
        return 0
    if batch is None:
        batch = SQLITE_BATCH if session.get_bind().dialect.name == "sqlite" else BATCH
    key = (id(session.get_bind()), embedder.name)
    if key not in _retired:
        # Vectors of another model are not comparable: compute them again, once per process.
        await session.execute(
            update(Embedding)
            .where(Embedding.vector.is_not(None), Embedding.model != embedder.name)
            .values(vector=None)
        )
        _retired.add(key)
    rows = (
        await session.scalars(
            select(Embedding)
            .where(Embedding.vector.is_(None))
            .order_by(Embedding.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    articles = {
        a.id: article_text(a.title, a.body)
        for a in await session.scalars(
            select(KbArticle).where(
                KbArticle.id.in_([r.kb_article_id for r in rows if r.kb_article_id])
            )
        )
    }
    tickets = {
        t.id: (t.customer_id, ticket_text(t.subject, t.description, t.solution))
        for t in await session.scalars(
            select(Ticket).where(Ticket.id.in_([r.ticket_id for r in rows if r.ticket_id]))
        )
    }
    todo: list[tuple[Embedding, int | None, str]] = []
    for row in rows:
        if row.kb_article_id in articles:
            todo.append((row, None, articles[row.kb_article_id]))
        elif row.ticket_id in tickets:
            customer_id, text = tickets[row.ticket_id]
            todo.append((row, customer_id, text))
    vectors = await asyncio.to_thread(embedder.passages, [text for _, _, text in todo])
    await session.execute(delete(Embedding).where(Embedding.id.in_([r.id for r in rows])))
    await session.execute(
        insert(Embedding),
        [
            {
                "kb_article_id": row.kb_article_id,
                "ticket_id": row.ticket_id,
                "customer_id": customer_id,
                "model": embedder.name,
                "vector": vector,
            }
            for (row, customer_id, _), vector in zip(todo, vectors, strict=True)
        ],
    )
    return len(todo)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A set of vectors as held: the version it is at, when it was last read whole, and how
    many times it was refreshed since."""

    version: int
    vectors: VectorSet
    read_at: float
    merged: int = 0
    """Refreshes since the set was read whole."""

    def refreshable(self, version: int) -> bool:
        """Whether reading only the vectors stored since is enough to reach ``version``.
        A version that went back (its newest row deleted), many refreshes or an old read
        make the set be read whole again: a ticket deleted or no longer solved leaves its
        vector behind until then (harmless: what the caller may not see is filtered out
        when the items are loaded)."""
        return version > self.version and self.merged < MAX_MERGES and self.fresh()

    def fresh(self) -> bool:
        """Read whole less than ``REREAD_SECONDS`` ago."""
        return time.monotonic() - self.read_at < REREAD_SECONDS


@dataclass
class _Held:
    """One database's vectors in this process, each set with the version it was loaded at."""

    model: str = ""
    articles: _Loaded | None = None
    tickets: OrderedDict[int, _Loaded] = field(default_factory=OrderedDict)


_held: weakref.WeakKeyDictionary[object, _Held] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class Vectors:
    """The vectors of one database as this process holds them; each set is checked against
    the database's version of it (one indexed max) when asked for and, if it moved, brought
    up to date by reading the vectors stored since (a few rows by the same index), not the
    whole set again: a customer of 20,000 solved tickets solving one more costs the next
    suggestion one row, not 30 MB. A ticket solved for one customer touches nobody else's."""

    def __init__(self, session: AsyncSession, embedder: Embedder, held: _Held) -> None:
        self._session = session
        self._embedder = embedder
        self._held = held

    @classmethod
    async def current(cls, session: AsyncSession, embedder: Embedder) -> Vectors:
        bind = session.get_bind()
        with _lock:
            held = _held.get(bind)
            if held is None or held.model != embedder.name:
                held = _held[bind] = _Held(model=embedder.name)
        return cls(session, embedder, held)

    async def articles(self) -> VectorSet:
        model = self._embedder.name
        version = await store.latest(self._session, None)
        found = await _brought_up(
            self._held.articles,
            version,
            lambda after: store.article_vectors(self._session, model, after),
        )
        self._held.articles = found
        return found.vectors

    async def tickets(self, customer_id: int) -> VectorSet:
        held = self._held
        model = self._embedder.name
        version = await store.latest(self._session, customer_id)
        found = await _brought_up(
            held.tickets.get(customer_id),
            version,
            lambda after: store.ticket_vectors(self._session, model, customer_id, after),
        )
        held.tickets[customer_id] = found
        held.tickets.move_to_end(customer_id)  # the newest: others are dropped first
        while sum(len(v.vectors) for v in held.tickets.values()) > MAX_CACHED_TICKETS:
            if next(iter(held.tickets)) == customer_id:
                break
            held.tickets.popitem(last=False)
        return found.vectors


async def _brought_up(
    found: _Loaded | None,
    version: int,
    read: Callable[[int], Awaitable[list[tuple[int, bytes]]]],
) -> _Loaded:
    """The held set at ``version``: as it is, merged with the vectors stored since, or read
    whole."""
    if found is None:
        return _Loaded(version, VectorSet(await read(0)), time.monotonic())
    if found.version == version and found.fresh():
        return found
    if found.refreshable(version):
        # A little before the held version too: a row of a transaction that took its id
        # earlier but committed after the newer one was seen is picked up by the next read.
        since = await read(max(0, found.version - LOOKBACK_IDS))
        return _Loaded(version, found.vectors.merged(since), found.read_at, found.merged + 1)
    return _Loaded(version, VectorSet(await read(0)), time.monotonic())


def forget() -> None:
    """Drop the vectors held in memory (for a database whose ids started again, as in tests)."""
    with _lock:
        _held.clear()


class _Identified(Protocol):
    id: int


R = TypeVar("R", bound=_Identified)

STALE_SLACK = 10
"""Nearest items read beyond the page: a held vector whose item went away (deleted, reopened,
not yet reread) must not take a place, nor set the best similarity the others are held to."""


async def closest(
    session: AsyncSession,
    embedder: Embedder | None,
    text: str,
    limit: int,
    load: Callable[[list[int]], Awaitable[Sequence[R]]],
    *,
    customer_id: int | None = None,
) -> list[R]:
    """The articles (or, given a customer, its solved tickets) surely close to ``text`` by
    meaning, closest first, as ``load`` gives those the caller may see; none without the
    model. For searches whose words found nothing."""
    if embedder is None or embedder.name not in CALIBRATIONS:
        return []
    calibration = CALIBRATIONS[embedder.name]
    query = await asyncio.to_thread(embedder.query, text)
    vectors = await Vectors.current(session, embedder)
    held = await (vectors.articles() if customer_id is None else vectors.tickets(customer_id))
    near = held.nearest(query, limit + STALE_SLACK)
    if not near:
        return []
    found = {item.id: item for item in await load([item_id for item_id, _ in near])}
    seen = [(item_id, sim) for item_id, sim in near if item_id in found]
    return [found[i] for i in close_enough(seen, calibration, limit)]
