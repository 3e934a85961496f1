"""Ticket facts for the reports (first response, resolution, closing, reopenings).

Revision ID: 0015
Revises: 0019
Create Date: 2026-12-01 21:00:00

Existing tickets are backfilled from their replies and timeline in a few set-based
statements; business minutes are left null for them (the calendar arithmetic is
Python's), so reports fall back to calendar time for those tickets.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_KINDS = (
    "confirmation",
    "new_ticket",
    "status_changed",
    "agent_reply",
    "customer_reply",
    "reopened",
    "closed",
    "email_change",
    "sla_warning",
    "sla_breached",
)
NEW_KINDS = (*OLD_KINDS, "satisfaction_bad")


def _kinds(kinds: tuple[str, ...]) -> None:
    width = max(len(k) for k in kinds)
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint(op.f("ck_notification_notification_kind"), type_="check")
        batch.alter_column("kind", type_=sa.String(length=width), existing_nullable=False)
        batch.create_check_constraint(
            op.f("ck_notification_notification_kind"),
            sa.column("kind").in_(kinds),
        )


def _seconds(later: str, earlier: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"(julianday({later}) - julianday({earlier})) * 86400.0"
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


def upgrade() -> None:
    op.create_table(
        "ticket_fact",
        sa.Column("ticket_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_seconds", sa.Float(), nullable=True),
        sa.Column("first_response_business_minutes", sa.Float(), nullable=True),
        sa.Column("first_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.Column("resolution_business_minutes", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_fact_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_fact")),
    )
    op.create_index("ix_ticket_fact_created_at", "ticket_fact", ["created_at", "ticket_id"])
    op.create_index(
        "ix_ticket_fact_first_resolved_at", "ticket_fact", ["first_resolved_at", "ticket_id"]
    )
    op.create_index("ix_ticket_fact_closed_at", "ticket_fact", ["closed_at", "ticket_id"])
    op.create_index(
        "ix_ticket_fact_first_response_at", "ticket_fact", ["first_response_at", "ticket_id"]
    )
    op.create_table(
        "ticket_satisfaction",
        sa.Column("ticket_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.String(length=4), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_satisfaction_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_satisfaction")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ticket_satisfaction_token_hash")),
    )
    op.create_index(
        "ix_ticket_satisfaction_answered_at", "ticket_satisfaction", ["answered_at", "ticket_id"]
    )
    _kinds(NEW_KINDS)
    dialect = op.get_bind().dialect.name
    op.execute(
        "INSERT INTO ticket_fact (ticket_id, created_at, closed_at, reopen_count) "
        "SELECT id, created_at, closed_at, 0 FROM ticket"
    )
    op.execute(
        "UPDATE ticket_fact SET first_response_at = (SELECT min(r.created_at) FROM reply r "
        "WHERE r.ticket_id = ticket_fact.ticket_id AND r.visibility = 'public' "
        "AND r.author_role <> 'customer')"
    )
    op.execute(
        "UPDATE ticket_fact SET first_resolved_at = (SELECT min(e.created_at) FROM ticket_event e "
        "WHERE e.ticket_id = ticket_fact.ticket_id AND e.kind = 'status_changed' "
        "AND e.to_status = 'resolved')"
    )
    op.execute(
        "UPDATE ticket_fact SET reopen_count = (SELECT count(*) FROM ticket_event e "
        "WHERE e.ticket_id = ticket_fact.ticket_id AND e.kind = 'status_changed' "
        "AND e.from_status IN ('resolved', 'closed') "
        "AND e.to_status NOT IN ('resolved', 'closed')), "
        "reopened_at = (SELECT max(e.created_at) FROM ticket_event e "
        "WHERE e.ticket_id = ticket_fact.ticket_id AND e.kind = 'status_changed' "
        "AND e.from_status IN ('resolved', 'closed') "
        "AND e.to_status NOT IN ('resolved', 'closed'))"
    )
    # The fragments are this file's constants: nothing from outside reaches the SQL.
    op.execute(
        "UPDATE ticket_fact SET "  # noqa: S608
        f"first_response_seconds = {_seconds('first_response_at', 'created_at', dialect)}, "
        f"resolution_seconds = {_seconds('first_resolved_at', 'created_at', dialect)}"
    )


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE kind = 'satisfaction_bad'")
    _kinds(OLD_KINDS)
    op.drop_table("ticket_satisfaction")
    op.drop_table("ticket_fact")
