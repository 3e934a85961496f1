"""Status history as report facts, and the reports' periodic rollup.

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-01 22:30:00

``ticket_status_change`` is backfilled from the timeline's ``status_changed`` events
in one set-based statement. ``report_slot``, ``report_day_histogram`` and ``report_rollup`` start empty: the
worker builds the rollup on its next run (until then reports read the facts).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELTAS = (
    "d_open",
    "d_in_progress",
    "d_waiting_customer",
    "d_waiting_third_party",
    "d_improvement",
    "d_age_1d",
    "d_age_3d",
    "d_age_7d",
    "d_age_30d",
)


def upgrade() -> None:
    op.create_table(
        "ticket_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=False),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_status_change_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_status_change")),
    )
    op.create_index("ix_ticket_status_change_at", "ticket_status_change", ["at"])
    op.create_index("ix_ticket_status_change_opened_at", "ticket_status_change", ["opened_at"])
    op.create_index(
        "ix_ticket_status_change_ticket_id", "ticket_status_change", ["ticket_id", "at"]
    )
    op.create_table(
        "report_slot",
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in DELTAS),
        sa.PrimaryKeyConstraint("slot_at", name=op.f("pk_report_slot")),
    )
    op.create_table(
        "report_rollup",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rolled_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facts_before", sa.Integer(), nullable=False),
        sa.Column("resolved_before", sa.Integer(), nullable=False),
        sa.Column("changes_before", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rollup")),
    )
    op.create_table(
        "report_day_histogram",
        sa.Column("day_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day_at", "metric", "bucket", name=op.f("pk_report_day_histogram")),
    )
    op.execute(
        "INSERT INTO ticket_status_change (ticket_id, at, opened_at, from_status, to_status) "
        "SELECT e.ticket_id, e.created_at, t.created_at, e.from_status, e.to_status "
        "FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id "
        "WHERE e.kind = 'status_changed' AND e.from_status IS NOT NULL "
        "AND e.to_status IS NOT NULL ORDER BY e.id"
    )


def downgrade() -> None:
    op.drop_table("report_day_histogram")
    op.drop_table("report_rollup")
    op.drop_table("report_slot")
    op.drop_table("ticket_status_change")
