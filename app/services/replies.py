"""Replies: public answers and internal notes; a customer's public reply may move the ticket."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fulltext
from app.db.base import utcnow
from app.db.models import Reply, Ticket
from app.db.pagination import page_by_id
from app.domain.access import Actor
from app.domain.errors import Conflict, Forbidden
from app.domain.events import ReplyPosted, StatusChanged
from app.domain.inbound import channel_of
from app.domain.tickets import Visibility, after_reply, can_reply, mover_of
from app.services import attachments as attachment_service
from app.services import timeline
from app.services.tickets.common import check_if_match
from app.services.tickets.moves import set_state, state_of
from app.services.visibility import load_ticket


async def post_reply(
    session: AsyncSession,
    actor: Actor,
    ticket_id: int,
    *,
    body: str,
    visibility: Visibility,
    uploads: attachment_service.Uploads | None = None,
    if_match: str | None = None,
) -> tuple[Reply, Ticket]:
    """Add a reply. Internal notes are for staff; a closed ticket takes none (open a follow-up).

    A customer's public reply wakes the ticket by itself (waiting for the customer
    -> in progress, resolved -> open), recorded as the customer's move. The
    files of ``uploads`` go with the reply (internal with an internal note).
    """
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    check_if_match(ticket, if_match)
    if visibility is Visibility.INTERNAL and not actor.is_staff:
        raise Forbidden("Internal notes are for the support staff.")
    if not can_reply(ticket.status):
        raise Conflict("The ticket is closed; open a follow-up instead.")
    now = utcnow()
    reply = Reply(
        ticket_id=ticket.id,
        author_id=actor.user_id,
        author_name=actor.name,
        author_role=actor.role.value,
        body=body,
        visibility=visibility,
        channel=channel_of(actor),
        created_at=now,
    )
    session.add(reply)
    ticket.updated_at = now
    if uploads is not None and uploads.files:
        ticket.has_attachments = True  # in this flush, not an UPDATE of its own later
    indexed = ""
    public = visibility is Visibility.PUBLIC
    if public:
        indexed, ticket.public_reply_chars = fulltext.reply_budget(ticket.public_reply_chars, body)
        # The list-row facts (last public activity, reply count) go in this flush's UPDATE.
        timeline.write_public(ticket, actor, now, reply=True)
    woken = after_reply(state_of(ticket), mover_of(actor), visibility)
    previous = set_state(ticket, woken, now) if woken is not None else None
    await session.flush()
    if indexed:
        # The reply's own words are appended: the conversation is not read again.
        await fulltext.append_ticket_text(session, ticket.id, indexed)
    who = timeline.event_actor(actor)
    await timeline.record(
        session,
        ReplyPosted(ticket_id=ticket.id, reply_id=reply.id, visibility=visibility, actor=who),
        public_written=public,
    )
    await attachment_service.attach(session, actor, ticket, uploads, reply=reply)
    if previous is not None:
        await timeline.record(
            session,
            StatusChanged(
                ticket_id=ticket.id,
                from_status=previous,
                to_status=ticket.status,
                actor=who,
                note=None,
            ),
            # The same caller's public activity at the same moment: already on the row.
            public_written=public,
        )
    return reply, ticket


async def list_replies(
    session: AsyncSession, actor: Actor, ticket_id: int, *, limit: int, cursor: str | None
) -> tuple[list[Reply], str | None]:
    """Oldest first, keyset pages by id; customers never see internal notes."""
    ticket = await load_ticket(session, actor, ticket_id)
    stmt = select(Reply).where(Reply.ticket_id == ticket.id)
    if not actor.is_staff:
        stmt = stmt.where(Reply.visibility == Visibility.PUBLIC)
    return await page_by_id(session, stmt, Reply.id, limit=limit, cursor=cursor)
