"""The e-mail channel: received mails and what became of them, customers' mail domains, CCs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, utcnow
from app.db.models.accounts import str_enum
from app.domain.inbound import InboundOutcome, InboundSource

MAX_REASON = 500


class InboundMail(Base):
    """One received message, recorded in the transaction of what it caused.

    ``message_id`` is unique: the same mail taken twice (a retried pipe, two IMAP
    workers, a crash before the mailbox was told) is imported once, the second
    insert failing on the index. ``raw`` keeps the message only while it is held,
    for an admin's retry; an imported one lives on as the ``.eml`` attachment of
    its ticket or reply. ``answer_*`` is the one mail sent back to the sender
    (an unknown sender's bounce, refused files), delivered by a worker job.
    """

    __tablename__ = "inbound_mail"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_inbound_mail_message_id"),
        Index("ix_inbound_mail_outcome_id", "outcome", "id"),
        Index("ix_inbound_mail_sender_received_at", "sender", "received_at"),
        Index("ix_inbound_mail_answer_status_answer_next_at", "answer_status", "answer_next_at"),
        Index("ix_inbound_mail_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[InboundSource] = mapped_column(str_enum(InboundSource, "inbound_source"))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(250))
    outcome: Mapped[InboundOutcome] = mapped_column(str_enum(InboundOutcome, "inbound_outcome"))
    reason: Mapped[str | None] = mapped_column(String(MAX_REASON))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id", ondelete="SET NULL"))
    size: Mapped[int] = mapped_column(Integer)
    # Never loaded by lists: only the retry of a held mail reads it (undefer).
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    answer_kind: Mapped[str | None] = mapped_column(String(32))
    answer_context: Mapped[str | None] = mapped_column(String(4000))
    answer_status: Mapped[str | None] = mapped_column(String(16))
    answer_attempts: Mapped[int] = mapped_column(Integer, default=0)
    answer_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerMailDomain(Base):
    """A mail domain of a customer: unknown senders from it open tickets for that customer
    (when the policy says so), and Cc addresses within it join a ticket."""

    __tablename__ = "customer_mail_domain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(255), unique=True)


class TicketCc(Base):
    """An address that receives a ticket's public updates besides its contact."""

    __tablename__ = "ticket_cc"
    __table_args__ = (UniqueConstraint("ticket_id", "email", name="uq_ticket_cc_ticket_id_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
