"""Full-text search over tickets and articles: storing their entries and asking the indexes.

The words come from one analysis (``db/text_analysis.py``). The index itself is the
database's own: an FTS5 table on SQLite (ranked by bm25), a ``tsvector`` column
with a GIN index on PostgreSQL (ranked by ts_rank). Both are made by the
migrations; the ORM does not model them.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

from app.db import embeddings
from app.db.text_analysis import (
    document,
    fts5_query,
    tsquery,
)


def dialect_of(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


WORD_SHARES_SECONDS = 600
"""How long a process keeps the statistics of an index's words before reading them again."""

_word_shares: weakref.WeakKeyDictionary[object, dict[str, tuple[float, int, dict[str, float]]]] = (
    weakref.WeakKeyDictionary()
)


async def word_shares(session: AsyncSession, table: str) -> tuple[int, dict[str, float]]:
    """How many rows an index holds and the share of them each of its commonest words is in,
    from PostgreSQL's own statistics (``ANALYZE`` keeps them for tsvector columns: the
    planner's ``most_common_elems``), read once per process every ten minutes. SQLite keeps
    none: ``(0, {})``, and every word is used."""
    if dialect_of(session) != "postgresql":
        return 0, {}
    bind = session.get_bind()
    held = _word_shares.setdefault(bind, {})
    found = held.get(table)
    now = time.monotonic()
    if found is not None and found[0] > now:
        return found[1], found[2]
    row = (
        await session.execute(
            text(
                "SELECT greatest(c.reltuples, 0)::bigint AS documents, "
                "s.most_common_elems::text::text[] AS words, "
                "s.most_common_elem_freqs AS shares "
                "FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema() "
                "AND s.tablename = c.relname AND s.attname = 'document' "
                "WHERE c.relname = :table AND c.relnamespace = current_schema()::regnamespace"
            ),
            {"table": table},
        )
    ).first()
    documents, shares = 0, {}
    if row is not None:
        documents = int(row.documents or 0)
        shares = dict(zip(row.words or [], row.shares or [], strict=False))
    held[table] = (now + WORD_SHARES_SECONDS, documents, shares)
    return documents, shares


# --- tickets -------------------------------------------------------------------------------


MAX_INDEXED_REPLY_CHARS = 60_000
"""The public replies' text that goes into a ticket's index entry, oldest first, at most.

A ticket takes replies without end, and its entry is rebuilt from all its text at
each change: unbounded, a long conversation (log pastes, say) would pass the 1 MB a
PostgreSQL tsvector holds, and from then on every reply, edit or resolution of that
ticket would fail; and the stemming, pure Python, would grow with it on every reply.
Subject, description and solution (at most 40,000 characters) are always indexed.
"""


async def index_ticket(session: AsyncSession, ticket_id: int) -> None:
    """(Re)build a ticket's index entry from its subject, description, solution, public replies."""
    row = (
        await session.execute(
            text("SELECT subject, description, solution, customer_id FROM ticket WHERE id = :id"),
            {"id": ticket_id},
        )
    ).one()
    # The replies that start within the budget (a running total, so no more rows are read).
    replies = (
        await session.scalars(
            text(
                "SELECT body FROM (SELECT id, body, sum(length(body)) OVER (ORDER BY id) AS upto"
                " FROM reply WHERE ticket_id = :id AND visibility = 'public') AS r"
                " WHERE upto - length(body) < :budget ORDER BY id"
            ),
            {"id": ticket_id, "budget": MAX_INDEXED_REPLY_CHARS},
        )
    ).all()
    await index_ticket_text(session, ticket_id, row.subject, row.description, row.solution, replies)
    if row.solution:  # a solved ticket may answer someone else's draft: embed it too
        await embeddings.mark_stale(session, ticket_id=ticket_id, customer_id=row.customer_id)


def reply_budget(replies_before: int, body: str) -> tuple[str, int]:
    """The part of a new public reply that goes into its ticket's entry, and the new length of
    the public replies joined by newlines (``replies_before`` is that length before it).

    The same cut as :func:`index_ticket`'s: the joined replies' first
    ``MAX_INDEXED_REPLY_CHARS`` characters, so appending and rebuilding index the same words.
    """
    start = replies_before + 1 if replies_before else 0
    kept = body[: max(0, MAX_INDEXED_REPLY_CHARS - start)]
    return kept, start + len(body)


async def append_ticket_text(session: AsyncSession, ticket_id: int, text_: str) -> None:
    """Add a reply's words to a ticket's entry: one statement, however long the talk."""
    body = document(text_)
    if not body:
        return
    params = {"id": ticket_id, "body": body}
    if dialect_of(session) == "sqlite":
        sql = "UPDATE ticket_fts SET body = body || ' ' || :body WHERE rowid = :id"
    else:
        sql = (
            "UPDATE ticket_fts SET document = document || "
            "setweight(to_tsvector('simple', :body), 'B') WHERE ticket_id = :id"
        )
    await session.execute(text(sql), params)


