"""Attachments: files of tickets and replies, stored by their SHA-256.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["reply.id"],
            name=op.f("fk_attachment_reply_id_reply"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_attachment_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index("ix_attachment_ticket_id_id", "attachment", ["ticket_id", "id"], unique=False)
    op.create_index("ix_attachment_reply_id", "attachment", ["reply_id"], unique=False)
    op.create_index("ix_attachment_sha256", "attachment", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attachment_sha256", table_name="attachment")
    op.drop_index("ix_attachment_reply_id", table_name="attachment")
    op.drop_index("ix_attachment_ticket_id_id", table_name="attachment")
    op.drop_table("attachment")
