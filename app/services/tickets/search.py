"""Full-text search of the ticket list: walk the newest tickets, or ask the index first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext, text_analysis
from app.db.models import Ticket
from app.domain.errors import InvalidInput

FEW_MATCHES = 500
"""A search matching at most this many tickets is served from their ids (:func:`index_filter`)."""


async def index_filter(
    session: AsyncSession, dialect: str, q: str, *, walked: bool = False
) -> ColumnElement[bool] | None:
    """The full-text filter, or None when nothing matches (then there is nothing to read).

    First the index alone, for up to ``FEW_MATCHES + 1`` ids. A rare word (or one that
    matches nothing) is answered from those ids: a few primary-key reads, whatever the
    table's size. A common one keeps the plain ``id IN (matching)`` filter, for which the
    planner walks the newest tickets and soon finds a page of matches. Left to itself, the
    planner could not tell the two apart and walked every ticket for a word matching none.
    After a :func:`walk` that found too few matches, the words are rare among the newest
    tickets at least: the index is then read with its own GIN index whatever the planner
    expects (:func:`app.db.fulltext.probe_ids`).
    """
    groups = _groups(q)
    matching = fulltext.matching_ids(dialect, "ticket_fts", "ticket_id", groups)
    probe = fulltext.probe_ids(dialect, "ticket_fts", "ticket_id", groups) if walked else matching
    few = (await session.scalars(select(probe.subquery().c.id).limit(FEW_MATCHES + 1))).all()
    if not few:
        return None
    if len(few) <= FEW_MATCHES:
        if dialect == "postgresql":
            return Ticket.id == any_(literal(list(few), ARRAY(Integer)))
        return Ticket.id.in_(list(few))
    return Ticket.id.in_(matching)


WALK = 1000
"""How many of the newest tickets (those the other filters keep) a search looks at first."""

MAX_WALK = 25_000
"""The longest second walk, when the first found some matches but not a page's worth."""


async def walk(
    session: AsyncSession, first: Select[*tuple[Any, ...]], descending: bool, words: str, limit: int
) -> list[int] | None:
    """The ids of a search's page, found by walking the list in its order (PostgreSQL), or
    None when a bounded walk does not settle it.

    ``first`` selects the ``id`` and ``at`` (the sort's time) of the tickets the caller may
    see that the other filters keep, after the cursor, in the list's order. Each step is
    one small statement: the window of the first N of them, each probed in the text index
    by primary key, in order, until a page is full. Words found in one ticket in forty or
    more fill a page within the first ``WALK``; when those held a few matches, a second
    walk long enough for a page at that rate (at most ``MAX_WALK``) follows. A window
    holding every remaining ticket settles any search. The cost depends on how common the
    words are, not on the table's size. Otherwise (rare words) the caller asks the index
    first (:func:`index_filter`). Asked first whatever the words, the index had to be read
    through for common ones: a GIN bitmap of every match, or, planned with a ``LIMIT``, a
    scan of the table that reads all of it when two common words are rarely together
    (0.85 s at a million tickets).
    """
    groups = _groups(words)
    found, settled = await _walk(session, first, descending, groups, limit, WALK)
    if settled:
        return found
    if found:
        window = min(MAX_WALK, 2 * WALK * (limit + 1) // len(found))
        found, settled = await _walk(session, first, descending, groups, limit, window)
        if settled:
            return found
    return None


async def _walk(
    session: AsyncSession,
    first: Select[*tuple[Any, ...]],
    descending: bool,
    groups: list[tuple[str, ...]],
    limit: int,
    window_size: int,
) -> tuple[list[int], bool]:
    """The matches among the first ``window_size`` tickets (up to ``limit + 1``), and
    whether they settle the page (full, or the window held every remaining ticket)."""
    newest = first.limit(window_size).subquery("newest")

    def order(c: Any) -> list[Any]:
        if descending:
            return [c.at.desc(), c.id.desc()]
        return [c.at.asc(), c.id.asc()]

    # Counted after the LIMIT (a window function beside it would count every ticket
    # first), and ordered again, so that the probes stop as soon as the page is full.
    window = (
        select(newest.c.id, newest.c.at, func.count().over().label("seen"))
        .order_by(*order(newest.c))
        .subquery("recent")
    )
    found = (
        await session.execute(
            select(window.c.id, window.c.seen)
            .where(fulltext.ticket_matches(window.c.id, groups))
            .order_by(*order(window.c))
            .limit(limit + 1)
        )
    ).all()
    settled = len(found) > limit or bool(found and found[0].seen < window_size)
    return [row.id for row in found], settled


def _groups(q: str) -> list[tuple[str, ...]]:
    groups = text_analysis.query_groups(q)
    if not groups:
        raise InvalidInput("The search finds no words to look for.", ["query", "q"])
    return groups
