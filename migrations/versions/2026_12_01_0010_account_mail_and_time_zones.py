"""Customers' closings told to the desk, confirmed e-mail changes, users' time zones.

- notification: kinds ``closed`` and ``email_change``; ``ticket_id`` may be null (a mail
  about an account).
- email_change: a new address waiting for its confirmation link to be opened.
- user_account.time_zone: where a plain date in a filter starts (by locale for existing users).

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "confirmation",
    "new_ticket",
    "status_changed",
    "agent_reply",
    "customer_reply",
    "reopened",
)
NEW_KINDS = (*OLD_KINDS, "closed", "email_change")


def _kinds(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch.drop_constraint(op.f("ck_notification_notification_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_notification_notification_kind"), _kinds(NEW_KINDS))

    op.add_column(
        "user_account",
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.execute("UPDATE user_account SET time_zone = 'Europe/Rome' WHERE locale = 'it'")
    op.execute("UPDATE user_account SET time_zone = 'Europe/Madrid' WHERE locale = 'es'")

    op.create_table(
        "email_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_email_change_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_change")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_change_token_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_email_change_user_id")),
    )


def downgrade() -> None:
    op.drop_table("email_change")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("time_zone")
    op.execute(
        "DELETE FROM notification WHERE ticket_id IS NULL OR kind IN ('closed', 'email_change')"
    )
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint(op.f("ck_notification_notification_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_notification_notification_kind"), _kinds(OLD_KINDS))
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
