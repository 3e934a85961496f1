"""Full-text search over tickets (and, through the same analysis, articles).

One analysis for both databases: words are lower-cased, stripped of accents,
stop words dropped, and each word is indexed with its Italian, Spanish and
English Snowball stems, so "fattura", "fatture", "factura" and "invoices" find
their relatives whatever the customer's language. The index itself is the
database's own: an FTS5 table on SQLite (ranked by bm25), a ``tsvector`` column
with a GIN index on PostgreSQL (ranked by ts_rank). Both are made by the
migrations; the ORM does not model them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]
from sqlalchemy import Integer, column, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

MAX_QUERY_WORDS = 12
_WORD = re.compile(r"[0-9a-z]+")

_IT_STOP = (
    "a ad al alla alle agli ai all anche nell nella nelle negli dell dall sull che chi ci come "
    "con da dal dalla dalle dei del della delle dello di e ed gli ha hanno ho il in io la le lo "
    "ma mi mio mia ne nei nel non o per piu poi se si sono su sul sulla ti tra tu un una uno vi "
    "questo questa quello quella"
)
_ES_STOP = (
    "el los las unos unas y en por para que su sus es son les mis tus como pero mas ya muy sin "
    "sobre este esta esto ese esa hay"
)
_EN_STOP = (
    "the an and or of to on at by for with from is are was were be been it its this that these "
    "those as not no my our your their we you he she they me us them do does did have has had "
    "can could will would should"
)
STOP_WORDS = frozenset(f"{_IT_STOP} {_ES_STOP} {_EN_STOP}".split())

_LANGUAGES = ("italian", "spanish", "english")


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=3)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=65536)
def variants(word: str) -> tuple[str, ...]:
    """The word and its stems in each language, accent-free, without repeats."""
    out = [_fold(word)]
    for language in _LANGUAGES:
        stem = _fold(_stemmer(language).stemWord(word))
        if stem and stem not in out:
            out.append(stem)
    return tuple(out)


def words(value: str) -> list[str]:
    """The searchable words of a text, in order (lower-case, stop words dropped)."""
    lowered = value.lower()
    found = []
    for raw in re.findall(r"\w+", lowered):
        folded = _fold(raw)
        if len(folded) < 2 or folded in STOP_WORDS or not _WORD.fullmatch(folded):
            continue
        found.append(raw)
    return found


def document(*parts: str | None) -> str:
    """What goes into the index for a text: every word's variants."""
    out: list[str] = []
    for part in parts:
        if part:
            for word in words(part):
                out.extend(variants(word))
    return " ".join(out)


def query_groups(q: str) -> list[tuple[str, ...]]:
    """A user's query as groups of alternatives, one group per word (bounded)."""
    groups: list[tuple[str, ...]] = []
    for word in words(q)[:MAX_QUERY_WORDS]:
        group = variants(word)
        if group not in groups:
            groups.append(group)
    return groups


def fts5_query(groups: list[tuple[str, ...]], *, any_word: bool = False) -> str:
    joiner = " OR " if any_word else " AND "
    return joiner.join("(" + " OR ".join(f'"{v}"' for v in group) + ")" for group in groups)


def tsquery(groups: list[tuple[str, ...]], *, any_word: bool = False) -> str:
    joiner = " | " if any_word else " & "
    return joiner.join("(" + " | ".join(group) + ")" for group in groups)


def dialect_of(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


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
            text("SELECT subject, description, solution FROM ticket WHERE id = :id"),
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


async def index_ticket_text(
    session: AsyncSession,
    ticket_id: int,
    subject: str,
    description: str,
    solution: str | None = None,
    replies: Sequence[str] = (),
) -> None:
    """Index a ticket from texts at hand (a new ticket: no need to read it back)."""
    kept = "\n".join(replies)[:MAX_INDEXED_REPLY_CHARS]
    title = document(subject)
    body = document(description, solution, kept)
    await _store(session, "ticket_fts", "ticket_id", ticket_id, title, body)


async def _store(
    session: AsyncSession, table: str, key: str, row_id: int, title: str, body: str
) -> None:
    params = {"id": row_id, "title": title, "body": body}
    if dialect_of(session) == "sqlite":
        await session.execute(text(f"DELETE FROM {table} WHERE rowid = :id"), params)  # noqa: S608
        await session.execute(
            text(f"INSERT INTO {table} (rowid, title, body) VALUES (:id, :title, :body)"),  # noqa: S608
            params,
        )
    else:
        await session.execute(
            text(
                f"INSERT INTO {table} ({key}, document) VALUES (:id, "  # noqa: S608
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
