"""Webhooks, their deliveries (an outbox of HTTP requests), and imported tickets' ids."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, utcnow
from app.db.models.accounts import str_enum
from app.domain.webhooks import DeliveryStatus

MAX_URL_LENGTH = 2000
MAX_DELIVERY_ERROR = 500


class Webhook(Base):
    """An integrator's endpoint and what it wants. ``secret`` signs every delivery; during a
    rotation's overlap ``previous_secret`` signs too, until ``previous_secret_expires_at``."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    description: Mapped[str | None] = mapped_column(String(200))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    include_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_type: Mapped[str | None] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), index=True
    )
    """Only the tickets of this team (null: every team's)."""
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One event to send to one hook, written in the transaction of the change (the outbox).

    ``payload`` is the JSON body, snapshotted at the event: every retry and redelivery sends
    the same bytes under the same ``webhook-id``. While ``sending``, ``next_attempt_at`` is the
    end of the claiming worker's lease.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # The claim: due rows oldest first; expired leases.
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at", "id"),
        # Per-ticket order: an earlier delivery of the same hook and ticket still to go.
        Index("ix_webhook_delivery_webhook_id_ticket_id_id", "webhook_id", "ticket_id", "id"),
        # The admin list of a hook's deliveries, newest first, all or by status.
        Index("ix_webhook_delivery_webhook_id_id", "webhook_id", "id"),
        Index("ix_webhook_delivery_webhook_id_status_id", "webhook_id", "status", "id"),
        Index("ix_webhook_delivery_ticket_id", "ticket_id"),
        # The purge of old delivered rows.
        Index("ix_webhook_delivery_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "webhook_delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(MAX_DELIVERY_ERROR))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketImport(Base):
    """A ticket brought in by the bulk import, by its id in the help desk it came from."""

    __tablename__ = "ticket_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
