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


EVENT_KINDS: dict[str, str] = {
    "created": "a ticket was opened",
    "status_changed": "a ticket changed status",
    "assigned": "a ticket was assigned (or unassigned)",
    "replied": "a reply was posted (internal notes are internal events)",
    "attachment_added": "a file was attached (those of internal notes are internal events)",
}
"""Every kind the timeline writes (``ticket_event.kind``), with what it means. Webhooks offer
exactly these: a new event's kind added here is offered to integrators with no other change."""
