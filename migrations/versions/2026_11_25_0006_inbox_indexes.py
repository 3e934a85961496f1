"""Indexes for inboxes sorted by last change (per customer, per status), and for the auto-close.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:54:29.799341
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_ticket_customer_id_updated_at",
        "ticket",
        ["customer_id", "updated_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_status_updated_at", "ticket", ["status", "updated_at", "id"], unique=False
    )

    op.create_index(
        "ix_ticket_status_resolved_at", "ticket", ["status", "resolved_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_status_resolved_at", table_name="ticket")
    op.drop_index("ix_ticket_status_updated_at", table_name="ticket")
    op.drop_index("ix_ticket_customer_id_updated_at", table_name="ticket")
