"""Self-service: search the problems already solved, and suggest answers to a draft ticket.

Both read the tickets' full-text index (subject, description, solution, public
replies) restricted to the resolved and closed tickets the caller may see (a
customer's own and their colleagues', never another customer's) that have a
solution worth reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.models import KbArticle, Ticket
from app.db.pagination import ranked_page
from app.domain.access import Actor, Scope, require_scope
from app.domain.errors import InvalidInput
from app.domain.knowledge import CANDIDATES, NOT_ANSWERS, Candidate, choose
from app.domain.tickets import TicketStatus, TicketType
from app.services.customers import get_by_code
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
) -> tuple[list[Ticket], str | None]:
    """Resolved and closed tickets matching every word of ``q``, best first, keyset-paged."""
    require_scope(actor, Scope.TICKETS_READ)
    groups = fulltext.query_groups(q)
    if not groups:
        raise InvalidInput("The search finds no words to look for.", ["query", "q"])
    hits = fulltext.scored(
        fulltext.dialect_of(session), "ticket_fts", "ticket_id", groups, any_word=False
    ).subquery("hits")
    stmt = solved(ticket_query(actor)).add_columns(hits.c.score).join(hits, hits.c.id == Ticket.id)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    rows, next_cursor = await ranked_page(
        session, stmt, hits.c.score, Ticket.id, limit=limit, cursor=cursor
    )
    return [ticket for ticket, _ in rows], next_cursor


@dataclass
class Draft:
    subject: str
    description: str | None = None
    type: TicketType | None = None
    customer_code: str | None = None


@dataclass
class Suggestions:
    articles: list[tuple[KbArticle, float]] = field(default_factory=list)
    tickets: list[tuple[Ticket, float]] = field(default_factory=list)


async def suggest(session: AsyncSession, actor: Actor, draft: Draft) -> Suggestions:
    """The published articles and solved tickets most likely to answer ``draft``, best first.

    Any of the draft's words may match; the database ranks, and the rule of
    :func:`app.domain.knowledge.choose` keeps those that share enough words with
    the draft. The tickets are the customer's: a customer user's own company's,
    or, for staff, the one they name with ``customer_code`` (as when opening a
    ticket on a customer's behalf). Staff naming none get articles only: ranking
    any-word matches over every customer's tickets costs seconds at a million
    tickets, and ``GET /solutions`` searches them all.
    """
    require_scope(actor, Scope.KB_READ)
    require_scope(actor, Scope.TICKETS_READ)
    customer_id = await _customer_of(session, actor, draft.customer_code)
    groups = fulltext.draft_groups(draft.subject, draft.description)
    if not groups:
        return Suggestions()
    tickets = []
    if customer_id is not None:
        tickets = await _tickets(session, actor, groups, customer_id, draft.type)
    return Suggestions(articles=await _articles(session, groups), tickets=tickets)


async def _customer_of(session: AsyncSession, actor: Actor, code: str | None) -> int | None:
    if code is None:
        return actor.customer_id
    customer = await get_by_code(session, code)
    # As when opening a ticket: "no such code" and "not yours" are one answer.
    if customer is None or (not actor.is_staff and customer.id != actor.customer_id):
        raise InvalidInput("Unknown customer code.", ["body", "customer_code"])
    return customer.id


async def _articles(
    session: AsyncSession, groups: list[tuple[str, ...]]
) -> list[tuple[KbArticle, float]]:
    hits = fulltext.scored(
        fulltext.dialect_of(session), "kb_article_fts", "kb_article_id", groups, any_word=True
    ).subquery("hits")
    stmt = (
        select(KbArticle, hits.c.score)
        .join(hits, hits.c.id == KbArticle.id)
        .where(KbArticle.published.is_(True))
        .order_by(hits.c.score.desc(), KbArticle.id)
        .limit(CANDIDATES)
    )
    rows = (await session.execute(stmt)).all()
    return await _choose(
        session, "kb_article_fts", "kb_article_id", groups, rows, lambda _article: False
    )


async def _tickets(
    session: AsyncSession,
    actor: Actor,
    groups: list[tuple[str, ...]],
    customer_id: int,
    ticket_type: TicketType | None,
) -> list[tuple[Ticket, float]]:
    hits = fulltext.scored(
        fulltext.dialect_of(session), "ticket_fts", "ticket_id", groups, any_word=True
    ).subquery("hits")
    stmt = solved(ticket_query(actor)).add_columns(hits.c.score).join(hits, hits.c.id == Ticket.id)
    stmt = (
        stmt.where(Ticket.customer_id == customer_id)
        .order_by(hits.c.score.desc(), Ticket.id)
        .limit(CANDIDATES)
    )
    rows = (await session.execute(stmt)).all()
    return await _choose(
        session, "ticket_fts", "ticket_id", groups, rows, lambda t: t.type is ticket_type
    )


async def _choose(
    session: AsyncSession,
    table: str,
    key: str,
    groups: list[tuple[str, ...]],
    rows: Sequence[Row[R, float]],
    same_type: Callable[[R], bool],
) -> list[tuple[R, float]]:
    """Judge the database's best matches by the domain's rule; keep the chosen, best first."""
    by_id = {item.id: (item, float(score)) for item, score in rows}
    found = await fulltext.indexed_words(session, table, key, list(by_id))
    candidates = [
        Candidate(
            id=row_id,
            score=score,
            matched=fulltext.matched(groups, found.get(row_id, frozenset())),
            same_type=same_type(item),
        )
        for row_id, (item, score) in by_id.items()
    ]
    return [(by_id[c.id][0], c.score) for c in choose(candidates, len(groups))]
