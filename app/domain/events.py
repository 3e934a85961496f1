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
    channel: str | None = None
    """How the actor reached us: ``email``, ``api`` or ``portal`` (None for the system)."""


@dataclass(frozen=True, slots=True)
class TicketOpened:
    ticket_id: int
    actor: EventActor | None
    channel: str = "portal"
    """How it came in (``domain/routing.py: Channel``): routing rules may match on it."""


@dataclass(frozen=True, slots=True)
class StatusChanged:
    ticket_id: int
    from_status: TicketStatus
    to_status: TicketStatus
    actor: EventActor | None
    note: str | None
    solution: str | None = None
    """The solution given, on a move to ``resolved`` (kept in the timeline after a reopening)."""


_DESK_NOTES = ("routing rule: ", "macro: ")


def routing_note(rule_name: str) -> str:
    """The note of what a routing rule did (staff read which rule)."""
    return f"{_DESK_NOTES[0]}{rule_name}"


def macro_note(macro_title: str) -> str:
    """The note of what a macro did (staff read which macro)."""
    return f"{_DESK_NOTES[1]}{macro_title}"


def customer_note(note: str | None) -> str | None:
    """What a customer is shown of an event's note: not what the desk's own tools wrote (a
    routing rule's name, a macro's title are the desk's organisation, as teams are)."""
    return None if note is not None and note.startswith(_DESK_NOTES) else note


@dataclass(frozen=True, slots=True)
class TicketAssigned:
    ticket_id: int
    assignee_id: int | None
    actor: EventActor | None
    note: str | None = None
    """Shown to everyone who sees the ticket's timeline, customers included: never the
    desk's internal reasons (routing names its rule on the internal ``TeamAssigned``)."""


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


EVENT_KINDS: dict[str, str] = {
    "created": "a ticket was opened",
    "status_changed": "a ticket changed status",
    "assigned": "a ticket was assigned (or unassigned)",
    "replied": "a reply was posted (internal notes are internal events)",
    "attachment_added": "a file was attached (those of internal notes are internal events)",
    "team_assigned": "a ticket went to a team (internal)",
    "tagged": "a tag was added to a ticket (internal)",
    "untagged": "a tag was removed from a ticket (internal)",
    "sla_warning": "an SLA target of a ticket falls due soon (internal)",
    "sla_breached": "an SLA target of a ticket was missed (internal)",
}
"""Every kind the timeline writes (``ticket_event.kind``), with what it means. Webhooks offer
exactly these: a new event's kind added here is offered to integrators with no other change."""
