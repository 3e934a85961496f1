"""Categories, tickets, their timeline and replies, and the bookkeeping of ticket creation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, UTCDateTime, utcnow
from app.db.models.accounts import Customer, str_enum
from app.domain.inbound import Channel
from app.domain.tickets import ContactChannel, Severity, TicketStatus, TicketType, Visibility

MAX_CONTACT_NAME = 200
MAX_CONTACT_EMAIL = 320


class Category(Base):
    """An area (no parent) or a sub-area (its parent is an area) of one ticket type."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[TicketType] = mapped_column(str_enum(TicketType, "ticket_type"))
    name: Mapped[str] = mapped_column(String(100))
    # Translations of ``name`` (null: the base name is used in that language).
    name_it: Mapped[str | None] = mapped_column(String(100))
    name_es: Mapped[str | None] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        # Listing: a customer's tickets newest first, every filter with the default sort,
        # the other sorts, and the periodic job's scan.
        Index("ix_ticket_customer_id_created_at", "customer_id", "created_at", "id"),
        Index("ix_ticket_status_created_at", "status", "created_at", "id"),
        Index("ix_ticket_created_at", "created_at", "id"),
        Index("ix_ticket_updated_at", "updated_at", "id"),
        # A customer's or a status's tickets by last change (what SPAs sort inboxes by).
        Index("ix_ticket_customer_id_updated_at", "customer_id", "updated_at", "id"),
        Index("ix_ticket_status_updated_at", "status", "updated_at", "id"),
        # The automatic close scans resolved tickets by resolution time.
        Index("ix_ticket_status_resolved_at", "status", "resolved_at"),
        Index("ix_ticket_assignee_id_created_at", "assignee_id", "created_at", "id"),
        Index("ix_ticket_requester_id_created_at", "requester_id", "created_at", "id"),
        Index("ix_ticket_type_created_at", "type", "created_at", "id"),
        Index("ix_ticket_category_id_created_at", "category_id", "created_at", "id"),
        Index("ix_ticket_order_id", "order_id"),
        Index("ix_ticket_parent_id", "parent_id"),
        Index("ix_ticket_status_status_changed_at", "status", "status_changed_at"),
        # Counts per status for a customer's tabs (the staff's use ix_ticket_status_created_at).
        Index("ix_ticket_customer_id_status", "customer_id", "status"),
        # Service levels and teams: sort=due, sla=breached|due_within, a team's queue.
        Index("ix_ticket_sla_due_at_id", "sla_due_at", "id"),
        Index("ix_ticket_team_id_created_at", "team_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="RESTRICT"))
    requester_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    type: Mapped[TicketType] = mapped_column(str_enum(TicketType, "ticket_type"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_order.id", ondelete="RESTRICT")
    )
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "severity"))
    status: Mapped[TicketStatus] = mapped_column(str_enum(TicketStatus, "ticket_status"))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    solution: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="RESTRICT"))
    contact_name: Mapped[str | None] = mapped_column(String(MAX_CONTACT_NAME))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(MAX_CONTACT_EMAIL))
    contact_channel: Mapped[ContactChannel] = mapped_column(
        str_enum(ContactChannel, "contact_channel")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What a list row shows without reading the timeline: the last public activity (an
    # event customers see, assignments aside), who made it, and the public replies so far.
    last_public_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_public_actor_id: Mapped[int | None] = mapped_column(Integer)
    last_public_actor_name: Mapped[str | None] = mapped_column(String(200))
    public_reply_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Whether files were ever attached: a read asks for them only then.
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The length of the public replies joined by newlines: a reply indexes only its own words.
    public_reply_chars: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel: Mapped[Channel] = mapped_column(
        str_enum(Channel, "channel"), default=Channel.PORTAL, server_default=Channel.PORTAL.value
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    sla_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policy.id", ondelete="SET NULL")
    )
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The earliest due time of the ticket's running SLA targets (null: none running)."""

    customer: Mapped[Customer] = relationship(lazy="raise")

    # Every UPDATE checks the version it read: two writers cannot both win.
    __mapper_args__ = {"version_id_col": version}


# The severity sort is "blocking first, newest first": mixed directions need their own index.
Index(
    "ix_ticket_severity_created_at",
    Ticket.severity,
    Ticket.created_at.desc(),
    Ticket.id.desc(),
)


class TicketEvent(Base):
    """One line of a ticket's timeline, written in the transaction of the change it records."""

    __tablename__ = "ticket_event"
    __table_args__ = (Index("ix_ticket_event_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    reply_id: Mapped[int | None] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    attachment_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    tag: Mapped[str | None] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(32))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    # The solution given by a move to ``resolved``: it stays in the history after a reopening.
    solution: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Reply(Base):
    __tablename__ = "reply"
    __table_args__ = (Index("ix_reply_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    author_name: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "visibility"))
    channel: Mapped[Channel] = mapped_column(
        str_enum(Channel, "channel"), default=Channel.PORTAL, server_default=Channel.PORTAL.value
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketCounter(Base):
    """The last ticket number given in a year; bumped atomically by an upsert."""

    __tablename__ = "ticket_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)


class IdempotencyKey(Base):
    """A creating request made with ``Idempotency-Key``: its owner, its body's hash, and what
    it made: a ticket (replayed by reading the ticket again), or any other creation's stored
    answer (``status_code``, ``response``, ``location``), replayed as it was."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("owner", "key", name="uq_idempotency_key_owner_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), index=True
    )
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
