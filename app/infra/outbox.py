"""The dispatcher: claim due notifications, send them, settle each as sent or to retry.

Three short steps, so no transaction is open while SMTP is talked to:

1. **Claim**, in one transaction: rows left ``sending`` past their lease are
   queued again, then the due queued rows are selected ``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, so concurrent workers take disjoint rows without
   waiting for each other; on SQLite every write transaction begins
   ``IMMEDIATE`` (see ``db/session.py``), so the claims of two workers follow
   each other and the second finds the rows already leased. The rows become
   ``sending``, their attempt counted, until the end of a lease.
2. **Send**, outside any transaction, rendering each mail from its row.
3. **Settle**, in one transaction: sent (and the public-link token wiped), or
   queued again after a backoff, or failed. Each update is guarded by the
   attempt it claimed, so a worker whose lease expired cannot overwrite the
   result of the worker that took the row over.

Each mail the server accepts is recorded as sent at once, in a transaction of
its own, before the next mail of the batch is sent: a worker killed mid-batch
leaves ``sending`` only the mail in flight (and the ones not yet sent). Delivery
is at least once: that one mail is sent again when its lease ends, with the same
``Message-ID``, so the receiving side can tell it is the same mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.base import utcnow
from app.db.models import Notification
from app.db.models.notifications import MAX_ERROR_LENGTH
from app.domain.notifications import NotificationStatus, settle_failure
from app.infra.mail import (
    Mailer,
    Outcome,
    OutgoingMail,
    link_for,
    mailer_for,
    message_id,
    portal_link,
    render,
    satisfaction_link,
    send_each,
)

logger = logging.getLogger("sportello.outbox")

QUEUED, SENDING, SENT = (
    NotificationStatus.QUEUED,
    NotificationStatus.SENDING,
    NotificationStatus.SENT,
)
MAX_BATCHES_PER_ROUND = 20
"""A round stops after this many batches, so the worker's other jobs get their turn."""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempts: int
    kind: str
    recipient: str
    locale: str
    context: dict[str, Any]
    secret: str | None
    created_at: datetime


