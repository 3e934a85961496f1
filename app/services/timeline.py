"""Recording what happens to tickets: the timeline row, then every subscriber, in one transaction.

Subscribers (the e-mail outbox, for one) are called inside the transaction of
the change, so a change and its consequences are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.db.base import utcnow
from app.db.models import Ticket, TicketEvent
from app.domain.access import Actor
from app.domain.events import (
    AttachmentAdded,
    DomainEvent,
    EventActor,
    ReplyPosted,
    SatisfactionRated,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    TeamAssigned,
    TicketAssigned,
    TicketOpened,
    TicketTagged,
    TicketUntagged,
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
            row.solution = event.solution
        case TicketAssigned():
            row.kind = "assigned"
            row.assignee_id = event.assignee_id
            row.note = event.note
        case TeamAssigned():
            row.kind = "team_assigned"
            row.team_id = event.team_id
            row.note = event.note
            row.internal = True
        case TicketTagged():
            row.kind = "tagged"
            row.tag = event.tag
            row.internal = True
        case TicketUntagged():
            row.kind = "untagged"
            row.tag = event.tag
            row.internal = True
        case SlaWarning():
            row.kind = "sla_warning"
            row.target = event.target
            row.note = f"due at {event.due_at.isoformat()}"
            row.internal = True
        case SlaBreached():
            row.kind = "sla_breached"
            row.target = event.target
            row.note = f"due at {event.due_at.isoformat()}"
            row.internal = True
        case SatisfactionRated():
            row.kind = "satisfaction_rated"
            row.note = event.rating
            row.internal = True
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


async def record(
    session: AsyncSession, event: DomainEvent, *, public_written: bool = False
) -> None:
    """Add the event's timeline row, keep the ticket's last public activity, call the
    subscribers.

    ``public_written``: the change has already put this activity on the ticket's row in its
    own INSERT or UPDATE (:func:`write_public`), so no UPDATE of its own is sent here.
    """
    row = _row(event)
    row.created_at = utcnow()
    session.add(row)
    if not row.internal and row.kind != "assigned" and not public_written:
        await _touch_public(session, row, public_reply=row.kind == "replied")
    for subscriber in SUBSCRIBERS:
        await subscriber(session, event)


def write_public(ticket: Ticket, actor: Actor, at: datetime, *, reply: bool = False) -> None:
    """Put a public activity on a locked ticket about to be flushed by the change itself,
    then record its event with ``public_written=True``: the list-row fields travel in the
    change's own UPDATE instead of one more round trip. Only for a change that updates
    the row anyway (its version moves with it: the activity is not what makes an
    ``If-Match`` stale) and holds its lock (the reply count is counted here)."""
    who = event_actor(actor)
    ticket.last_public_at = at
    ticket.last_public_actor_id = who.user_id if who else None
    ticket.last_public_actor_name = who.name if who else None
    if reply:
        ticket.public_reply_count = (ticket.public_reply_count or 0) + 1


async def _touch_public(session: AsyncSession, row: TicketEvent, *, public_reply: bool) -> None:
    """Keep the ticket's list-row fields (last public activity, its actor, public replies).

    A plain UPDATE that leaves the row's version alone: public activity is not an edit
    of the ticket, so it does not make another writer's ``If-Match`` stale. The copy
    in the session, if any, is refreshed without being marked changed.
    """
    values: dict[str, object] = {
        "last_public_at": row.created_at,
        "last_public_actor_id": row.actor_id,
        "last_public_actor_name": row.actor_name,
    }
    if public_reply:
        values["public_reply_count"] = Ticket.public_reply_count + 1
    count = await session.scalar(
        update(Ticket)
        .where(Ticket.id == row.ticket_id)
        .values(values)
        .returning(Ticket.public_reply_count)
        .execution_options(synchronize_session=False)
    )
    ticket = session.identity_map.get(session.sync_session.identity_key(Ticket, row.ticket_id))
    if isinstance(ticket, Ticket):
        for key, value in values.items():
            set_committed_value(ticket, key, count if key == "public_reply_count" else value)
