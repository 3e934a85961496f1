"""Incoming e-mail becomes a ticket or a reply, through the ticket and reply use cases.

One entry point, :func:`receive`, for every way in (the HTTP endpoint, the
mailgate command through it, the IMAP poller). It records the mail in
``inbound_mail`` (unique ``Message-ID``) and acts on it in the caller's
transaction and one savepoint: a mail taken twice, even by two workers at the
same moment, is imported once; the second insert waits on the unique index,
fails, and answers with what the first one did.

Who may do what is decided as for the API: the sender is matched to a user by
address and acts as that user (:func:`reply_service.post_reply`,
:func:`ticket_service.open_ticket`, :func:`ticket_service.follow_up`); a
contact or CC of the ticket who is no user replies as its customer; a staff
address counts only when our receiving server vouches for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.base import utcnow
from app.db.models import Customer, CustomerMailDomain, InboundMail, Ticket, TicketCc, User
from app.db.models.inbound import MAX_REASON
from app.db.models.tickets import MAX_CONTACT_EMAIL, MAX_CONTACT_NAME
from app.domain.access import Actor, Role
from app.domain.attachments import safe_filename, sniff
from app.domain.errors import DomainError, InsufficientStorage
from app.domain.inbound import (
    MAX_CC,
    InboundOutcome,
    InboundSource,
    MailFacts,
    UnknownSenderPolicy,
    authenticated,
    cc_within,
    clean_subject,
    domain_of,
    language_of,
    noise_reason,
    normalise_address,
    thread_numbers,
)
from app.domain.tickets import TicketType, Visibility, can_reply
from app.infra import mailparse
from app.infra.storage import StagedBlob
from app.services import replies as reply_service
from app.services import tickets as ticket_service
from app.services.attachments import IncomingFile, Uploads
from app.services.auth import normalise_email

logger = logging.getLogger("sportello.inbound")

EML_TYPE = "message/rfc822"
QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class Received:
    mail: InboundMail
    duplicate: bool


@dataclass(frozen=True, slots=True)
class _Decision:
    outcome: InboundOutcome
    reason: str | None = None
    ticket_id: int | None = None
    reply_id: int | None = None
    answer: str | None = None
    """The kind of mail to send back to the sender, if any."""
    answer_context: dict[str, object] | None = None
    keep_raw: bool = False


def message_key(facts: MailFacts, raw: bytes) -> str:
    """The mail's identity: its Message-ID, or for a mail without one a hash of its bytes."""
    if facts.message_id:
        return facts.message_id[:255]
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@sportello.invalid>"


async def _existing(session: AsyncSession, key: str) -> InboundMail | None:
    return await session.scalar(select(InboundMail).where(InboundMail.message_id == key))


