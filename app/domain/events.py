"""What happened to a ticket. Services publish these; the timeline and the outbox listen."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.tickets import TicketStatus, Visibility


@dataclass(frozen=True, slots=True)
class EventActor:
    """Who did it, as recorded; None in an event means the system."""

    user_id: int | None
    name: str
    role: str
    channel: str | None = None
    """How the actor reached us: ``email``, ``api`` or ``portal`` (None for the system)."""


@dataclass(frozen=True, slots=True)
class TicketOpened:
    ticket_id: int
    actor: EventActor | None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    ticket_id: int
    from_status: TicketStatus
    to_status: TicketStatus
    actor: EventActor | None
    note: str | None
    solution: str | None = None
    """The solution given, on a move to ``resolved`` (kept in the timeline after a reopening)."""


@dataclass(frozen=True, slots=True)
class TicketAssigned:
    ticket_id: int
    assignee_id: int | None
    actor: EventActor | None


@dataclass(frozen=True, slots=True)
class ReplyPosted:
    ticket_id: int
    reply_id: int
    visibility: Visibility
    actor: EventActor | None


@dataclass(frozen=True, slots=True)
class AttachmentAdded:
    ticket_id: int
    attachment_id: int
    reply_id: int | None
    internal: bool
    actor: EventActor | None


DomainEvent = TicketOpened | StatusChanged | TicketAssigned | ReplyPosted | AttachmentAdded
