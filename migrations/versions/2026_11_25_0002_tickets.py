"""Tickets: categories, tickets, timeline, replies, numbering, idempotency, full-text index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:49:32.544325
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "administrative",
                "commercial",
                "technical",
                "order",
                name="ticket_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["category.id"],
            name=op.f("fk_category_parent_id_category"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
    )
    op.create_index(op.f("ix_category_parent_id"), "category", ["parent_id"], unique=False)
    op.create_table(
        "ticket_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_ticket_counter")),
    )
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column(
            "type",
            sa.Enum(
                "administrative",
                "commercial",
                "technical",
                "order",
                name="ticket_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "severity",
            sa.Enum(
                "normal", "blocking", name="severity", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "waiting_customer",
                "waiting_third_party",
                "improvement",
                "resolved",
                "closed",
                name="ticket_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column(
            "contact_channel",
            sa.Enum(
                "email", "phone", name="contact_channel", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_assignee_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_ticket_category_id_category"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_ticket_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["customer_order.id"],
            name=op.f("fk_ticket_order_id_customer_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_parent_id_ticket"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_requester_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("number", name=op.f("uq_ticket_number")),
    )
    op.create_index(
        "ix_ticket_assignee_id_created_at",
        "ticket",
        ["assignee_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_category_id_created_at",
        "ticket",
        ["category_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_ticket_created_at", "ticket", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_ticket_customer_id_created_at",
        "ticket",
        ["customer_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_ticket_order_id", "ticket", ["order_id"], unique=False)
    op.create_index("ix_ticket_parent_id", "ticket", ["parent_id"], unique=False)
    op.create_index(
        "ix_ticket_requester_id_created_at",
        "ticket",
        ["requester_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_severity_created_at",
        "ticket",
        ["severity", sa.text("created_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_ticket_status_created_at", "ticket", ["status", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_ticket_status_status_changed_at",
        "ticket",
        ["status", "status_changed_at"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_type_created_at", "ticket", ["type", "created_at", "id"], unique=False
    )
    op.create_index("ix_ticket_updated_at", "ticket", ["updated_at", "id"], unique=False)
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_idempotency_key_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("owner", "key", name="uq_idempotency_key_owner_key"),
    )
    op.create_index(
        op.f("ix_idempotency_key_created_at"), "idempotency_key", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_idempotency_key_ticket_id"), "idempotency_key", ["ticket_id"], unique=False
    )
    op.create_table(
        "reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "visibility",
            sa.Enum(
                "public", "internal", name="visibility", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_reply_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_reply_ticket_id_ticket"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply")),
    )
    op.create_index("ix_reply_ticket_id_id", "reply", ["ticket_id", "id"], unique=False)
    op.create_table(
        "ticket_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_ticket_event_actor_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_event_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
    )
    op.create_index(
        "ix_ticket_event_ticket_id_id", "ticket_event", ["ticket_id", "id"], unique=False
    )
    create_fulltext("ticket_fts", "ticket_id", "ticket")


def create_fulltext(table: str, key: str, parent: str) -> None:
    """The full-text index (see app/db/fulltext.py): FTS5 on SQLite, tsvector + GIN on PostgreSQL."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {table} USING fts5(title, body, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        op.execute(
            f"CREATE TABLE {table} ({key} integer PRIMARY KEY "
            f"REFERENCES {parent}(id) ON DELETE CASCADE, document tsvector NOT NULL)"
        )
        op.execute(f"CREATE INDEX {table}_document ON {table} USING gin (document)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ticket_fts")
    op.drop_index("ix_ticket_event_ticket_id_id", table_name="ticket_event")
    op.drop_table("ticket_event")
    op.drop_index("ix_reply_ticket_id_id", table_name="reply")
    op.drop_table("reply")
    op.drop_index(op.f("ix_idempotency_key_ticket_id"), table_name="idempotency_key")
    op.drop_index(op.f("ix_idempotency_key_created_at"), table_name="idempotency_key")
    op.drop_table("idempotency_key")
    op.drop_index("ix_ticket_updated_at", table_name="ticket")
    op.drop_index("ix_ticket_type_created_at", table_name="ticket")
    op.drop_index("ix_ticket_status_status_changed_at", table_name="ticket")
    op.drop_index("ix_ticket_status_created_at", table_name="ticket")
    op.drop_index("ix_ticket_severity_created_at", table_name="ticket")
    op.drop_index("ix_ticket_requester_id_created_at", table_name="ticket")
    op.drop_index("ix_ticket_parent_id", table_name="ticket")
    op.drop_index("ix_ticket_order_id", table_name="ticket")
    op.drop_index("ix_ticket_customer_id_created_at", table_name="ticket")
    op.drop_index("ix_ticket_created_at", table_name="ticket")
    op.drop_index("ix_ticket_category_id_created_at", table_name="ticket")
    op.drop_index("ix_ticket_assignee_id_created_at", table_name="ticket")
    op.drop_table("ticket")
    op.drop_table("ticket_counter")
    op.drop_index(op.f("ix_category_parent_id"), table_name="category")
    op.drop_table("category")
