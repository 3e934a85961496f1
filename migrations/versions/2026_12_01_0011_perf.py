"""Fewer round trips: a ticket knows whether it has files and how much reply text its index
holds; on PostgreSQL, ticket numbers come from a sequence per year.

Revision ID: 0011
Revises: 0018
Create Date: 2026-12-01 19:10:00

- ``ticket.has_attachments``: a ticket read asks for the files only when there are some.
- ``ticket.public_reply_chars``: the length of the ticket's public replies joined by newlines,
  so a reply appends its own words (those within the index's budget) to the ticket's
  full-text entry instead of re-reading the conversation.
- ``sportello_next_ticket_number(year)`` (PostgreSQL): ``nextval`` of the year's sequence
  ``ticket_number_YYYY``, made on first use. A sequence is not transactional: no lock is held
  until commit, so openings do not queue; a rolled-back opening leaves a gap. Numbers stay
  unique and increasing within a year. The counters so far carry over into the sequences.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEXT_NUMBER = """
CREATE OR REPLACE FUNCTION sportello_next_ticket_number(y integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := 'ticket_number_' || y;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- another opening made it first (and has committed)
        END;
    END IF;
    RETURN nextval(seq);
END
$$
"""


def upgrade() -> None:
    # Not batch mode: on SQLite that copies the table, and the copy loses its triggers
    # (ticket_fts_delete). Adding a column with a constant default is plain ALTER TABLE there.
    op.add_column(
        "ticket",
        sa.Column("has_attachments", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "ticket", sa.Column("public_reply_chars", sa.Integer(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE ticket SET has_attachments = true WHERE id IN (SELECT ticket_id FROM attachment)"
    )
    # The public replies joined by newlines, as app/db/fulltext.py joins them.
    op.execute(
        "UPDATE ticket SET public_reply_chars = (SELECT sum(length(body)) + count(*) - 1 "
        "FROM reply WHERE reply.ticket_id = ticket.id "
        "AND reply.visibility = 'public') "
        "WHERE id IN (SELECT ticket_id FROM reply WHERE visibility = 'public')"
        if op.get_bind().dialect.name == "sqlite"
        else "UPDATE ticket SET public_reply_chars = r.chars FROM (SELECT ticket_id, "
        "sum(length(body)) + count(*) - 1 AS chars "
        "FROM reply WHERE visibility = 'public' GROUP BY ticket_id) AS r WHERE r.ticket_id = ticket.id"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NEXT_NUMBER)
        op.execute(
            "DO $$ DECLARE r record; BEGIN "
            "FOR r IN SELECT year, value FROM ticket_counter LOOP "
            "EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I START WITH %s', "
            "'ticket_number_' || r.year, r.value + 1); END LOOP; END $$"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The counters take over from the sequences again.
        op.execute(
            "DO $$ DECLARE r record; v bigint; BEGIN "
            "FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
            "AND sequencename ~ '^ticket_number_[0-9]+$' LOOP "
            "EXECUTE format('SELECT last_value FROM %I', r.sequencename) INTO v; "
            "INSERT INTO ticket_counter (year, value) "
            "VALUES (substr(r.sequencename, 15)::int, v) "
            "ON CONFLICT (year) DO UPDATE SET value = greatest(ticket_counter.value, v); "
            "EXECUTE format('DROP SEQUENCE %I', r.sequencename); END LOOP; END $$"
        )
        op.execute("DROP FUNCTION IF EXISTS sportello_next_ticket_number(integer)")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as above.
    op.execute("ALTER TABLE ticket DROP COLUMN public_reply_chars")
    op.execute("ALTER TABLE ticket DROP COLUMN has_attachments")
