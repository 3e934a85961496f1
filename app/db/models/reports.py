"""Facts kept per ticket for the reports: one row per ticket, written as the ticket changes.

Reports read these columns with plain indexed range queries (``created_at``,
``first_resolved_at``), never by replaying the timeline.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime


class TicketFact(Base):
    __tablename__ = "ticket_fact"
    __table_args__ = (
        Index("ix_ticket_fact_created_at", "created_at", "ticket_id"),
        Index("ix_ticket_fact_first_resolved_at", "first_resolved_at", "ticket_id"),
        Index("ix_ticket_fact_closed_at", "closed_at", "ticket_id"),
        Index("ix_ticket_fact_first_response_at", "first_response_at", "ticket_id"),
    )

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    first_response_business_minutes: Mapped[float | None] = mapped_column(Float)
    """Only where the ticket's SLA policy has a business calendar."""
    first_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_seconds: Mapped[float | None] = mapped_column(Float)
    resolution_business_minutes: Mapped[float | None] = mapped_column(Float)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The last closing (null while not closed)."""
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The last reopening."""
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)


class TicketSatisfaction(Base):
    """The customer's answer to "How did we do?", one per ticket; asked at each resolution.

    The link's token is kept only as its SHA-256 (like the public status link); ``rating``
    is null until answered.
    """

    __tablename__ = "ticket_satisfaction"
    __table_args__ = (Index("ix_ticket_satisfaction_answered_at", "answered_at", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rating: Mapped[str | None] = mapped_column(String(4))
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
