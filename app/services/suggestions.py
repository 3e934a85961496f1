"""Self-service: search the problems already solved, and suggest answers to a draft ticket.

Both read the tickets' full-text index (subject, description, solution, public
replies) restricted to the resolved and closed tickets the caller may see (a
customer's own and their colleagues', never another customer's) that have a
solution worth reading. Suggestions also rank by meaning when the embedding
model is installed: the draft is embedded once, compared with the vectors the
worker stored, and the two rankings are fused (``domain/ranking.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext, text_analysis
from app.db.models import KbArticle, Ticket
from app.db.pagination import ranked_page
from app.domain.access import Actor, Scope, require_scope
from app.domain.errors import InvalidInput
from app.domain.knowledge import CANDIDATES, NOT_ANSWERS, SUGGESTIONS, selective_groups
from app.domain.ranking import CALIBRATIONS, Calibration, Ranked, fuse, may_be_shown
from app.domain.tickets import TicketStatus, TicketType
from app.infra.embeddings import Embedder, VectorSet
from app.services.customers import get_by_code
from app.services.embeddings import Vectors, closest
from app.services.visibility import ticket_query

SOLVED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
R = TypeVar("R", KbArticle, Ticket)


def solved(stmt: Select[Ticket]) -> Select[Ticket]:
    """Only tickets whose solution may answer someone else's problem.

    The constants are written into the statement (``literal_execute``): bound, they
    let PostgreSQL's cached generic plan guess one matching ticket and read every
    ticket first (measured: 1.8 s instead of 55 ms over 400,000 tickets).
    """
    return stmt.where(
        Ticket.status.in_(bindparam("solved", [s.value for s in SOLVED], literal_execute=True)),
        Ticket.solution.is_not(None),
        Ticket.solution.not_in(bindparam("not_answers", sorted(NOT_ANSWERS), literal_execute=True)),
    )


async def search_solutions(
    session: AsyncSession,
    actor: Actor,
    *,
    q: str,
    customer_id: int | None,
    limit: int,
    cursor: str | None,
    embedder: Embedder | None = None,
) -> tuple[list[Ticket], str | None]:
    """Resolved and closed tickets matching every word of ``q``, best first, keyset-paged.

    When none has every word and the search is of one customer's tickets (a
    customer's own, or staff naming one), the first page holds those surely
    close in meaning instead (model installed), closest first, and no next page.
    """
    require_scope(actor, Scope.TICKETS_READ)
    groups = text_analysis.query_groups(q)
    if not groups:
        raise InvalidInput("The search finds no words to look for.", ["query", "q"])
    scope = customer_id if customer_id is not None else actor.customer_id
    hits = fulltext.scored(
        fulltext.dialect_of(session),
        "ticket_fts",
        "ticket_id",
        groups,
        any_word=False,
        customer_id=scope,
    ).subquery("hits")
    stmt = solved(ticket_query(actor)).add_columns(hits.c.score).join(hits, hits.c.id == Ticket.id)
    if scope is not None:
        # Written in, as in ``solved``: a generic plan that cannot see the customer reads
        # every match of the words from the sixth call on a connection (measured: 14 ms
        # became 110-120 ms for a customer of 20,000 tickets).
        stmt = stmt.where(Ticket.customer_id == bindparam("scope", scope, literal_execute=True))
    rows, next_cursor = await ranked_page(
        session, stmt, hits.c.score, Ticket.id, limit=limit, cursor=cursor
    )
    if not rows and cursor is None and scope is not None:

        async def visible(ids: list[int]) -> Sequence[Ticket]:
            return (
                await session.scalars(
                    solved(ticket_query(actor)).where(
                        Ticket.id.in_(ids), Ticket.customer_id == scope
                    )
                )
            ).all()

        close = await closest(session, embedder, q, limit, visible, customer_id=scope)
        if close:
            return close, None
    return [ticket for ticket, _ in rows], next_cursor


@dataclass
class Draft:
    subject: str
    description: str | None = None
    type: TicketType | None = None
    customer_code: str | None = None

    def text(self) -> str:
        return f"{self.subject}\n{self.description or ''}"


@dataclass
class Suggestions:
    articles: list[tuple[KbArticle, float]] = field(default_factory=list)
    tickets: list[tuple[Ticket, float]] = field(default_factory=list)


@dataclass
class _Pool(Generic[R]):
    """The candidates of one kind (published articles, or one customer's solved tickets) as
    they are gathered: the full-text index's best, those nearest in meaning, each loaded
    once with its indexed words."""

    table: str
    key: str
    load: Callable[[Sequence[int]], Awaitable[Sequence[R]]]
    lexical: Sequence[int]
    vectors: VectorSet | None = None
    items: dict[int, R] = field(default_factory=dict)
    words: dict[int, frozenset[str]] = field(default_factory=dict)

    async def add(self, session: AsyncSession, ids: Sequence[int]) -> None:
        """Load the candidates not loaded yet (those the caller may not see stay out)."""
        missing = [row_id for row_id in dict.fromkeys(ids) if row_id not in self.items]
        if not missing:
            return
        for item in await self.load(missing):
            self.items[item.id] = item
        found = [row_id for row_id in missing if row_id in self.items]
        self.words.update(await fulltext.indexed_words(session, self.table, self.key, found))


async def suggest(
    session: AsyncSession, actor: Actor, draft: Draft, embedder: Embedder | None = None
) -> Suggestions:
    """The published articles and solved tickets most likely to answer ``draft``, best first.

    Any of the draft's words may match; the database ranks, the embedding model
    (when given) ranks by meaning, and :func:`app.domain.ranking.fuse` keeps what
    is worth showing. The tickets are the customer's: a customer user's own
    company's, or, for staff, the one they name with ``customer_code`` (as when
    opening a ticket on a customer's behalf). Staff naming none get articles only:
    ranking any-word matches over every customer's tickets costs seconds at a
    million tickets, and ``GET /solutions`` searches them all.
    """
    require_scope(actor, Scope.KB_READ)
    require_scope(actor, Scope.TICKETS_READ)
    customer_id = await _customer_of(session, actor, draft.customer_code)
    groups = text_analysis.draft_groups(draft.subject, draft.description)
    if not groups:
        return Suggestions()
    embedding = None
    if embedder is not None and embedder.name in CALIBRATIONS:
        # The model runs in a thread (its C engine lets go of the GIL) while the database
        # ranks by words and everything that does not need the draft's vector is read:
        # the embedding costs no more than the longer of the two.
        embedding = asyncio.ensure_future(asyncio.to_thread(embedder.query, draft.text()))
    try:
        tickets: _Pool[Ticket] | None = None
        if customer_id is not None:
            tickets = _Pool(
                "ticket_fts",
                "ticket_id",
                partial(_load_tickets, session, actor, customer_id),
                await _ticket_words(session, actor, groups, customer_id),
            )
        articles: _Pool[KbArticle] = _Pool(
            "kb_article_fts",
            "kb_article_id",
            partial(_load_articles, session),
            await _article_words(session, groups),
        )
        if embedder is not None and embedding is not None:
            vectors = await Vectors.current(session, embedder)
            articles.vectors = await vectors.articles()
            if tickets is not None and customer_id is not None:
                tickets.vectors = await vectors.tickets(customer_id)
        for pool in (tickets, articles):
            if pool is not None:
                await pool.add(session, pool.lexical)
    except BaseException:
        if embedding is not None:
            embedding.cancel()
        raise
    calibration = query = None
    if embedder is not None and embedding is not None:
        query, calibration = await embedding, CALIBRATIONS[embedder.name]
    chosen_tickets: list[tuple[Ticket, float]] = []
    if tickets is not None:
        chosen_tickets = await _choose(
            session, tickets, groups, query, calibration, lambda t: t.type is draft.type
        )
    chosen_articles = await _choose(
        session, articles, groups, query, calibration, lambda _article: False
    )
    return Suggestions(articles=chosen_articles, tickets=chosen_tickets)


async def _customer_of(session: AsyncSession, actor: Actor, code: str | None) -> int | None:
    if code is None:
        return actor.customer_id
    customer = await get_by_code(session, code)
    # As when opening a ticket: "no such code" and "not yours" are one answer.
    if customer is None or (not actor.is_staff and customer.id != actor.customer_id):
        raise InvalidInput("Unknown customer code.", ["body", "customer_code"])
    return customer.id


async def _article_words(session: AsyncSession, groups: list[tuple[str, ...]]) -> Sequence[int]:
    """The published articles the full-text index ranks best for any of the draft's words."""
    hits = fulltext.scored(
        fulltext.dialect_of(session), "kb_article_fts", "kb_article_id", groups, any_word=True
    ).subquery("hits")
    return (
        await session.scalars(
            select(hits.c.id)
            .join(KbArticle, hits.c.id == KbArticle.id)
            .where(KbArticle.published.is_(True))
            .order_by(hits.c.score.desc(), hits.c.id)
            .limit(CANDIDATES)
        )
    ).all()


async def _load_articles(session: AsyncSession, ids: Sequence[int]) -> Sequence[KbArticle]:
    return (
        await session.scalars(
            select(KbArticle).where(KbArticle.id.in_(ids), KbArticle.published.is_(True))
        )
    ).all()


async def _ticket_words(
    session: AsyncSession, actor: Actor, groups: list[tuple[str, ...]], customer_id: int
) -> Sequence[int]:
    """The customer's solved tickets the full-text index ranks best for any of the words
    (on a big index, of the words rare enough to choose: see ``selective_groups``)."""
    documents, shares = await fulltext.word_shares(session, "ticket_fts")
    choosing = selective_groups(groups, shares, documents)
    hits = fulltext.scored(
        fulltext.dialect_of(session),
        "ticket_fts",
        "ticket_id",
        choosing,
        any_word=True,
        customer_id=customer_id,
    ).subquery("hits")
    stmt = solved(ticket_query(actor)).join(hits, hits.c.id == Ticket.id)
    return (
        await session.scalars(
            stmt.with_only_columns(Ticket.id)
            # Written in, as in ``solved``: a generic plan that cannot see the customer
            # ranks every matching entry from the sixth call on a connection (measured:
            # 50 ms became 400-900 ms for a customer of 20,000 tickets).
            .where(Ticket.customer_id == bindparam("customer", customer_id, literal_execute=True))
            .order_by(hits.c.score.desc(), Ticket.id)
            .limit(CANDIDATES)
        )
    ).all()


async def _load_tickets(
    session: AsyncSession, actor: Actor, customer_id: int, ids: Sequence[int]
) -> Sequence[Ticket]:
    return (
        await session.scalars(
            solved(ticket_query(actor)).where(Ticket.id.in_(ids), Ticket.customer_id == customer_id)
        )
    ).all()


async def _choose(
    session: AsyncSession,
    pool: _Pool[R],
    groups: list[tuple[str, ...]],
    query: bytes | None,
    calibration: Calibration | None,
    same_type: Callable[[R], bool],
) -> list[tuple[R, float]]:
    """Add the candidates nearest in meaning, judge them all by the domain's rule, keep the
    chosen, best first."""
    near: dict[int, float] = {}
    if query is not None and calibration is not None and pool.vectors is not None:
        near = {
            **pool.vectors.similarities(query, pool.lexical),
            **dict(pool.vectors.nearest(query, calibration.semantic_depth)),
        }
        # Only those that could be shown are read (none, often: no statement at all).
        await pool.add(session, [i for i, sim in near.items() if may_be_shown(sim, calibration)])
    lexical_rank = {row_id: n for n, row_id in enumerate(pool.lexical, start=1)}
    candidates = [
        Ranked(
            id=row_id,
            lexical_rank=lexical_rank.get(row_id),
            matched=text_analysis.matched(groups, pool.words.get(row_id, frozenset())),
            similarity=near.get(row_id),
            same_type=same_type(item),
        )
        for row_id, item in pool.items.items()
    ]
    chosen = fuse(candidates, len(groups), calibration, SUGGESTIONS)
    return [(pool.items[row_id], score) for row_id, score in chosen]
