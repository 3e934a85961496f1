"""Service levels, teams and routing, saved views, macros and tags.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
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
)
NEW_KINDS = (*OLD_KINDS, "sla_warning", "sla_breached")


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _kinds(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint(op.f("ck_notification_notification_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_notification_notification_kind"),
            sa.column("kind").in_(kinds),
        )


def _restore_fts_trigger() -> None:
    """A batch alter of ``ticket`` on SQLite copies the table and loses its triggers: put back
    the one that keeps the full-text table in step with deletions (migration 0005)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS ticket_fts_delete AFTER DELETE ON ticket "
            "BEGIN DELETE FROM ticket_fts WHERE rowid = old.id; END"
        )


def upgrade() -> None:
    op.create_table(
        "business_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("week", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendar")),
        sa.UniqueConstraint("name", name=op.f("uq_business_calendar_name")),
    )
    op.create_table(
        "sla_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=True),
        sa.Column("plans", sa.JSON(), nullable=False),
        sa.Column("severities", sa.JSON(), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("pause_statuses", sa.JSON(), nullable=False),
        sa.Column("warning_minutes", sa.Integer(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendar.id"],
            name=op.f("fk_sla_policy_calendar_id_business_calendar"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policy_name")),
    )
    op.create_index("ix_sla_policy_position", "sla_policy", ["position", "id"])
    op.create_index(op.f("ix_sla_policy_calendar_id"), "sla_policy", ["calendar_id"])
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("name", name=op.f("uq_team_name")),
    )
    op.create_table(
        "team_member",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("away", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_team_member_team_id_team"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_team_member_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_member")),
    )
    op.create_index("ix_team_member_user_id", "team_member", ["user_id"])
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column(
            "assignment",
            sa.Enum(
                "none",
                "round_robin",
                "fewest_open",
                name="assignment",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_routing_rule_team_id_team"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule")),
    )
    op.create_index("ix_routing_rule_position", "routing_rule", ["position", "id"])
    op.create_index(op.f("ix_routing_rule_team_id"), "routing_rule", ["team_id"])
    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("sort", sa.String(length=20), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_saved_view_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_view")),
    )
    op.create_index("ix_saved_view_owner_id", "saved_view", ["owner_id", "id"])
    op.create_table(
        "macro",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("bodies", sa.JSON(), nullable=False),
        sa.Column(
            "visibility",
            sa.Enum(
                "public", "internal", name="visibility", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("set_status", sa.String(length=32), nullable=True),
        sa.Column("add_tags", sa.JSON(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_macro_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_macro_team_id_team"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macro")),
    )
    op.create_index("ix_macro_owner_id", "macro", ["owner_id", "id"])
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("ticket_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_tag_name")),
    )
    op.create_table(
        "ticket_tag",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tag.id"], name=op.f("fk_ticket_tag_tag_id_tag"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_tag_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "tag_id", name=op.f("pk_ticket_tag")),
    )
    op.create_index("ix_ticket_tag_tag_id_ticket_id", "ticket_tag", ["tag_id", "ticket_id"])
    op.create_table(
        "ticket_sla",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column(
            "target",
            sa.Enum(
                "first_response",
                "next_response",
                "resolution",
                name="sla_target",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("target_minutes", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_minutes", sa.Float(), nullable=False),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alarm_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policy.id"],
            name=op.f("fk_ticket_sla_policy_id_sla_policy"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_sla_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_sla")),
        sa.UniqueConstraint("ticket_id", "target", "cycle", name="uq_ticket_sla_ticket_id"),
    )
    op.create_index("ix_ticket_sla_alarm_at", "ticket_sla", ["alarm_at", "id"])
    op.create_index("ix_ticket_sla_due_at", "ticket_sla", ["due_at"])
    op.create_index("ix_ticket_sla_breached_at", "ticket_sla", ["breached_at"])
    op.create_index("ix_ticket_sla_policy_id_started_at", "ticket_sla", ["policy_id", "started_at"])
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sla_policy_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            op.f("fk_ticket_team_id_team"), "team", ["team_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            op.f("fk_ticket_sla_policy_id_sla_policy"),
            "sla_policy",
            ["sla_policy_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_ticket_sla_due_at_id", ["sla_due_at", "id"])
        batch.create_index("ix_ticket_team_id_created_at", ["team_id", "created_at", "id"])
    _restore_fts_trigger()
    with op.batch_alter_table("ticket_event") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tag", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("target", sa.String(length=32), nullable=True))
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE kind IN ('sla_warning', 'sla_breached')")
    _kinds(OLD_KINDS)
    with op.batch_alter_table("ticket_event") as batch:
        batch.drop_column("target")
        batch.drop_column("tag")
        batch.drop_column("team_id")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_index("ix_ticket_team_id_created_at")
        batch.drop_index("ix_ticket_sla_due_at_id")
        batch.drop_constraint(op.f("fk_ticket_sla_policy_id_sla_policy"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_ticket_team_id_team"), type_="foreignkey")
        batch.drop_column("sla_due_at")
        batch.drop_column("sla_policy_id")
        batch.drop_column("team_id")
    _restore_fts_trigger()
    for table in (
        "ticket_sla",
        "ticket_tag",
        "tag",
        "macro",
        "saved_view",
        "routing_rule",
        "team_member",
        "team",
        "sla_policy",
        "business_calendar",
    ):
        op.drop_table(table)
