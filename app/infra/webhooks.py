"""Webhook delivery: claim due deliveries, send them over HTTP, settle each.

The same three short steps as the mail outbox (``infra/outbox.py``), so no transaction is
open while a receiver is waited for:

1. **Claim**, in one transaction: expired leases are due again; then due ``pending`` rows
   whose hook is enabled and that have **no earlier delivery of the same hook and ticket still
   to go** (so a ticket's events reach a receiver in the order they happened, retries
   included) are taken ``FOR UPDATE SKIP LOCKED`` (on SQLite, write transactions are
   ``IMMEDIATE``), marked ``sending`` with a lease, their attempt counted.
2. **Send**, outside any transaction, a few at a time, each with a timeout.
3. **Settle**, guarded by the attempt claimed: delivered; or retried after a backoff with
   jitter (``domain/delivery.py``); or given up after ``WEBHOOK_MAX_ATTEMPTS``. ``410 Gone``
   disables the hook at once; ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed attempts in a row
   disable it too. Admins are told by mail when a hook is disabled.

The HTTP side, with its SSRF guard, is ``infra/webhook_http.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.config import Settings
from app.db.base import utcnow
from app.db.models import User, Webhook, WebhookDelivery
from app.db.models.webhooks import MAX_DELIVERY_ERROR
from app.domain.access import Role
from app.domain.delivery import backoff_with_jitter
from app.domain.webhooks import (
    DeliveryStatus,
    Verdict,
    after_failure,
    headers,
    judge,
    message_id,
)
from app.infra.mail import OutgoingMail, mailer_for, one_line
from app.infra.webhook_http import Attempt, HttpSender, Sender, make_client

logger = logging.getLogger("sportello.webhooks")

PENDING, SENDING, DELIVERED, FAILED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
)
MAX_BATCHES_PER_ROUND = 20


# --- claim, send, settle -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    webhook_id: int
    attempts: int
    url: str
    payload: str
    secrets: tuple[str, ...]


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The current secret, and the previous one while the rotation's overlap lasts."""
    if previous and previous_until is not None and previous_until > now:
        return (secret, previous)
    return (secret,)


async def claim(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, limit: int
) -> list[Claimed]:
    now = utcnow()
    delivery = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    async with sessions.begin() as session:
        expired = (
            select(delivery.id)
            .where(delivery.status == SENDING, delivery.next_attempt_at <= now)
            .with_for_update(skip_locked=True)
        )
        await session.execute(
            update(delivery)
            .where(delivery.id.in_(expired.scalar_subquery()))
            .values(status=PENDING)
            .execution_options(synchronize_session=False)
        )
        blocked = exists().where(
            and_(
                earlier.webhook_id == delivery.webhook_id,
                earlier.ticket_id == delivery.ticket_id,
                earlier.id < delivery.id,
                earlier.status.in_([PENDING, SENDING]),
            )
        )
        rows = (
            await session.execute(
                select(
                    delivery.id,
                    delivery.webhook_id,
                    delivery.attempts,
                    delivery.payload,
                    Webhook.url,
                    Webhook.secret,
                    Webhook.previous_secret,
                    Webhook.previous_secret_expires_at,
                )
                .join(Webhook, Webhook.id == delivery.webhook_id)
                .where(
                    delivery.status == PENDING,
                    delivery.next_attempt_at <= now,
                    Webhook.enabled.is_(True),
                    ~blocked,
                )
                .order_by(delivery.next_attempt_at, delivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=delivery)
            )
        ).all()
        if not rows:
            return []
        await session.execute(
            update(delivery)
            .where(delivery.id.in_([r.id for r in rows]))
            .values(
                status=SENDING,
                attempts=delivery.attempts + 1,
                last_attempt_at=now,
                next_attempt_at=now + timedelta(seconds=settings.webhook_lease_seconds),
            )
            .execution_options(synchronize_session=False)
        )
    return [
        Claimed(
            id=r.id,
            webhook_id=r.webhook_id,
            attempts=r.attempts + 1,
            url=r.url,
            payload=r.payload,
            secrets=signing_secrets(r.secret, r.previous_secret, r.previous_secret_expires_at, now),
        )
        for r in rows
    ]


async def send(claimed: Sequence[Claimed], sender: Sender, settings: Settings) -> list[Attempt]:
    """Send every claimed delivery, at most ``WEBHOOK_CONCURRENCY`` at a time. A batch holds
    at most one delivery per hook and ticket, so sending them together keeps each ticket's
    order."""
    gate = asyncio.Semaphore(settings.webhook_concurrency)

    async def one(c: Claimed) -> Attempt:
        body = c.payload.encode()
        async with gate:
            signed = headers(c.secrets, message_id(c.id), int(time.time()), body)
            return await sender.send(c.url, signed, body)

    return list(await asyncio.gather(*(one(c) for c in claimed)))


