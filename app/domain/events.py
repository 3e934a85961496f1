"""What happened to a ticket. Services publish these; the timeline and the outbox listen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    channel: str = "web"
    """How it came in (``domain/routing.py: Channel``): routing rules may match on it."""


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
    note: str | None = None
    """What assigned it when no one did (``routing rule: …``)."""


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


@dataclass(frozen=True, slots=True)
class TeamAssigned:
    """The ticket went to a team (null: to none); ``note`` says what sent it when no one did."""

    ticket_id: int
    team_id: int | None
    actor: EventActor | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TicketTagged:
    ticket_id: int
    tag: str
    actor: EventActor | None


@dataclass(frozen=True, slots=True)
class TicketUntagged:
    ticket_id: int
    tag: str
    actor: EventActor | None


@dataclass(frozen=True, slots=True)
class SlaWarning:
    """An SLA target of the ticket falls due soon (raised once per target and cycle)."""

    ticket_id: int
    target: str
    due_at: datetime
    actor: EventActor | None = None


@dataclass(frozen=True, slots=True)
class SlaBreached:
    """An SLA target of the ticket was missed (raised once per target and cycle)."""

    ticket_id: int
    target: str
    due_at: datetime
    actor: EventActor | None = None


@dataclass(frozen=True, slots=True)
class SatisfactionRated:
    """The customer answered "How did we do?" (``good`` or ``bad``; changed answers too)."""

    ticket_id: int
    rating: str
    actor: EventActor | None = None


DomainEvent = (
    TicketOpened
    | StatusChanged
    | TicketAssigned
    | ReplyPosted
    | AttachmentAdded
    | TeamAssigned
    | TicketTagged
    | TicketUntagged
    | SlaWarning
    | SlaBreached
    | SatisfactionRated
)