async def index_ticket_text(
    session: AsyncSession,
    ticket_id: int,
    subject: str,
    description: str,
    solution: str | None = None,
    replies: Sequence[str] = (),
    *,
    new: bool = False,
) -> None:
    """Index a ticket from texts at hand (a ``new`` ticket: no need to read it back, nor to
    remove an entry it cannot have yet)."""
    kept = "\n".join(replies)[:MAX_INDEXED_REPLY_CHARS]
    title = document(subject)
    body = document(description, solution, kept)
    await _store(session, "ticket_fts", "ticket_id", ticket_id, title, body, new=new)


async def _store(
    session: AsyncSession,
    table: str,
    key: str,
    row_id: int,
    title: str,
    body: str,
    *,
    new: bool = False,
) -> None:
    params = {"id": row_id, "title": title, "body": body}
    if dialect_of(session) == "sqlite":
        if not new:
            await session.execute(text(f"DELETE FROM {table} WHERE rowid = :id"), params)  # noqa: S608
        await session.execute(
            text(f"INSERT INTO {table} (rowid, title, body) VALUES (:id, :title, :body)"),  # noqa: S608
            params,
        )
    else:
        # A ticket's entry carries its customer (indexed with the words: migration 0023),
        # taken from the ticket in the same statement.
        customer = (
            ("customer_id, ", "(SELECT customer_id FROM ticket WHERE id = :id), ")
            if table == "ticket_fts"
            else ("", "")
        )
        await session.execute(
            text(
                f"INSERT INTO {table} ({key}, {customer[0]}document) VALUES (:id, {customer[1]}"  # noqa: S608
                "setweight(to_tsvector('simple', :title), 'A') || "
                "setweight(to_tsvector('simple', :body), 'B')) "
                f"ON CONFLICT ({key}) DO UPDATE SET document = EXCLUDED.document"
            ),
            params,
        )


def matching_ids(
    dialect: str, table: str, key: str, groups: list[tuple[str, ...]]
) -> TextualSelect:
    """A subquery of the ids whose document matches every word of the query."""
    if dialect == "sqlite":
        clause = text(
            f"SELECT rowid AS id FROM {table} WHERE {table} MATCH :fts_q"  # noqa: S608
        ).bindparams(fts_q=fts5_query(groups))
    else:
        clause = text(
            f"SELECT {key} AS id FROM {table} "  # noqa: S608
            "WHERE document @@ to_tsquery('simple', :fts_q)"
        ).bindparams(fts_q=tsquery(groups))
    return clause.columns(column("id", Integer))


def probe_ids(dialect: str, table: str, key: str, groups: list[tuple[str, ...]]) -> TextualSelect:
    """:func:`matching_ids` asked of the text index alone, whatever the planner expects.

    On PostgreSQL the match is a ``MATERIALIZED`` CTE: planned without the caller's
    ``LIMIT``, it is always a GIN bitmap scan. Planned with it, two common words make the
    planner expect a match every few rows and scan the table for them; when the two are
    rarely together, that scan reads every entry (0.85 s at a million tickets, against
    0.05-0.1 s for the bitmap).
    """
    if dialect == "sqlite":
        return matching_ids(dialect, table, key, groups)
    return (
        text(
            f"WITH probe AS MATERIALIZED (SELECT {key} AS id FROM {table} "  # noqa: S608
            "WHERE document @@ to_tsquery('simple', :fts_q)) SELECT id FROM probe"
        )
        .bindparams(fts_q=tsquery(groups))
        .columns(column("id", Integer))
    )


_TICKET_FTS = table("ticket_fts", column("ticket_id", Integer), column("document"))


def ticket_matches(
    ticket_id: ColumnElement[int], groups: list[tuple[str, ...]]
) -> ColumnElement[bool]:
    """PostgreSQL: the ticket's index entry has every word, for a walk of the newest
    tickets (``services/tickets/search.py``): a scalar subquery, which PostgreSQL runs
    per ticket walked (one primary-key probe), whatever it expects of the words. As an
    ``EXISTS`` it becomes a join, and with the query bound, the generic plan of the sixth
    run on a connection re-checks a bitmap of every match for each ticket walked (44 ms
    instead of 2 ms at 10,000 tickets); written into the statement instead, each search
    is a new statement to parse, plan and prepare."""
    return (
        select(
            _TICKET_FTS.c.document.op("@@", return_type=Boolean)(
                func.to_tsquery(literal_column("'simple'"), tsquery(groups))
            )
        )
        .where(_TICKET_FTS.c.ticket_id == ticket_id)
        .scalar_subquery()
    )


