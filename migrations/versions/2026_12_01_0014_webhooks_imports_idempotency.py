"""Webhooks and their deliveries, imported tickets, Idempotency-Keys for every creation.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("include_internal", sa.Boolean(), nullable=False),
        sa.Column("ticket_type", sa.String(length=16), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_webhook_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_webhook_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
    )
    op.create_index(op.f("ix_webhook_customer_id"), "webhook", ["customer_id"], unique=False)
    op.create_index(op.f("ix_webhook_created_by_id"), "webhook", ["created_by_id"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "delivered",
                "failed",
                name="webhook_delivery_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook.id"],
            name=op.f("fk_webhook_delivery_webhook_id_webhook"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_webhook_delivery_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    op.create_index(
        "ix_webhook_delivery_status_next_attempt_at",
        "webhook_delivery",
        ["status", "next_attempt_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_delivery_webhook_id_ticket_id_id",
        "webhook_delivery",
        ["webhook_id", "ticket_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_delivery_webhook_id_status_id",
        "webhook_delivery",
        ["webhook_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_delivery_ticket_id", "webhook_delivery", ["ticket_id"], unique=False
    )
    op.create_index(
        "ix_webhook_delivery_webhook_id_id", "webhook_delivery", ["webhook_id", "id"], unique=False
    )
    op.create_index(
        "ix_webhook_delivery_status_created_at",
        "webhook_delivery",
        ["status", "created_at"],
        unique=False,
    )

    op.create_table(
        "ticket_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_import_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_import")),
        sa.UniqueConstraint("external_id", name=op.f("uq_ticket_import_external_id")),
    )
    op.create_index(
        op.f("ix_ticket_import_ticket_id"), "ticket_import", ["ticket_id"], unique=False
    )

    with op.batch_alter_table("idempotency_key") as batch:
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("status_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("response", sa.Text(), nullable=True))
        batch.add_column(sa.Column("location", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_key WHERE ticket_id IS NULL")
    with op.batch_alter_table("idempotency_key") as batch:
        batch.drop_column("location")
        batch.drop_column("response")
        batch.drop_column("status_code")
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_ticket_import_ticket_id"), table_name="ticket_import")
    op.drop_table("ticket_import")
    op.drop_index("ix_webhook_delivery_status_created_at", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_webhook_id_id", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_ticket_id", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_webhook_id_status_id", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_webhook_id_ticket_id_id", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_status_next_attempt_at", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_webhook_created_by_id"), table_name="webhook")
    op.drop_index(op.f("ix_webhook_customer_id"), table_name="webhook")
    op.drop_table("webhook")
