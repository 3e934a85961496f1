"""A user changes their own e-mail address: it takes effect when the new address proves itself.

``PATCH /me`` with a new ``email`` (and the current password) records the change
as pending and mails a link to the new address; the address (the user's login)
changes only when that link is opened, within :data:`LIFETIME`. The token is 256
random bits stored as its SHA-256; its plaintext is in the mail's outbox row
until the mail is delivered. One pending change per user: a new request replaces
the old one, whose link stops working.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import EmailChange, Notification, User
from app.db.session import flush_unique
from app.domain.errors import Conflict, NotFound
from app.domain.notifications import NotificationKind, NotificationStatus
from app.services.auth import normalise_email
from app.services.public_links import hash_token

LIFETIME = timedelta(hours=24)
TOKEN_BYTES = 32


async def _ensure_free(session: AsyncSession, email: str, user_id: int) -> None:
    taken = await session.scalar(select(User.id).where(User.email == email, User.id != user_id))
    if taken is not None:
        raise Conflict(f"A user with e-mail {email!r} already exists.")


async def request(session: AsyncSession, user: User, new_email: str) -> str | None:
    """Record a pending change and queue its confirmation mail; None if nothing changes."""
    email = normalise_email(new_email)
    if email == user.email:
        await session.execute(delete(EmailChange).where(EmailChange.user_id == user.id))
        return None
    await _ensure_free(session, email, user.id)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    await session.execute(delete(EmailChange).where(EmailChange.user_id == user.id))
    session.add(
        EmailChange(
            user_id=user.id,
            new_email=email,
            token_hash=hash_token(token),
            expires_at=now + LIFETIME,
            created_at=now,
        )
    )
    session.add(
        Notification(
            ticket_id=None,
            kind=NotificationKind.EMAIL_CHANGE,
            recipient=email,
            locale=user.locale,
            context={
                "name": user.name,
                "new_email": email,
                "hours": int(LIFETIME.total_seconds() // 3600),
            },
            secret=token,
            status=NotificationStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    await session.flush()
    return email


async def cancel(session: AsyncSession, user_id: int) -> None:
    """Drop the user's pending change, if any: its link stops working.

    For a new password, a deactivation or an address set by staff: whoever asked for the
    change may have been someone else holding the old password, and like the sessions it
    must not outlive the reset."""
    await session.execute(delete(EmailChange).where(EmailChange.user_id == user_id))


async def confirm(session: AsyncSession, token: str) -> User:
    """Open the link: the pending address becomes the user's (404 if unknown or expired)."""
    if not 16 <= len(token) <= 128:
        raise NotFound("This confirmation link is unknown or has expired.")
    change = await session.scalar(
        select(EmailChange)
        .where(EmailChange.token_hash == hash_token(token), EmailChange.expires_at > utcnow())
        .with_for_update()
    )
    if change is None:
        raise NotFound("This confirmation link is unknown or has expired.")
    user = await session.get(User, change.user_id)
    if user is None or not user.is_active:
        raise NotFound("This confirmation link is unknown or has expired.")
    await _ensure_free(session, change.new_email, user.id)
    user.email = change.new_email
    await session.delete(change)
    await flush_unique(session, f"A user with e-mail {change.new_email!r} already exists.")
    return user
