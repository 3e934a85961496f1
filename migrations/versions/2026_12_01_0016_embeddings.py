"""Embeddings of articles and solved tickets, for the semantic suggestions.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embedding",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kb_article_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kb_article_id"],
            ["kb_article.id"],
            name=op.f("fk_embedding_kb_article_id_kb_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_embedding_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding")),
        sa.UniqueConstraint("kb_article_id", name=op.f("uq_embedding_kb_article_id")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_embedding_ticket_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_embedding_pending",
        "embedding",
        ["id"],
        unique=False,
        postgresql_where=sa.text("vector IS NULL"),
        sqlite_where=sa.text("vector IS NULL"),
    )
    op.create_index("ix_embedding_customer_id_id", "embedding", ["customer_id", "id"], unique=False)
    # What is already there waits for the worker like what is written from now on.
    op.execute(
        "INSERT INTO embedding (kb_article_id, model) SELECT id, '' FROM kb_article ORDER BY id"
    )
    op.execute(
        "INSERT INTO embedding (ticket_id, customer_id, model) "
        "SELECT id, customer_id, '' FROM ticket WHERE status IN ('resolved', 'closed') "
        "AND solution IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index("ix_embedding_customer_id_id", table_name="embedding")
    op.drop_index("ix_embedding_pending", table_name="embedding")
    op.drop_table("embedding")
