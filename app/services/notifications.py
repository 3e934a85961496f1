"""E-mail notifications: ticket events become outbox rows; admins list and retry them.

``queue_mail`` listens to every ticket event (see ``services/timeline.py``) inside
the transaction of the change, and writes the notifications the contract's table
asks for (``domain/notifications.py``) in that same transaction: a change and its
mail are committed together or not at all, and nothing in the request waits for
SMTP. The dispatcher (``infra/outbox.py``) delivers them.

What a mail says is snapshotted into the row now (number, subject, statuses,
the reply), and rendered when it is sent. The confirmation's public-link token
is the one secret: it is kept in the row's ``secret`` column until the mail is
delivered and wiped then; the link table holds only its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from app.config import Settings, get_settings
from app.db.base import utcnow
from app.db.models import Attachment, Customer, Notification, Reply, Ticket, TicketCc, User
from app.db.pagination import decode_id_cursor, encode_cursor
from app.domain.access import Actor, Locale, Role, require_admin
from app.domain.errors import Conflict, NotFound
from app.domain.events import (
    AttachmentAdded,
    DomainEvent,
    EventActor,
    ReplyPosted,
    StatusChanged,
    TicketOpened,
    customer_note,
)
from app.domain.inbound import reply_address, thread_id
from app.domain.notifications import (
    Audience,
    NotificationKind,
    NotificationStatus,
    Planned,
    plan_opened,
    plan_reply,
    plan_status_changed,
    summary,
)
from app.domain.tickets import TicketStatus, Visibility
from app.services import probes, public_links, satisfaction, timeline

_REPLY_MAILS = "sportello.customer_reply_mails"
"""``session.info`` key: the customer-reply mail queued in this transaction, by ticket, so the
status change that the reply causes next can amend it instead of sending a second mail."""


_REPLY_FILE_MAILS = "sportello.reply_file_mails"
"""``session.info`` key: the mails of an agent's public reply, by reply id, so that the reply's
files (attached after it, in the same transaction) travel with them."""


async def _file_added(session: AsyncSession, event: AttachmentAdded) -> None:
    """A public reply's file joins its mails: attached when they are small enough (see
    ``infra/mail.py``), else as a link that needs a login."""
    if event.internal or event.reply_id is None:
        return
    mails = session.info.get(_REPLY_FILE_MAILS, {}).get(event.reply_id)
    if not mails:
        return
    row = await session.get(Attachment, event.attachment_id)  # in the identity map: no query
    if row is None:
        return
    url = f"{_settings(session).public_base_url}/api/v1/attachments/{row.id}/content"
    entry = {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "url": url,
    }
    for mail in mails:
        mail.context = {**mail.context, "files": [*mail.context.get("files", []), entry]}


def _settings(session: AsyncSession) -> Settings:
    settings = session.info.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the mails of an event need to know about its ticket, read in one query."""

    number: str
    subject: str
    description: str
    status: TicketStatus
    type: str
    severity: str
    solution: str | None
    assignee_id: int | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    contact_channel: str
    customer_code: str
    customer_name: str
    locale: Locale

    def context(self, settings: Settings, **extra: Any) -> dict[str, Any]:
        return {
            # The e-mail channel's headers: replies come back to the ticket (services/inbound/).
            "reply_to": reply_address(settings.support_email, settings.inbox_secret, self.number)
            or None,
            "thread": thread_id(self.number, settings.mail_domain),
            "number": self.number,
            "subject": self.subject,
            "status": self.status.value,
            "customer_code": self.customer_code,
            "customer_name": self.customer_name,
            "contact_name": self.contact_name,
            **extra,
        }


