"""Knowledge-base articles (their full-text index is made by the migration, not modelled)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, text
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


class Embedding(Base):
    """The embedding of an article or of a solved ticket, for the semantic suggestions.

    A row with no vector is waiting for the worker (``services/embeddings.py``),
    which replaces it by a row with a new ``id``: the largest id tells a process
    whether the vectors it holds in memory are still current.
    """

    __tablename__ = "embedding"
    __table_args__ = (
        # The worker's queue: the rows still to compute, oldest first.
        Index(
            "ix_embedding_pending",
            "id",
            postgresql_where=text("vector IS NULL"),
            sqlite_where=text("vector IS NULL"),
        ),
        # One customer's solved tickets, loaded into memory at once.
        Index("ix_embedding_customer_id_id", "customer_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kb_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_article.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int | None] = mapped_column(Integer)
    """The ticket's customer (none for an article)."""
    model: Mapped[str] = mapped_column(String(60), default="")
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    """float32 little-endian, L2-normalised; none while waiting for the worker."""
