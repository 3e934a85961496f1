"""Knowledge-base articles (their full-text index is made by the migration, not modelled)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models.accounts import TimestampMixin, str_enum
from app.domain.access import Locale


class KbArticle(TimestampMixin, Base):
    """An article of the knowledge base: Markdown, in one locale, a draft until published."""

    __tablename__ = "kb_article"
    __table_args__ = (
        # Lists page by id under every filter: what customers see (published, by locale),
        # what staff filter by (locale, category), and the drafts.
        Index("ix_kb_article_published_id", "published", "id"),
        Index("ix_kb_article_published_locale_id", "published", "locale", "id"),
        Index("ix_kb_article_locale_id", "locale", "id"),
        Index("ix_kb_article_category_id_id", "category_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    locale: Mapped[Locale] = mapped_column(str_enum(Locale, "locale"))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
