"""Webhooks filtered by team: ``webhook.team_id``.

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-01 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_webhook_team_id_team"), "team", ["team_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(op.f("ix_webhook_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook") as batch:
        batch.drop_index(op.f("ix_webhook_team_id"))
        batch.drop_constraint(op.f("fk_webhook_team_id_team"), type_="foreignkey")
        batch.drop_column("team_id")
