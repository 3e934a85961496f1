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


class TicketStatusChange(Base):
    """One status move of a ticket (its status history as facts): written by the facts
    subscriber in the change's transaction, one INSERT; the ticket's opening is its
    ``ticket_fact.created_at`` (every ticket opens as ``open``), so it needs no row.

    ``opened_at`` repeats the ticket's creation so that the backlog's age events
    (``max(at, opened_at + bound)``) need no join.
    """

    __tablename__ = "ticket_status_change"
    __table_args__ = (
        Index("ix_ticket_status_change_at", "at"),
        Index("ix_ticket_status_change_opened_at", "opened_at"),
        Index("ix_ticket_status_change_ticket_id", "ticket_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_status: Mapped[str] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))


class ReportSlot(Base):
    """The periodic rollup of the unfiltered reports: per quarter of an hour (UTC), the
    tickets opened and first resolved, and the backlog's sweep-line deltas (per open
    status, and per age threshold: a ticket still open crosses ``age > N days`` at
    ``max(entered, opened_at + N days)``). Written by the worker for finished slots only.
    """

    __tablename__ = "report_slot"

    slot_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    d_open: Mapped[int] = mapped_column(Integer, default=0)
    d_in_progress: Mapped[int] = mapped_column(Integer, default=0)
    d_waiting_customer: Mapped[int] = mapped_column(Integer, default=0)
    d_waiting_third_party: Mapped[int] = mapped_column(Integer, default=0)
    d_improvement: Mapped[int] = mapped_column(Integer, default=0)
    d_age_1d: Mapped[int] = mapped_column(Integer, default=0)
    d_age_3d: Mapped[int] = mapped_column(Integer, default=0)
    d_age_7d: Mapped[int] = mapped_column(Integer, default=0)
    d_age_30d: Mapped[int] = mapped_column(Integer, default=0)


class ReportRollup(Base):
    """How far the rollup goes (``rolled_until``: every slot before it is final), and how
    many openings, first resolutions and status moves it has seen before it: a later count
    that differs (an import, a deletion, a late commit) makes the worker rebuild it."""

    __tablename__ = "report_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rolled_until: Mapped[datetime] = mapped_column(UTCDateTime())
    facts_before: Mapped[int] = mapped_column(Integer)
    resolved_before: Mapped[int] = mapped_column(Integer)
    changes_before: Mapped[int] = mapped_column(Integer)


class ReportDayHistogram(Base):
    """Per UTC day and duration (``first_response``, ``resolution``, each also in business
    minutes: ``*_business``), how many durations fell in each log-spaced bucket
    (``domain/histograms.py``), by the day of the response or resolution. Kept by the
    worker on PostgreSQL for the unfiltered response-time report."""

    __tablename__ = "report_day_histogram"

    day_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer)
