"""The e-mail channel: received mails, customers' mail domains, ticket CCs, channels.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _channel() -> sa.Column[str]:
    return sa.Column(
        "channel",
        sa.Enum(
            "email", "api", "portal", name="channel", native_enum=False, create_constraint=True
        ),
        server_default="portal",
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "api",
                "mailgate",
                "imap",
                name="inbound_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=250), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "ticket",
                "reply",
                "refused",
                "held",
                "ignored",
                name="inbound_outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("answer_kind", sa.String(length=32), nullable=True),
        sa.Column("answer_context", sa.String(length=4000), nullable=True),
        sa.Column("answer_status", sa.String(length=16), nullable=True),
        sa.Column("answer_attempts", sa.Integer(), nullable=False),
        sa.Column("answer_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_inbound_mail_ticket_id_ticket"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["reply.id"],
            name=op.f("fk_inbound_mail_reply_id_reply"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mail")),
        sa.UniqueConstraint("message_id", name="uq_inbound_mail_message_id"),
    )
    op.create_index("ix_inbound_mail_outcome_id", "inbound_mail", ["outcome", "id"])
    op.create_index("ix_inbound_mail_sender_received_at", "inbound_mail", ["sender", "received_at"])
    op.create_index(
        "ix_inbound_mail_answer_status_answer_next_at",
        "inbound_mail",
        ["answer_status", "answer_next_at"],
    )
    op.create_index("ix_inbound_mail_ticket_id", "inbound_mail", ["ticket_id"])

    op.create_table(
        "customer_mail_domain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_mail_domain_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_mail_domain")),
        sa.UniqueConstraint("domain", name=op.f("uq_customer_mail_domain_domain")),
    )
    op.create_index(
        op.f("ix_customer_mail_domain_customer_id"), "customer_mail_domain", ["customer_id"]
    )

    op.create_table(
        "ticket_cc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_cc_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_cc")),
        sa.UniqueConstraint("ticket_id", "email", name="uq_ticket_cc_ticket_id_email"),
    )

    with op.batch_alter_table("ticket") as batch:
        batch.add_column(_channel())
    with op.batch_alter_table("reply") as batch:
        batch.add_column(_channel())
    with op.batch_alter_table("ticket_event") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_event") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("reply") as batch:
        batch.drop_constraint(op.f("ck_reply_channel"), type_="check")
        batch.drop_column("channel")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_constraint(op.f("ck_ticket_channel"), type_="check")
        batch.drop_column("channel")
    op.drop_table("ticket_cc")
    op.drop_index(op.f("ix_customer_mail_domain_customer_id"), table_name="customer_mail_domain")
    op.drop_table("customer_mail_domain")
    op.drop_index("ix_inbound_mail_ticket_id", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_answer_status_answer_next_at", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_sender_received_at", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_outcome_id", table_name="inbound_mail")
    op.drop_table("inbound_mail")
