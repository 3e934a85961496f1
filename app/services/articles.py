"""Knowledge-base articles: staff write them, everyone reads the published ones, and search them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext, text_analysis
from app.db.base import utcnow
from app.db.models import Category, KbArticle
from app.db.pagination import page_by_id, ranked_page
from app.domain.access import Actor, Locale, Scope, require_scope, require_staff
from app.domain.errors import InvalidInput
from app.infra.embeddings import Embedder
from app.services.embeddings import closest
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
    session: AsyncSession,
    actor: Actor,
    filters: Filters,
    *,
    limit: int,
    cursor: str | None,
    embedder: Embedder | None = None,
) -> tuple[list[KbArticle], str | None]:
    """A page of the articles the caller may read.

    Without ``q``, by id. With ``q``, every word must match (in any of its
    forms) and the best come first: the page is keyset on (score, id), so no
    offset is scanned; while the index does not change, pages neither repeat
    nor skip an article. When no article has every word (a typo, another
    language) and the embedding model is installed, the first page holds the
    articles surely close in meaning instead, closest first, and no next page.
    """
    require_scope(actor, Scope.KB_READ)
    stmt = _filtered(actor, filters)
    if filters.q is None:
        return await page_by_id(session, stmt, KbArticle.id, limit=limit, cursor=cursor)
    groups = text_analysis.query_groups(filters.q)
    if not groups:
        raise InvalidInput("The search finds no words to look for.", ["query", "q"])
    hits = fulltext.scored(
        fulltext.dialect_of(session), "kb_article_fts", "kb_article_id", groups, any_word=False
    ).subquery("hits")
    ranked = stmt.add_columns(hits.c.score).join(hits, hits.c.id == KbArticle.id)
    rows, next_cursor = await ranked_page(
        session, ranked, hits.c.score, KbArticle.id, limit=limit, cursor=cursor
    )
    if not rows and cursor is None:

        async def visible(ids: list[int]) -> Sequence[KbArticle]:
            return (await session.scalars(stmt.where(KbArticle.id.in_(ids)))).all()

        close = await closest(session, embedder, filters.q, limit, visible)
        if close:
            return close, None
    return [article for article, _ in rows], next_cursor
