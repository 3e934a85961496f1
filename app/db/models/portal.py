"""What a portal keeps per user: when each user last read each ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime


class ReadMarker(Base):
    """The public activity a user has seen on a ticket: the time of the last one they read.

    Written only when it moves forward (an upsert on a read that saw newer activity),
    so reading a ticket again and again writes nothing.
    """

    __tablename__ = "read_marker"
    __table_args__ = (Index("ix_read_marker_ticket_id", "ticket_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())
