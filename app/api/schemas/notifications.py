"""Notification (outbox) and public status page bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app.api.schemas.common import Output
from app.db.models import Notification, Reply
from app.domain.access import Locale
from app.domain.notifications import NotificationKind, NotificationStatus
from app.domain.tickets import TicketStatus, label
from app.services.public_links import PublicView


class NotificationRead(Output):
    """An e-mail of the outbox, as admins see it (never its content's secrets)."""

    id: int
    ticket_id: int | None = Field(description="Null for a mail of no ticket (`email_change`).")
    ticket_number: str | None
    kind: NotificationKind
    recipient: str
    locale: Locale
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, notification: Notification, ticket_number: str | None) -> NotificationRead:
        return cls(
            id=notification.id,
            ticket_id=notification.ticket_id,
            ticket_number=ticket_number,
            kind=notification.kind,
            recipient=notification.recipient,
            locale=notification.locale,
            status=notification.status,
            attempts=notification.attempts,
            next_attempt_at=notification.next_attempt_at,
            last_error=notification.last_error,
            sent_at=notification.sent_at,
            created_at=notification.created_at,
        )


class PublicReplyRead(Output):
    author_name: str
    author_role: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, reply: Reply) -> PublicReplyRead:
        return cls(
            author_name=reply.author_name,
            author_role=reply.author_role,
            body=reply.body,
            created_at=reply.created_at,
        )


class PublicTicketRead(Output):
    """What the public status link shows: nothing internal, no ids."""

    number: str
    subject: str
    status: TicketStatus
    status_label: str
    created_at: datetime
    updated_at: datetime
    solution: str | None
    replies: list[PublicReplyRead]

    @classmethod
    def of(cls, view: PublicView, lang: str) -> PublicTicketRead:
        ticket = view.ticket
        return cls(
            number=ticket.number,
            subject=ticket.subject,
            status=ticket.status,
            status_label=label(ticket.status, lang),
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            solution=ticket.solution,
            replies=[PublicReplyRead.of(r) for r in view.replies],
        )
