"""Where the embeddings of articles and solved tickets wait for the worker, and are read back.

Writing an article, or solving (or editing) a ticket, marks its embedding as to
be computed: a row with no vector, in the writer's own transaction. The worker
(``services/embeddings.py``) computes the vectors off the request path.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Embedding


async def mark_stale(
    session: AsyncSession,
    *,
    kb_article_id: int | None = None,
    ticket_id: int | None = None,
    customer_id: int | None = None,
) -> None:
    """Ask the worker to (re)compute an article's or a ticket's embedding."""
    values = {
        "kb_article_id": kb_article_id,
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "model": "",
        "vector": None,
    }
    key = "kb_article_id" if kb_article_id is not None else "ticket_id"
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Embedding).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[key],
            set_={"vector": None, "customer_id": customer_id},
        )
    )


async def latest(session: AsyncSession, customer_id: int | None) -> int:
    """The largest row id of the articles' rows (no customer) or of one customer's tickets: it
    grows whenever one of their vectors is stored (a row is replaced to store one)."""
    scope = (
        Embedding.customer_id.is_(None)
        if customer_id is None
        else Embedding.customer_id == customer_id
    )
    return int(
        await session.scalar(select(func.coalesce(func.max(Embedding.id), 0)).where(scope)) or 0
    )


async def article_vectors(
    session: AsyncSession, model: str, after: int = 0
) -> list[tuple[int, bytes]]:
    """The articles' vectors; with ``after``, only those stored since that :func:`latest`."""
    rows = await session.execute(
        select(Embedding.kb_article_id, Embedding.vector).where(
            Embedding.customer_id.is_(None),
            Embedding.id > after,
            Embedding.kb_article_id.is_not(None),
            Embedding.vector.is_not(None),
            Embedding.model == model,
        )
    )
    return [(int(a or 0), bytes(v or b"")) for a, v in rows.all()]


async def ticket_vectors(
    session: AsyncSession, model: str, customer_id: int, after: int = 0
) -> list[tuple[int, bytes]]:
    """One customer's solved tickets' vectors; with ``after``, only those stored since that
    :func:`latest` (the index on ``(customer_id, id)`` finds them)."""
    rows = await session.execute(
        select(Embedding.ticket_id, Embedding.vector).where(
            Embedding.customer_id == customer_id,
            Embedding.id > after,
            Embedding.ticket_id.is_not(None),
            Embedding.vector.is_not(None),
            Embedding.model == model,
        )
    )
    return [(int(t or 0), bytes(v or b"")) for t, v in rows.all()]
