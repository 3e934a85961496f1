"""The e-mail outbox and the public status links of tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, utcnow
from app.db.models.accounts import str_enum
from app.domain.access import Locale
from app.domain.notifications import NotificationKind, NotificationStatus

MAX_ERROR_LENGTH = 500


class Notification(Base):
    """One e-mail to send, written in the transaction of the change that causes it.

    The row holds what the mail says as data (``context``, a snapshot taken at the
    event) and is rendered by the dispatcher when it sends, so nothing in a request
    depends on templates or SMTP. ``secret`` holds the plaintext public-link token
    of a confirmation until it is delivered, and is wiped in the same UPDATE that
    marks the row sent. While ``sending``, ``next_attempt_at`` is the end of the
    claiming worker's lease: past it, the row is due again.
    """

    __tablename__ = "notification"
    __table_args__ = (
        # The dispatcher's claim: due queued rows, oldest due first; expired leases.
        Index("ix_notification_status_next_attempt_at", "status", "next_attempt_at", "id"),
        # The admin list, newest first, by status or by ticket.
        Index("ix_notification_status_id", "status", "id"),
        Index("ix_notification_ticket_id_id", "ticket_id", "id"),
        # The purge of old delivered mail.
        Index("ix_notification_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    """None for a mail about an account (the confirmation of a new address)."""
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind, "notification_kind"))
    recipient: Mapped[str] = mapped_column(String(320))
    locale: Mapped[Locale] = mapped_column(str_enum(Locale, "locale"))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, "notification_status"), default=NotificationStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR_LENGTH))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketPublicLink(Base):
    """The token of a ticket's public status link, stored as its SHA-256 only.

    The plaintext exists in the confirmation mail (and its outbox row until sent),
    so a copy of the database does not open any ticket's status page.
    """

    __tablename__ = "ticket_public_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
