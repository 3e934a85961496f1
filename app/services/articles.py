"""Knowledge-base articles: staff write them, everyone reads the published ones, and search them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db import fulltext
from app.db.base import utcnow
from app.db.models import Category, KbArticle
from app.db.pagination import MAX_ID, decode_cursor, encode_cursor, page_by_id
from app.domain.access import Actor, Locale, Scope, require_scope, require_staff
from app.domain.errors import BadRequest, InvalidInput
from app.services.visibility import load_article, visible_articles

INDEXED = ("title", "body")


async def _check_category(session: AsyncSession, category_id: int | None) -> None:
    if category_id is not None and await session.get(Category, category_id) is None:
        raise InvalidInput("No such category.", ["body", "category_id"])


async def create(
    session: AsyncSession,
    actor: Actor | None,
    *,
    title: str,
    body: str,
    category_id: int | None,
    locale: Locale,
    published: bool,
) -> KbArticle:
    """A new article, indexed in the same transaction (``actor`` None is the demo loader)."""
    if actor is not None:
        require_staff(actor, Scope.KB_WRITE)
    await _check_category(session, category_id)
    now = utcnow()
    article = KbArticle(
        title=title,
        body=body,
        category_id=category_id,
        locale=locale,
        published=published,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    await session.flush()
    await fulltext.index_article(session, article.id, article.title, article.body)
    return article


async def get(session: AsyncSession, actor: Actor, article_id: int) -> KbArticle:
    return await load_article(session, actor, article_id)


async def update(
    session: AsyncSession, actor: Actor, article_id: int, changes: dict[str, Any]
) -> KbArticle:
    """Change an article; its index entry follows when its title or body changes."""
    require_staff(actor, Scope.KB_WRITE)
    article = await load_article(session, actor, article_id)
    if "category_id" in changes:
        await _check_category(session, changes["category_id"])
    for name, value in changes.items():
        setattr(article, name, value)
    await session.flush()
    if any(name in changes for name in INDEXED):
        await fulltext.index_article(session, article.id, article.title, article.body)
    return article


async def delete(session: AsyncSession, actor: Actor, article_id: int) -> None:
    """Remove an article; its index entry goes with it (a foreign key or a trigger)."""
    require_staff(actor, Scope.KB_WRITE)
    article = await load_article(session, actor, article_id)
    await session.delete(article)
    await session.flush()


@dataclass
class Filters:
    q: str | None = None
    category_id: int | None = None
    locale: Locale | None = None
    published: bool | None = None


def _filtered(actor: Actor, f: Filters) -> Select[KbArticle]:
    stmt = select(KbArticle).where(visible_articles(actor))
    if f.category_id is not None:
        family = select(Category.id).where(
            or_(Category.id == f.category_id, Category.parent_id == f.category_id)
        )
        stmt = stmt.where(KbArticle.category_id.in_(family))
    if f.locale is not None:
        stmt = stmt.where(KbArticle.locale == f.locale)
    if f.published is not None:
        stmt = stmt.where(KbArticle.published.is_(f.published))
    return stmt


async def list_page(
    session: AsyncSession, actor: Actor, filters: Filters, *, limit: int, cursor: str | None
) -> tuple[list[KbArticle], str | None]:
    """A page of the articles the caller may read.

    Without ``q``, by id. With ``q``, every word must match (in any of its
    forms) and the best come first: the page is keyset on (score, id), so no
    offset is scanned; while the index does not change, pages neither repeat
    nor skip an article.
    """
    require_scope(actor, Scope.KB_READ)
    stmt = _filtered(actor, filters)
    if filters.q is None:
        return await page_by_id(session, stmt, KbArticle.id, limit=limit, cursor=cursor)
    groups = fulltext.query_groups(filters.q)
    if not groups:
        raise InvalidInput("The search finds no words to look for.", ["query", "q"])
    hits = fulltext.scored(
        fulltext.dialect_of(session), "kb_article_fts", "kb_article_id", groups, any_word=False
    ).subquery("hits")
    ranked = stmt.add_columns(hits.c.score).join(hits, hits.c.id == KbArticle.id)
    rows, next_cursor = await ranked_page(
        session, ranked, hits.c.score, KbArticle.id, limit=limit, cursor=cursor
    )
    return [article for article, _ in rows], next_cursor


async def ranked_page(
    session: AsyncSession,
    stmt: Select[Any],
    score: ColumnElement[float],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (whose last column is ``score``), best first, keyset on (score, id).

    The cursor is the last row's (score, id): the next page is what ranks strictly
    after it, so a deep page costs what the first does.
    """
    if cursor is not None:
        last_score, last_id = _score_key(decode_cursor(cursor))
        stmt = stmt.where(or_(score < last_score, and_(score == last_score, id_column > last_id)))
    rows = list(
        (await session.execute(stmt.order_by(score.desc(), id_column).limit(limit + 1))).all()
    )
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return rows, encode_cursor(["score", float(last[-1]), int(last[0].id)])
    return rows, None


def _score_key(key: list[Any]) -> tuple[float, int]:
    """A (score, id) cursor; one of another kind of page is a 400."""
    if (
        len(key) == 3
        and key[0] == "score"
        and isinstance(key[1], int | float)
        and not isinstance(key[1], bool)
        and math.isfinite(key[1])
        and isinstance(key[2], int)
        and not isinstance(key[2], bool)
        and 0 <= key[2] <= MAX_ID
    ):
        return float(key[1]), key[2]
    raise BadRequest("The cursor is not valid for this search.")
