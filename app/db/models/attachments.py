"""Attachments: the metadata of the files of tickets and replies (the bytes are in the storage)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, utcnow


class Attachment(Base):
    """One file of a ticket, or of one of its replies.

    ``internal`` copies the reply's visibility, so that "which files may a customer
    see" is one condition on this table. The content is found by ``sha256``; the
    file name is the client's, made safe, and is only ever shown, never used.
    """

    __tablename__ = "attachment"
    __table_args__ = (
        # A ticket's files in order (detail, list, keyset pages); a reply's files;
        # whether any row still points to a blob (the storage sweep).
        Index("ix_attachment_ticket_id_id", "ticket_id", "id"),
        Index("ix_attachment_reply_id", "reply_id"),
        Index("ix_attachment_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id", ondelete="CASCADE"))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
