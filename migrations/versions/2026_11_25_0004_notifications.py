"""E-mail notifications: the outbox, and public status links.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "confirmation",
                "new_ticket",
                "status_changed",
                "agent_reply",
                "customer_reply",
                "reopened",
                name="notification_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column(
            "locale",
            sa.Enum("it", "es", "en", name="locale", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "failed",
                name="notification_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_notification_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        "ix_notification_status_next_attempt_at",
        "notification",
        ["status", "next_attempt_at", "id"],
        unique=False,
    )
    op.create_index("ix_notification_status_id", "notification", ["status", "id"], unique=False)
    op.create_index(
        "ix_notification_ticket_id_id", "notification", ["ticket_id", "id"], unique=False
    )
    op.create_index("ix_notification_created_at", "notification", ["created_at"], unique=False)

    op.create_table(
        "ticket_public_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_public_link_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_public_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ticket_public_link_token_hash")),
    )
    op.create_index(
        op.f("ix_ticket_public_link_ticket_id"), "ticket_public_link", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_public_link_ticket_id"), table_name="ticket_public_link")
    op.drop_table("ticket_public_link")
    op.drop_index("ix_notification_created_at", table_name="notification")
    op.drop_index("ix_notification_ticket_id_id", table_name="notification")
    op.drop_index("ix_notification_status_id", table_name="notification")
    op.drop_index("ix_notification_status_next_attempt_at", table_name="notification")
    op.drop_table("notification")