@dataclass(frozen=True, slots=True)
class Disabled:
    webhook_id: int
    url: str
    reason: str


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    claimed: Sequence[Claimed],
    attempts: Sequence[Attempt],
) -> list[Disabled]:
    now = utcnow()
    disabled: list[Disabled] = []
    async with sessions.begin() as session:
        for c, a in zip(claimed, attempts, strict=True):
            guard = (
                WebhookDelivery.id == c.id,
                WebhookDelivery.status == SENDING,
                WebhookDelivery.attempts == c.attempts,
            )
            common = {"response_code": a.status_code, "duration_ms": a.duration_ms}
            verdict = judge(a.status_code)
            if verdict is Verdict.DELIVERED:
                await session.execute(
                    update(WebhookDelivery)
                    .where(*guard)
                    .values(
                        status=DELIVERED,
                        delivered_at=now,
                        next_attempt_at=None,
                        last_error=None,
                        **common,
                    )
                )
                await session.execute(
                    update(Webhook).where(Webhook.id == c.webhook_id).values(failure_count=0)
                )
                continue
            error = (a.error or "unknown error")[:MAX_DELIVERY_ERROR]
            if verdict is Verdict.GONE:
                await session.execute(
                    update(WebhookDelivery)
                    .where(*guard)
                    .values(status=FAILED, next_attempt_at=None, last_error=error, **common)
                )
                gone = await _disable(session, c.webhook_id, "the receiver answered 410 Gone", now)
                if gone is not None:
                    disabled.append(gone)
                continue
            failures = (
                await session.execute(
                    update(Webhook)
                    .where(Webhook.id == c.webhook_id)
                    .values(failure_count=Webhook.failure_count + 1)
                    .returning(Webhook.failure_count)
                )
            ).scalar_one_or_none()
            after = after_failure(
                attempts=c.attempts,
                max_attempts=settings.webhook_max_attempts,
                hook_failures=failures or 0,
                disable_after=settings.webhook_disable_after_failures,
            )
            next_at = None
            if not after.delivery_failed:
                next_at = now + backoff_with_jitter(
                    c.attempts,
                    settings.webhook_retry_base_seconds,
                    settings.webhook_retry_cap_seconds,
                    random.random(),  # noqa: S311  (jitter, not a secret)
                )
            await session.execute(
                update(WebhookDelivery)
                .where(*guard)
                .values(
                    status=FAILED if after.delivery_failed else PENDING,
                    next_attempt_at=next_at,
                    last_error=error,
                    **common,
                )
            )
            if after.disable_hook:
                off = await _disable(
                    session,
                    c.webhook_id,
                    f"{failures} failed attempts in a row (last: {error})"[:200],
                    now,
                )
                if off is not None:
                    disabled.append(off)
    return disabled


async def _disable(
    session: AsyncSession, webhook_id: int, reason: str, now: datetime
) -> Disabled | None:
    """Disable the hook if it is still enabled (so admins are told once)."""
    url = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, updated_at=now)
            .returning(Webhook.url)
        )
    ).scalar_one_or_none()
    if url is None:
        return None
    logger.warning("webhook %s disabled: %s", webhook_id, reason)
    return Disabled(webhook_id, url, reason)


async def tell_admins(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, disabled: Sequence[Disabled]
) -> None:
    """A mail to every active admin for each disabled hook (best effort: a mail that cannot be
    sent is logged; the hook's state and reason stay visible in ``GET /webhooks``)."""
    async with sessions() as session:
        admins = list(
            (
                await session.scalars(
                    select(User.email).where(User.role == Role.ADMIN, User.is_active.is_(True))
                )
            ).all()
        )
    if not admins:
        return
    domain = settings.mail_from.rsplit("@", 1)[-1]
    mails = []
    for d in disabled:
        text = (
            f"The webhook {d.webhook_id} ({d.url}) was disabled: {d.reason}.\n\n"
            "It gets no new events while disabled; the deliveries it had wait. When the\n"
            "receiver works again, read what it missed from GET /api/v1/events and enable it with\n"
            f'PATCH /api/v1/webhooks/{d.webhook_id} {{"enabled": true}}.\n'
        )
        stamp = int(time.time())
        for i, admin in enumerate(admins):
            mails.append(
                OutgoingMail(
                    message_id=f"<webhook-disabled-{d.webhook_id}.{stamp}.{i}@{domain}>",
                    recipient=admin,
                    subject=one_line(f"[Sportello] Webhook {d.webhook_id} disabled"),
                    text=text,
                    html="<pre>" + _escape(text) + "</pre>",
                )
            )
    outcomes = await mailer_for(settings).deliver(mails)
    for mail, outcome in zip(mails, outcomes, strict=True):
        if not outcome.delivered:
            logger.error(
                "could not tell %s a webhook was disabled: %s", mail.recipient, outcome.error
            )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: Sender | None = None,
) -> int:
    """Deliver what is due, batch after batch, until nothing is due (or ``MAX_BATCHES_PER_ROUND``
    batches); returns the number delivered."""
    delivered = 0
    client: httpx.AsyncClient | None = None
    try:
        for _ in range(MAX_BATCHES_PER_ROUND):
            claimed = await claim(sessions, settings, settings.webhook_batch_size)
            if not claimed:
                break
            if sender is None:
                client = make_client(settings)
                sender = HttpSender(settings, client)
            attempts = await send(claimed, sender, settings)
            disabled = await settle(sessions, settings, claimed, attempts)
            if disabled:
                await tell_admins(sessions, settings, disabled)
            delivered += sum(judge(a.status_code) is Verdict.DELIVERED for a in attempts)
            # No early stop on a short batch: a batch takes one delivery per hook and ticket,
            # so the next event of a ticket just delivered comes in the next batch.
    finally:
        if client is not None:
            await client.aclose()
    return delivered


async def purge_delivered(session: AsyncSession, settings: Settings, *, batch: int = 1000) -> int:
    """Forget delivered deliveries after ``WEBHOOK_RETENTION_DAYS`` (a worker job)."""
    cutoff = utcnow() - timedelta(days=settings.webhook_retention_days)
    old = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == DELIVERED, WebhookDelivery.created_at < cutoff)
        .limit(batch)
    )
    ids = list((await session.scalars(old)).all())
    if not ids:
        return 0
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)
