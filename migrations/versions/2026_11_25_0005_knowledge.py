"""Knowledge base: articles and their full-text index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column(
            "locale",
            sa.Enum("it", "es", "en", name="locale", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_kb_article_category_id_category"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article")),
    )
    op.create_index("ix_kb_article_published_id", "kb_article", ["published", "id"], unique=False)
    op.create_index(
        "ix_kb_article_published_locale_id",
        "kb_article",
        ["published", "locale", "id"],
        unique=False,
    )
    op.create_index("ix_kb_article_locale_id", "kb_article", ["locale", "id"], unique=False)
    op.create_index(
        "ix_kb_article_category_id_id", "kb_article", ["category_id", "id"], unique=False
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE kb_article_fts USING fts5(title, body, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        # FTS5 tables take no foreign key: these triggers do what ON DELETE CASCADE does on
        # PostgreSQL, so a deleted article or ticket leaves nothing in an index (a stale row
        # would also skew bm25's document counts and so every ranking).
        op.execute(
            "CREATE TRIGGER kb_article_fts_delete AFTER DELETE ON kb_article "
            "BEGIN DELETE FROM kb_article_fts WHERE rowid = old.id; END"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS ticket_fts_delete AFTER DELETE ON ticket "
            "BEGIN DELETE FROM ticket_fts WHERE rowid = old.id; END"
        )
    else:
        op.execute(
            "CREATE TABLE kb_article_fts (kb_article_id integer PRIMARY KEY "
            "REFERENCES kb_article(id) ON DELETE CASCADE, document tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX kb_article_fts_document ON kb_article_fts USING gin (document)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ticket_fts_delete")
        op.execute("DROP TRIGGER IF EXISTS kb_article_fts_delete")
    op.execute("DROP TABLE IF EXISTS kb_article_fts")
    op.drop_index("ix_kb_article_category_id_id", table_name="kb_article")
    op.drop_index("ix_kb_article_locale_id", table_name="kb_article")
    op.drop_index("ix_kb_article_published_locale_id", table_name="kb_article")
    op.drop_index("ix_kb_article_published_id", table_name="kb_article")
    op.drop_table("kb_article")