def ranked_ids(
    dialect: str,
    table: str,
    key: str,
    groups: list[tuple[str, ...]],
    *,
    any_word: bool,
) -> TextClause:
    """``(id, score)`` of the matching rows, best first by the database's own ranking.

    bm25 gives lower scores to better rows; ts_rank higher ones: both come out
    as "higher is better" here.
    """
    if dialect == "sqlite":
        return text(
            f"SELECT rowid AS id, -bm25({table}, 3.0, 1.0) AS score FROM {table} "  # noqa: S608
            f"WHERE {table} MATCH :fts_q"
        ).bindparams(fts_q=fts5_query(groups, any_word=any_word))
    return text(
        f"SELECT {key} AS id, ts_rank(document, to_tsquery('simple', :fts_q)) AS score "  # noqa: S608
        f"FROM {table} WHERE document @@ to_tsquery('simple', :fts_q)"
    ).bindparams(fts_q=tsquery(groups, any_word=any_word))


# --- knowledge base and suggestions --------------------------------------------------------


async def index_article(session: AsyncSession, article_id: int, title: str, body: str) -> None:
    """(Re)build an article's index entry; its title weighs more than its body in the ranking."""
    await _store(
        session, "kb_article_fts", "kb_article_id", article_id, document(title), document(body)
    )
    await embeddings.mark_stale(session, kb_article_id=article_id)


def scored(
    dialect: str,
    table: str,
    key: str,
    groups: list[tuple[str, ...]],
    *,
    any_word: bool,
    customer_id: int | None = None,
) -> TextualSelect:
    """``(id, score)`` of the matching rows by the database's ranking (as :func:`ranked_ids`),
    typed, to join, order and page.

    The query is written into the statement, not bound: with a bound tsquery,
    PostgreSQL's cached generic plan cannot tell a rare word from a common one
    and, from the sixth execution on a connection, may scan and rank the whole
    index (measured: 55 ms became 1.4 s over 400,000 tickets). Writing it in is
    safe: it holds only the analysis's ``[0-9a-z]`` words and operators, and is
    quoted as a literal anyway.

    ``customer_id`` (tickets only) keeps one customer's entries: on PostgreSQL the index
    answers it with the words (the caller still joins the ticket and checks who may see it).
    """
    if dialect == "sqlite":
        sql = (
            f"SELECT rowid AS id, -bm25({table}, 3.0, 1.0) AS score FROM {table} "  # noqa: S608
            f"WHERE {table} MATCH :fts_q"
        )
        query = fts5_query(groups, any_word=any_word)
    else:
        sql = (
            f"SELECT {key} AS id, ts_rank(document, to_tsquery('simple', :fts_q)) AS score "  # noqa: S608
            f"FROM {table} WHERE document @@ to_tsquery('simple', :fts_q)"
        )
        if customer_id is not None:
            sql += f" AND customer_id = {int(customer_id)}"
        query = tsquery(groups, any_word=any_word)
    return (
        text(sql)
        .bindparams(bindparam("fts_q", query, literal_execute=True))
        .columns(column("id", Integer), column("score", Float))
    )


async def indexed_words(
    session: AsyncSession, table: str, key: str, ids: list[int]
) -> dict[int, frozenset[str]]:
    """The indexed words (every form) of some rows, read from their index entries: already
    analysed, so nothing is stemmed twice, and on PostgreSQL each distinct word comes once."""
    if not ids:
        return {}
    if dialect_of(session) == "sqlite":
        stmt = text(
            f"SELECT rowid AS id, title || ' ' || body AS words FROM {table} "  # noqa: S608
            "WHERE rowid IN :ids"
        )
    else:
        stmt = text(
            f"SELECT {key} AS id, array_to_string(tsvector_to_array(document), ' ') AS words "  # noqa: S608
            f"FROM {table} WHERE {key} IN :ids"
        )
    rows = await session.execute(stmt.bindparams(bindparam("ids", ids, expanding=True)))
    return {int(row.id): frozenset(row.words.split()) for row in rows.all()}


async def index_new_tickets(
    session: AsyncSession, tickets: Sequence[tuple[int, str, str, str | None, Sequence[str]]]
) -> None:
    """Index many new tickets at once (the bulk import): one statement for all of them.
    Each is ``(id, subject, description, solution, public replies)``."""
    if not tickets:
        return
    params = [
        {
            "id": ticket_id,
            "title": document(subject),
            "body": document(description, solution, "\n".join(replies)[:MAX_INDEXED_REPLY_CHARS]),
        }
        for ticket_id, subject, description, solution, replies in tickets
    ]
    if dialect_of(session) == "sqlite":
        stmt = "INSERT INTO ticket_fts (rowid, title, body) VALUES (:id, :title, :body)"
    else:
        stmt = (
            "INSERT INTO ticket_fts (ticket_id, customer_id, document) VALUES (:id, "
            "(SELECT customer_id FROM ticket WHERE id = :id), "
            "setweight(to_tsvector('simple', :title), 'A') || "
            "setweight(to_tsvector('simple', :body), 'B'))"
        )
    await session.execute(text(stmt), params)
