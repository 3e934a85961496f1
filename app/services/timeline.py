"""Recording what happens to tickets: the timeline row, then every subscriber, in one transaction.

Subscribers (the e-mail outbox, for one) are called inside the transaction of
the change, so a change and its consequences are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import TicketEvent
from app.domain.access import Actor
from app.domain.events import (
    AttachmentAdded,
    DomainEvent,
    EventActor,
    ReplyPosted,
    StatusChanged,
    TicketAssigned,
    TicketOpened,
)
from app.domain.inbound import channel_of
from app.domain.tickets import Visibility

Subscriber = Callable[[AsyncSession, DomainEvent], Awaitable[None]]
SUBSCRIBERS: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a listener of every ticket event (use as a decorator at import time)."""
    if subscriber not in SUBSCRIBERS:
        SUBSCRIBERS.append(subscriber)
    return subscriber


def event_actor(actor: Actor | None) -> EventActor | None:
    if actor is None:
        return None
    return EventActor(
        user_id=actor.user_id, name=actor.name, role=actor.role.value, channel=channel_of(actor)
    )


def _row(event: DomainEvent) -> TicketEvent:
    who = event.actor
    row = TicketEvent(
        ticket_id=event.ticket_id,
        actor_id=who.user_id if who else None,
        actor_name=who.name if who else None,
        actor_role=who.role if who else None,
        internal=False,
    )
    match event:
        case TicketOpened():
            row.kind = "created"
            row.channel = who.channel if who else None
        case StatusChanged():
            row.kind = "status_changed"
            row.from_status = event.from_status.value
            row.to_status = event.to_status.value
            row.note = event.note
        case TicketAssigned():
            row.kind = "assigned"
            row.assignee_id = event.assignee_id
        case ReplyPosted():
            row.kind = "replied"
            row.channel = who.channel if who else None
            row.reply_id = event.reply_id
            row.internal = event.visibility is Visibility.INTERNAL
        case AttachmentAdded():
            row.kind = "attachment_added"
            row.attachment_id = event.attachment_id
            row.reply_id = event.reply_id
            row.internal = event.internal
    return row


async def record(session: AsyncSession, event: DomainEvent) -> None:
    session.add(_row(event))
    for subscriber in SUBSCRIBERS:
        await subscriber(session, event)