async def _facts(session: AsyncSession, ticket_id: int) -> _Facts:
    """From the ticket the change has in hand (no query), else read in one query."""
    ticket = session.identity_map.get(identity_key(Ticket, ticket_id))
    if isinstance(ticket, Ticket):
        state = inspect(ticket)
        if not state.expired_attributes and "customer" not in state.unloaded:
            customer = ticket.customer
            return _Facts(
                number=ticket.number,
                subject=ticket.subject,
                description=ticket.description,
                status=ticket.status,
                type=str(ticket.type),
                severity=str(ticket.severity),
                solution=ticket.solution,
                assignee_id=ticket.assignee_id,
                contact_name=ticket.contact_name,
                contact_email=ticket.contact_email,
                contact_phone=ticket.contact_phone,
                contact_channel=str(ticket.contact_channel),
                customer_code=customer.code,
                customer_name=customer.name,
                locale=Locale(customer.locale),
            )
    row = (
        await session.execute(
            select(
                Ticket.number,
                Ticket.subject,
                Ticket.description,
                Ticket.status,
                Ticket.type,
                Ticket.severity,
                Ticket.solution,
                Ticket.assignee_id,
                Ticket.contact_name,
                Ticket.contact_email,
                Ticket.contact_phone,
                Ticket.contact_channel,
                Customer.code,
                Customer.name,
                Customer.locale,
            )
            .join(Customer, Customer.id == Ticket.customer_id)
            .where(Ticket.id == ticket_id)
        )
    ).one()
    return _Facts(
        number=row.number,
        subject=row.subject,
        description=row.description,
        status=TicketStatus(row.status),
        type=str(row.type),
        severity=str(row.severity),
        solution=row.solution,
        assignee_id=row.assignee_id,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        contact_phone=row.contact_phone,
        contact_channel=str(row.contact_channel),
        customer_code=row.code,
        customer_name=row.name,
        locale=Locale(row.locale),
    )


async def _recipient(
    session: AsyncSession, settings: Settings, facts: _Facts, audience: Audience
) -> tuple[str, Locale] | None:
    """Who gets it, and in which language: the contact and the desk read the customer's
    language; an assignee reads their own."""
    if audience is Audience.CONTACT:
        return (facts.contact_email, facts.locale) if facts.contact_email else None
    if audience is Audience.STAFF and facts.assignee_id is not None:
        assignee = (
            await session.execute(
                select(User.email, User.locale, User.is_active).where(User.id == facts.assignee_id)
            )
        ).first()
        if assignee is not None and assignee.is_active:
            return assignee.email, Locale(assignee.locale)
    return (settings.support_email, facts.locale) if settings.support_email else None


