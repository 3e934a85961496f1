"""The ticket full-text entries carry their customer, indexed with the words (PostgreSQL).

A customer's search or suggestions ask for the words among that customer's tickets only. With
the words alone in the index, PostgreSQL read every matching entry of every customer and then
dropped the others' (at 400,000 tickets, ~14,000 entries read to keep ~800 of one customer's).
With ``customer_id`` in the same GIN index (``btree_gin``, a contrib extension every
PostgreSQL package ships and that needs no superuser since PostgreSQL 13), the index answers
both conditions at once. A multicolumn GIN index serves a condition on any of its columns, so
it replaces the words-only index: searches across customers use it as before, and writes keep
one index to maintain.

SQLite's FTS5 table is left as it is.

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("ALTER TABLE ticket_fts ADD COLUMN customer_id integer")
    op.execute(
        "UPDATE ticket_fts AS f SET customer_id = t.customer_id FROM ticket AS t "
        "WHERE t.id = f.ticket_id"
    )
    op.execute("ALTER TABLE ticket_fts ALTER COLUMN customer_id SET NOT NULL")
    op.execute(
        "CREATE INDEX ticket_fts_customer_document ON ticket_fts USING gin (customer_id, document)"
    )
    op.execute("DROP INDEX ticket_fts_document")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ticket_fts_document ON ticket_fts USING gin (document)")
    op.execute("DROP INDEX ticket_fts_customer_document")
    op.execute("ALTER TABLE ticket_fts DROP COLUMN customer_id")
