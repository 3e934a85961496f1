"""Portal: list-row fields on tickets, read markers, solutions kept in the timeline,
category name translations, the per-customer status index.

Revision ID: 0018
Revises: 0010
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("last_public_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_public_actor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_public_actor_name", sa.String(200), nullable=True))
        batch.add_column(
            sa.Column("public_reply_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index("ix_ticket_customer_id_status", "ticket", ["customer_id", "status"])
    with op.batch_alter_table("ticket_event") as batch:
        batch.add_column(sa.Column("solution", sa.Text(), nullable=True))
    with op.batch_alter_table("category") as batch:
        batch.add_column(sa.Column("name_it", sa.String(100), nullable=True))
        batch.add_column(sa.Column("name_es", sa.String(100), nullable=True))
        batch.add_column(sa.Column("name_en", sa.String(100), nullable=True))
    op.create_table(
        "read_marker",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_read_marker_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_read_marker_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "ticket_id", name=op.f("pk_read_marker")),
    )
    op.create_index("ix_read_marker_ticket_id", "read_marker", ["ticket_id"])
    # The existing tickets' list-row fields, from their replies and timeline.
    op.execute(
        "UPDATE ticket SET public_reply_count = (SELECT count(*) FROM reply"
        " WHERE reply.ticket_id = ticket.id AND reply.visibility = 'public')"
    )
    last = (
        "(SELECT e.{col} FROM ticket_event e WHERE e.ticket_id = ticket.id"
        " AND e.internal = false AND e.kind <> 'assigned' ORDER BY e.id DESC LIMIT 1)"
    )
    sets = ", ".join(
        f"{column} = {last.format(col=source)}"
        for column, source in (
            ("last_public_at", "created_at"),
            ("last_public_actor_id", "actor_id"),
            ("last_public_actor_name", "actor_name"),
        )
    )
    op.execute("UPDATE ticket SET " + sets)  # noqa: S608  (fixed column names only)


def downgrade() -> None:
    op.drop_index("ix_read_marker_ticket_id", table_name="read_marker")
    op.drop_table("read_marker")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("name_en")
        batch.drop_column("name_es")
        batch.drop_column("name_it")
    with op.batch_alter_table("ticket_event") as batch:
        batch.drop_column("solution")
    op.drop_index("ix_ticket_customer_id_status", table_name="ticket")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("public_reply_count")
        batch.drop_column("last_public_actor_name")
        batch.drop_column("last_public_actor_id")
        batch.drop_column("last_public_at")