async def _queue(
    session: AsyncSession,
    ticket_id: int,
    planned: Planned,
    facts: _Facts,
    context: dict[str, Any],
    created: list[Notification] | None = None,
) -> Notification | None:
    """Queue the planned mail (and its copies to the ticket's CC); ``created`` collects
    every row written."""
    settings = _settings(session)
    to = await _recipient(session, settings, facts, planned.audience)
    if to is None:
        return None
    recipient, locale = to
    secret = None
    if planned.kind is NotificationKind.CONFIRMATION:
        secret = await public_links.issue(session, ticket_id)
    elif (
        planned.kind is NotificationKind.STATUS_CHANGED
        and planned.audience is Audience.CONTACT
        and context.get("to_status") == TicketStatus.RESOLVED.value
    ):
        # The resolution mail asks "How did we do?" through a link of its own.
        secret = await satisfaction.issue(session, ticket_id)
    now = utcnow()
    notification = Notification(
        ticket_id=ticket_id,
        kind=planned.kind,
        recipient=recipient,
        locale=locale,
        # The ticket's id goes with the mail: its portal link is made from it when sent.
        context={**context, "ticket_id": ticket_id},
        secret=secret,
        status=NotificationStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(notification)
    if created is not None:
        created.append(notification)
    if (
        planned.audience is Audience.CONTACT
        and planned.kind is not NotificationKind.CONFIRMATION
        and not probes.no_cc(session, ticket_id)  # the change's load found none: no read
    ):
        # The ticket's CC addresses get its public updates too (not the confirmation, whose
        # status link is the contact's own).
        cc = await session.scalars(
            select(TicketCc.email).where(TicketCc.ticket_id == ticket_id).order_by(TicketCc.id)
        )
        for address in cc.all():
            if address != recipient:
                copy = Notification(
                    ticket_id=ticket_id,
                    kind=planned.kind,
                    recipient=address,
                    locale=locale,
                    context=context,
                    status=NotificationStatus.QUEUED,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                session.add(copy)
                if created is not None:
                    created.append(copy)
    return notification


def _by_customer(actor: EventActor | None) -> bool:
    return actor is not None and actor.role == Role.CUSTOMER.value


def _author(actor: EventActor | None, fallback: str) -> str:
    return actor.name if actor is not None else fallback


@timeline.subscribe
async def queue_mail(session: AsyncSession, event: DomainEvent) -> None:
    """The contract's table of e-mail notifications, applied to one ticket event."""
    match event:
        case TicketOpened():
            await _opened(session, event)
        case StatusChanged():
            await _status_changed(session, event)
        case ReplyPosted():
            await _replied(session, event)
        case AttachmentAdded():
            await _file_added(session, event)
        case _:
            return
    # Flushed here, so a failing row fails the change (inside its savepoint, if any).
    await session.flush()


async def _opened(session: AsyncSession, event: TicketOpened) -> None:
    facts = await _facts(session, event.ticket_id)
    context = facts.context(
        _settings(session),
        description=summary(facts.description),
        type=facts.type,
        severity=facts.severity,
        contact_email=facts.contact_email,
        contact_phone=facts.contact_phone,
        contact_channel=facts.contact_channel,
    )
    for planned in plan_opened():
        await _queue(session, event.ticket_id, planned, facts, context)


async def _status_changed(session: AsyncSession, event: StatusChanged) -> None:
    reply_mails: dict[int, Notification | None] = session.info.setdefault(_REPLY_MAILS, {})
    with_reply = event.ticket_id in reply_mails
    reply_mail = reply_mails.pop(event.ticket_id, None)
    reopened = event.from_status is TicketStatus.RESOLVED and event.to_status is TicketStatus.OPEN
    if reply_mail is not None and reopened:
        reply_mail.context = {**reply_mail.context, "reopened": True}
    facts = await _facts(session, event.ticket_id)
    context = facts.context(
        _settings(session),
        from_status=event.from_status.value,
        to_status=event.to_status.value,
        solution=facts.solution if event.to_status is TicketStatus.RESOLVED else None,
        # The mails of a status change go to the customer: no note of the desk's own tools.
        note=customer_note(event.note),
        author_name=_author(event.actor, "Sportello"),
    )
    for planned in plan_status_changed(
        event.from_status, event.to_status, _by_customer(event.actor), with_reply
    ):
        await _queue(session, event.ticket_id, planned, facts, context)


async def _replied(session: AsyncSession, event: ReplyPosted) -> None:
    public = event.visibility is Visibility.PUBLIC
    by_customer = _by_customer(event.actor)
    plans = plan_reply(public, by_customer)
    if not plans:
        return
    reply = await session.get(Reply, event.reply_id)
    if reply is None:
        return
    facts = await _facts(session, event.ticket_id)
    context = facts.context(
        _settings(session),
        author_name=_author(event.actor, reply.author_name),
        body=reply.body,
        reopened=False,
    )
    queued = None
    created: list[Notification] = []
    for planned in plans:
        queued = await _queue(session, event.ticket_id, planned, facts, context, created)
    if not by_customer:
        session.info.setdefault(_REPLY_FILE_MAILS, {})[reply.id] = created
    if by_customer:
        session.info.setdefault(_REPLY_MAILS, {})[event.ticket_id] = queued


# --- the admins' view ----------------------------------------------------------------------


async def list_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: NotificationStatus | None,
    ticket_id: int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Notification, str | None]], str | None]:
    """Notifications with their ticket's number, newest first, in keyset pages (admins only).

    Mails of no ticket (the link confirming a new e-mail address) are listed too, with no
    number."""
    require_admin(actor)
    stmt = select(Notification, Ticket.number).outerjoin(
        Ticket, Ticket.id == Notification.ticket_id
    )
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if ticket_id is not None:
        stmt = stmt.where(Notification.ticket_id == ticket_id)
    if cursor is not None:
        stmt = stmt.where(Notification.id < decode_id_cursor(cursor))
    rows = (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1))).all()
    items: list[tuple[Notification, str | None]] = [(n, number) for n, number in rows]
    if len(items) > limit:
        items = items[:limit]
        return items, encode_cursor([items[-1][0].id])
    return items, None


async def retry(
    session: AsyncSession, actor: Actor, notification_id: int
) -> tuple[Notification, str | None]:
    """Queue a failed notification again, due now, with a fresh budget of attempts."""
    require_admin(actor)
    row = (
        await session.execute(
            select(Notification, Ticket.number)
            .outerjoin(Ticket, Ticket.id == Notification.ticket_id)
            .where(Notification.id == notification_id)
            .with_for_update(of=Notification)
        )
    ).first()
    if row is None:
        raise NotFound("No such notification.")
    notification, number = row
    if notification.status is not NotificationStatus.FAILED:
        raise Conflict(
            f"Only a failed notification can be retried; this one is {notification.status.value}."
        )
    notification.status = NotificationStatus.QUEUED
    notification.attempts = 0
    notification.next_attempt_at = utcnow()
    await session.flush()
    return notification, number