async def claim(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due notifications to this worker (step 1 above)."""
    now = utcnow()
    async with sessions.begin() as session:
        # Leases that ran out (their worker died): due again, their attempt still counted.
        expired = (
            select(Notification.id)
            .where(Notification.status == SENDING, Notification.next_attempt_at <= now)
            .with_for_update(skip_locked=True)
        )
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(expired.scalar_subquery()))
            .values(status=QUEUED)
            .execution_options(synchronize_session=False)
        )
        # One status, in the order of the index on (status, next_attempt_at, id): a backlog
        # of any size costs a claim no more than ``limit`` index entries.
        rows = (
            await session.execute(
                select(
                    Notification.id,
                    Notification.attempts,
                    Notification.kind,
                    Notification.recipient,
                    Notification.locale,
                    Notification.context,
                    Notification.secret,
                    Notification.created_at,
                )
                .where(Notification.status == QUEUED, Notification.next_attempt_at <= now)
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return []
        await session.execute(
            update(Notification)
            .where(Notification.id.in_([r.id for r in rows]))
            .values(
                status=SENDING,
                attempts=Notification.attempts + 1,
                next_attempt_at=now + timedelta(seconds=settings.mail_lease_seconds),
            )
            .execution_options(synchronize_session=False)
        )
    return [
        Claimed(
            id=r.id,
            attempts=r.attempts + 1,
            kind=str(r.kind),
            recipient=r.recipient,
            locale=str(r.locale),
            context=dict(r.context),
            secret=r.secret,
            created_at=r.created_at,
        )
        for r in rows
    ]


def outgoing(claimed: Claimed, settings: Settings) -> OutgoingMail:
    link = None
    if claimed.secret and claimed.kind == "status_changed":
        # A resolution's mail carries the "How did we do?" link's token.
        link = satisfaction_link(settings, claimed.secret)
    elif claimed.secret:
        link = link_for(claimed.kind, settings, claimed.secret)
    rendered = render(
        claimed.kind, claimed.locale, claimed.context, link, portal_link(settings, claimed.context)
    )
    return OutgoingMail(
        message_id=message_id(claimed.id, int(claimed.created_at.timestamp()), settings.mail_from),
        recipient=claimed.recipient,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        secrets=(claimed.secret,) if claimed.secret else (),
        reply_to=claimed.context.get("reply_to"),
        thread=claimed.context.get("thread"),
        files=tuple(claimed.context.get("files", ())),
    )


async def mark_sent(sessions: async_sessionmaker[AsyncSession], claimed: Claimed) -> None:
    """Record one accepted mail as sent, guarded by the attempt this worker claimed."""
    async with sessions.begin() as session:
        await session.execute(
            update(Notification)
            .where(
                Notification.id == claimed.id,
                Notification.status == SENDING,
                Notification.attempts == claimed.attempts,
            )
            .values(
                status=SENT, sent_at=utcnow(), next_attempt_at=None, secret=None, last_error=None
            )
        )


async def send(
    claimed: list[Claimed],
    settings: Settings,
    mailer: Mailer,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> list[Outcome]:
    """Render and send (step 2 above); a mail that cannot be rendered fails alone.

    With ``sessions``, each mail is recorded as sent as soon as the server accepts it;
    if that record fails (the database is away), :func:`settle` records it after the batch.
    """

    async def accepted(c: Claimed) -> None:
        if sessions is not None:
            await mark_sent(sessions, c)

    return await send_each(
        claimed,
        lambda c: outgoing(c, settings),
        mailer,
        settings,
        accepted,
        label=lambda c: f"notification {c.id}",
    )


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    claimed: list[Claimed],
    outcomes: list[Outcome],
) -> None:
    """Record what happened (step 3 above)."""
    now = utcnow()
    delivered = [(c.id, c.attempts) for c, o in zip(claimed, outcomes, strict=True) if o.delivered]
    async with sessions.begin() as session:
        if delivered:
            await session.execute(
                update(Notification)
                .where(
                    Notification.status == SENDING,
                    tuple_(Notification.id, Notification.attempts).in_(delivered),
                )
                .values(
                    status=SENT, sent_at=now, next_attempt_at=None, secret=None, last_error=None
                )
            )
        for c, o in zip(claimed, outcomes, strict=True):
            if o.delivered:
                continue
            after = settle_failure(
                attempts=c.attempts,
                max_attempts=settings.mail_max_attempts,
                server_unavailable=o.server_unavailable,
                now=now,
                base_seconds=settings.mail_retry_base_seconds,
                cap_seconds=settings.mail_retry_cap_seconds,
            )
            await session.execute(
                update(Notification)
                .where(
                    Notification.id == c.id,
                    Notification.status == SENDING,
                    Notification.attempts == c.attempts,
                )
                .values(
                    status=after.status,
                    next_attempt_at=after.next_attempt_at,
                    last_error=(o.error or "unknown error")[:MAX_ERROR_LENGTH],
                )
            )
    failed = len(outcomes) - len(delivered)
    if failed:
        logger.warning(
            "%d of %d mails not delivered (first error: %s)",
            failed,
            len(outcomes),
            next(o.error for o in outcomes if not o.delivered),
        )


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailer: Mailer | None = None,
) -> int:
    """Deliver what is due, batch after batch; returns the number of mails delivered.

    A batch that finds the server unavailable ends the round: the next batch
    would only fail the same way.
    """
    mailer = mailer or mailer_for(settings)
    delivered = 0
    for _ in range(MAX_BATCHES_PER_ROUND):
        claimed = await claim(sessions, settings, settings.mail_batch_size)
        if not claimed:
            break
        outcomes = await send(claimed, settings, mailer, sessions)
        await settle(sessions, settings, claimed, outcomes)
        delivered += sum(o.delivered for o in outcomes)
        if len(claimed) < settings.mail_batch_size or any(o.server_unavailable for o in outcomes):
            break
    return delivered


async def purge_sent(session: AsyncSession, settings: Settings, *, batch: int = 1000) -> int:
    """Forget delivered mail older than ``MAIL_RETENTION_DAYS`` (a worker job), so the outbox
    stays small; failed rows stay until an admin retries them."""
    cutoff = utcnow() - timedelta(days=settings.mail_retention_days)
    old = (
        select(Notification.id)
        .where(Notification.created_at < cutoff, Notification.status == SENT)
        .order_by(Notification.created_at)
        .limit(batch)
    )
    ids = list((await session.scalars(old)).all())
    if not ids:
        return 0
    await session.execute(delete(Notification).where(Notification.id.in_(ids)))
    return len(ids)