async def receive(
    session: AsyncSession,
    settings: Settings,
    raw: bytes,
    *,
    source: InboundSource,
    uploads: Uploads,
) -> Received:
    """Record one raw message and act on it; a mail seen before is not acted on again.

    ``uploads`` receives the mail's files (and the original as ``.eml``); the caller
    closes it after its transaction, which deletes the stored blobs if it failed.
    """
    # Reading a mail of megabytes takes a while: off the event loop, so the API still answers.
    parsed = await anyio.to_thread.run_sync(mailparse.parse, raw)
    key = message_key(parsed.facts, raw)
    seen = await _existing(session, key)
    if seen is not None:
        return Received(seen, duplicate=True)
    row = InboundMail(
        message_id=key,
        source=source,
        sender=parsed.facts.sender[:320],
        subject=" ".join(parsed.facts.subject.split())[:250],
        outcome=InboundOutcome.IGNORED,
        size=len(raw),
        answer_attempts=0,
        received_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Another worker imported the same Message-ID first (this insert waited for it on
        # the unique index): its result stands.
        seen = await _existing(session, key)
        if seen is None:
            raise
        return Received(seen, duplicate=True)
    settle(row, await decide(session, settings, parsed, raw, uploads), raw)
    await session.flush()
    logger.info(
        "mail %s from %s: %s%s",
        row.id,
        row.sender,
        row.outcome.value,
        f" ({row.reason})" if row.reason else "",
    )
    return Received(row, duplicate=False)


def settle(row: InboundMail, decision: _Decision, raw: bytes) -> None:
    row.outcome = decision.outcome
    row.reason = decision.reason[:MAX_REASON] if decision.reason else None
    row.ticket_id = decision.ticket_id
    row.reply_id = decision.reply_id
    row.raw = raw if decision.keep_raw else None
    if decision.answer is not None:
        row.answer_kind = decision.answer
        row.answer_context = json.dumps(decision.answer_context or {})[:4000]
        row.answer_status = QUEUED
        row.answer_next_at = utcnow()


async def _recent(session: AsyncSession, sender: str, outcome: InboundOutcome | None) -> int:
    since = utcnow() - timedelta(hours=1)
    stmt = select(func.count(InboundMail.id)).where(
        InboundMail.sender == sender, InboundMail.received_at >= since
    )
    if outcome is not None:
        stmt = stmt.where(InboundMail.outcome == outcome)
    return int(await session.scalar(stmt) or 0)


async def decide(
    session: AsyncSession,
    settings: Settings,
    parsed: mailparse.ParsedMail,
    raw: bytes,
    uploads: Uploads,
    *,
    vouched: bool = False,
) -> _Decision:
    """Act in a savepoint; a rule of the ticket use cases saying no refuses the mail.

    A store that cannot take the mail's files now (full, read-only) is no rule: the mail is
    not refused (its content would be lost, its Message-ID then taken as seen) but not
    taken at all, so that it comes again: left unseen in the inbox, 507 to the mail gate
    (which tells its MTA to try later)."""
    try:
        async with session.begin_nested():
            return await _act(session, settings, parsed, raw, uploads, vouched=vouched)
    except InsufficientStorage:
        raise
    except DomainError as exc:
        return _Decision(InboundOutcome.REFUSED, f"{type(exc).__name__}: {exc}")


async def _act(
    session: AsyncSession,
    settings: Settings,
    parsed: mailparse.ParsedMail,
    raw: bytes,
    uploads: Uploads,
    *,
    vouched: bool,
) -> _Decision:
    facts = parsed.facts
    ours = frozenset(
        normalise_address(a) for a in (settings.mail_from, settings.support_email) if a
    )
    noise = noise_reason(facts, settings.mail_domain, ours)
    if noise is not None:
        return _Decision(InboundOutcome.IGNORED, noise)
    if len(raw) > settings.inbox_max_message_bytes:
        return _Decision(InboundOutcome.REFUSED, "message larger than the inbox accepts")
    user = await session.scalar(
        select(User).where(User.email == normalise_email(facts.sender), User.is_active.is_(True))
    )
    trusted = frozenset(h.lower() for h in settings.inbox_trusted_hosts)
    staff = user is not None and user.role is not Role.CUSTOMER
    if staff and not vouched and not authenticated(facts, trusted):
        return _Decision(
            InboundOutcome.HELD,
            "from a staff address without passing SPF/DKIM from a trusted host",
            keep_raw=True,
        )
    numbers = thread_numbers(facts, settings.mail_domain, settings.inbox_secret)
    ticket = None
    if numbers:
        ticket = await session.scalar(
            select(Ticket).where(Ticket.number.in_(numbers)).order_by(Ticket.id.desc()).limit(1)
        )
    if ticket is not None:
        actor = await _participant(session, ticket, user, parsed)
        if actor is not None:
            return await _answer_ticket(session, settings, parsed, raw, uploads, ticket, actor)
    return await _new_ticket(session, settings, parsed, raw, uploads, user)


def _mail_actor(role: Role, user_id: int | None, customer_id: int | None, name: str) -> Actor:
    return Actor(
        role=role, user_id=user_id, customer_id=customer_id, name=name[:200], channel="email"
    )


async def _participant(
    session: AsyncSession, ticket: Ticket, user: User | None, parsed: mailparse.ParsedMail
) -> Actor | None:
    """Who the sender is on this ticket, or None when they are not on it."""
    if user is not None:
        if user.role is not Role.CUSTOMER:
            return _mail_actor(user.role, user.id, None, user.name)
        if user.customer_id == ticket.customer_id:
            return _mail_actor(Role.CUSTOMER, user.id, user.customer_id, user.name)
        return None
    sender = parsed.facts.sender
    on_ticket = (ticket.contact_email or "").lower() == sender or (
        await session.scalar(
            select(TicketCc.id).where(TicketCc.ticket_id == ticket.id, TicketCc.email == sender)
        )
    ) is not None
    if not on_ticket:
        return None
    name = parsed.from_name or (ticket.contact_name if ticket.contact_email else None) or sender
    return _mail_actor(Role.CUSTOMER, None, ticket.customer_id, name)


async def _stage_files(
    settings: Settings, parsed: mailparse.ParsedMail, raw: bytes, uploads: Uploads
) -> list[dict[str, str]]:
    """Put the mail's acceptable files in ``uploads`` (the original too); the others, refused."""
    refused: list[dict[str, str]] = []
    taken = 0
    for file in parsed.files:
        name = safe_filename(file.filename, "application/octet-stream").removesuffix(".bin")
        if len(file.data) > settings.max_attachment_bytes:
            mib = settings.max_attachment_bytes / (1024 * 1024)
            refused.append({"filename": name, "code": "too_large", "reason": f"over {mib:g} MiB"})
            continue
        content_type = sniff(file.data)
        if content_type is None:
            refused.append({"filename": name, "code": "type", "reason": "type not allowed"})
            continue
        if taken >= settings.max_attachments:
            refused.append({"filename": name, "code": "too_many", "reason": "too many files"})
            continue
        taken += 1
        uploads.files.append(
            IncomingFile(
                filename=safe_filename(file.filename, content_type),
                content_type=content_type,
                staged=await _stage(uploads, file.data),
            )
        )
    uploads.files.append(
        IncomingFile(
            filename="original-mail.eml", content_type=EML_TYPE, staged=await _stage(uploads, raw)
        )
    )
    return refused


async def _stage(uploads: Uploads, data: bytes) -> StagedBlob:
    writer = uploads.storage.writer()
    try:
        for start in range(0, len(data), 256 * 1024):
            await writer.write(data[start : start + 256 * 1024])
        return await writer.finish()
    except BaseException:
        await writer.abort()
        raise


def _contact(parsed: mailparse.ParsedMail) -> ticket_service.Contact:
    """The sender as a ticket's contact, within the contact's columns: a display name is cut
    to its length, an address longer than the column is no contact address."""
    sender = parsed.facts.sender
    return ticket_service.Contact(
        name=parsed.from_name[:MAX_CONTACT_NAME] or None,
        email=sender if len(sender) <= MAX_CONTACT_EMAIL else None,
    )


def _refused_answer(refused: list[dict[str, str]], number: str) -> dict[str, object]:
    files = [{"filename": f["filename"][:100], "code": f["code"]} for f in refused[:20]]
    return {"number": number, "files": files}


async def _answer_ticket(
    session: AsyncSession,
    settings: Settings,
    parsed: mailparse.ParsedMail,
    raw: bytes,
    uploads: Uploads,
    ticket: Ticket,
    actor: Actor,
) -> _Decision:
    refused = await _stage_files(settings, parsed, raw, uploads)
    body = parsed.text or parsed.full_text or "(empty message)"
    if not can_reply(ticket.status):
        follow = ticket_service.FollowUp(
            subject=clean_subject(parsed.facts.subject) or ticket.subject,
            description=body,
            contact=_contact(parsed),
        )
        new, _ = await ticket_service.follow_up(session, actor, ticket.id, follow, uploads=uploads)
        await _add_cc(session, new, parsed)
        return _files_decision(
            InboundOutcome.TICKET,
            f"follow-up of closed {ticket.number}",
            new,
            None,
            refused,
            await _locale(session, ticket.customer_id),
        )
    reply, _ = await reply_service.post_reply(
        session, actor, ticket.id, body=body, visibility=Visibility.PUBLIC, uploads=uploads
    )
    await _add_cc(session, ticket, parsed)
    return _files_decision(
        InboundOutcome.REPLY,
        None,
        ticket,
        reply.id,
        refused,
        await _locale(session, ticket.customer_id),
    )


def _files_decision(
    outcome: InboundOutcome,
    reason: str | None,
    ticket: Ticket,
    reply_id: int | None,
    refused: list[dict[str, str]],
    locale: str,
) -> _Decision:
    if not refused:
        return _Decision(outcome, reason, ticket.id, reply_id)
    names = ", ".join(f"{f['filename']} ({f['reason']})" for f in refused)
    return _Decision(
        outcome,
        ((reason + "; ") if reason else "") + f"files refused: {names}",
        ticket.id,
        reply_id,
        answer="files_refused",
        answer_context={**_refused_answer(refused, ticket.number), "locale": locale},
    )


async def _locale(session: AsyncSession, customer_id: int) -> str:
    locale = await session.scalar(select(Customer.locale).where(Customer.id == customer_id))
    return locale.value if locale is not None else "it"


async def _customer_domains(session: AsyncSession, customer_id: int) -> frozenset[str]:
    rows = await session.scalars(
        select(CustomerMailDomain.domain).where(CustomerMailDomain.customer_id == customer_id)
    )
    return frozenset(rows.all())


async def _add_cc(session: AsyncSession, ticket: Ticket, parsed: mailparse.ParsedMail) -> None:
    """The mail's Cc within the customer's mail domains join the ticket's CC list."""
    if not parsed.facts.cc:
        return
    domains = await _customer_domains(session, ticket.customer_id)
    exclude = frozenset({parsed.facts.sender, (ticket.contact_email or "").lower()})
    wanted = cc_within(parsed.facts.cc, domains, exclude)
    if not wanted:
        return
    have = set(
        (await session.scalars(select(TicketCc.email).where(TicketCc.ticket_id == ticket.id))).all()
    )
    for email in wanted[: max(0, MAX_CC - len(have))]:
        if email not in have:
            session.add(TicketCc(ticket_id=ticket.id, email=email, created_at=utcnow()))
    await session.flush()


async def _new_ticket(
    session: AsyncSession,
    settings: Settings,
    parsed: mailparse.ParsedMail,
    raw: bytes,
    uploads: Uploads,
    user: User | None,
) -> _Decision:
    facts = parsed.facts
    if await _recent(session, facts.sender, InboundOutcome.TICKET) >= (
        settings.inbox_max_tickets_per_hour
    ):
        return _Decision(
            InboundOutcome.REFUSED,
            f"more than {settings.inbox_max_tickets_per_hour} new tickets from this sender "
            "in an hour",
        )
    customer: Customer | None = None
    actor: Actor | None = None
    if user is not None and user.role is Role.CUSTOMER and user.customer_id is not None:
        customer = await session.get(Customer, user.customer_id)
        actor = _mail_actor(Role.CUSTOMER, user.id, user.customer_id, user.name)
    elif user is not None:
        return _Decision(InboundOutcome.REFUSED, "a staff mail that names no ticket opens none")
    elif UnknownSenderPolicy(settings.inbox_unknown_sender) is UnknownSenderPolicy.DOMAIN:
        customer = await session.scalar(
            select(Customer)
            .join(CustomerMailDomain, CustomerMailDomain.customer_id == Customer.id)
            .where(CustomerMailDomain.domain == domain_of(facts.sender))
        )
        if customer is not None:
            actor = _mail_actor(Role.CUSTOMER, None, customer.id, parsed.from_name or facts.sender)
    if customer is None or actor is None:
        # Answer at most a few times an hour: a forged sender must not make us a spammer.
        answer = "unknown_sender" if await _recent(session, facts.sender, None) <= 3 else None
        return _Decision(
            InboundOutcome.REFUSED,
            "unknown sender",
            answer=answer,
            answer_context={"subject": facts.subject[:200], "locale": language_of(facts, "it")},
        )
    refused = await _stage_files(settings, parsed, raw, uploads)
    data = ticket_service.NewTicket(
        customer_code=customer.code,
        type=TicketType(settings.inbox_ticket_type),
        subject=clean_subject(facts.subject) or "(no subject)",
        description=parsed.text or parsed.full_text or "(empty message)",
        contact=_contact(parsed),
    )
    ticket, _ = await ticket_service.open_ticket(session, actor, data, uploads=uploads)
    await _add_cc(session, ticket, parsed)
    return _files_decision(
        InboundOutcome.TICKET, None, ticket, None, refused, customer.locale.value
    )
