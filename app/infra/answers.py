"""Answers to received mails (an unknown sender's bounce, refused files): claim, send, settle.

The same three short steps as the outbox (``infra/outbox.py``), on the
``answer_*`` columns of ``inbound_mail``: a mail without a ticket (a bounce) has
no place in the ticket notifications' outbox. Each answer is marked
``Auto-Submitted`` and threads on the mail it answers; our own answers that come
back are recognised by their Message-ID and never imported.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.base import utcnow
from app.db.models import InboundMail
from app.domain.notifications import NotificationStatus, settle_failure
from app.infra.mail import TEMPLATES, Mailer, OutgoingMail, mailer_for, one_line, send_each

logger = logging.getLogger("sportello.inbound")

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"

SUBJECTS = {
    "unknown_sender": {
        "it": "Messaggio non accettato",
        "es": "Mensaje no aceptado",
        "en": "Message not accepted",
    },
    "files_refused": {
        "it": "File non accettati",
        "es": "Archivos no aceptados",
        "en": "Files not accepted",
    },
}

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempts: int
    kind: str
    context: dict[str, Any]
    sender: str
    subject: str
    message_id: str
    epoch: int


def render(claimed: Claimed, settings: Settings) -> OutgoingMail:
    locale = str(claimed.context.get("locale", "it"))
    if locale not in ("it", "es", "en"):
        locale = "en"
    values = {
        "subject": "",
        "files": [],
        "number": "",
        **claimed.context,
        "desk_name": settings.mail_from_name,
        "max_mib": f"{settings.max_attachment_bytes / (1024 * 1024):g}",
        "max_files": settings.max_attachments,
    }
    text = _ENV.get_template(f"{locale}/answer_{claimed.kind}.txt").render(values)
    phrase = SUBJECTS[claimed.kind][locale]
    number = f"[{claimed.context['number']}] " if claimed.context.get("number") else ""
    subject = one_line(f"{number}{phrase}: {claimed.subject or '-'}")
    domain = settings.mail_domain
    return OutgoingMail(
        message_id=f"<answer-{claimed.id}.{claimed.epoch}@{domain}>",
        recipient=claimed.sender,
        subject=subject,
        text=text,
        html=f'<pre style="font-family:inherit;white-space:pre-wrap">{escape(text)}</pre>',
        thread=claimed.message_id
        if not claimed.message_id.endswith("@sportello.invalid>")
        else None,
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, limit: int
) -> list[Claimed]:
    now = utcnow()
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(
                    InboundMail.id,
                    InboundMail.answer_attempts,
                    InboundMail.answer_kind,
                    InboundMail.answer_context,
                    InboundMail.sender,
                    InboundMail.subject,
                    InboundMail.message_id,
                    InboundMail.received_at,
                )
                .where(
                    or_(InboundMail.answer_status == QUEUED, InboundMail.answer_status == SENDING),
                    InboundMail.answer_next_at <= now,
                )
                .order_by(InboundMail.answer_next_at, InboundMail.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return []
        await session.execute(
            update(InboundMail)
            .where(InboundMail.id.in_([r.id for r in rows]))
            .values(
                answer_status=SENDING,
                answer_attempts=InboundMail.answer_attempts + 1,
                answer_next_at=now + timedelta(seconds=settings.mail_lease_seconds),
            )
            .execution_options(synchronize_session=False)
        )
    return [
        Claimed(
            id=r.id,
            attempts=r.answer_attempts + 1,
            kind=str(r.answer_kind),
            context=json.loads(r.answer_context or "{}"),
            sender=r.sender,
            subject=r.subject,
            message_id=r.message_id,
            epoch=int(r.received_at.timestamp()),
        )
        for r in rows
    ]


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailer: Mailer | None = None,
) -> int:
    """Send the answers that are due (one batch); returns how many were delivered."""
    claimed = await claim(sessions, settings, settings.mail_batch_size)
    if not claimed:
        return 0
    mailer = mailer or mailer_for(settings)

    async def accepted(c: Claimed) -> None:
        # Recorded at once, as the outbox does: a worker killed mid-batch sends again only
        # the answer in flight, not the ones the server had already taken.
        async with sessions.begin() as session:
            await session.execute(
                update(InboundMail)
                .where(*_claimed_by(c))
                .values(answer_status=SENT, answer_next_at=None)
            )

    outcomes = await send_each(
        claimed,
        lambda c: render(c, settings),
        mailer,
        settings,
        accepted,
        label=lambda c: f"answer {c.id}",
    )
    now = utcnow()
    async with sessions.begin() as session:
        for c, o in zip(claimed, outcomes, strict=True):
            guard = _claimed_by(c)
            if o.delivered:
                values: dict[str, Any] = {"answer_status": SENT, "answer_next_at": None}
            else:
                after = settle_failure(
                    attempts=c.attempts,
                    max_attempts=settings.mail_max_attempts,
                    server_unavailable=o.server_unavailable,
                    now=now,
                    base_seconds=settings.mail_retry_base_seconds,
                    cap_seconds=settings.mail_retry_cap_seconds,
                )
                failed = after.status is NotificationStatus.FAILED
                values = {
                    "answer_status": FAILED if failed else QUEUED,
                    "answer_next_at": after.next_attempt_at,
                }
            await session.execute(update(InboundMail).where(*guard).values(**values))
    return sum(o.delivered for o in outcomes)


def _claimed_by(c: Claimed) -> tuple[ColumnElement[bool], ...]:
    """The row as this worker claimed it: a worker whose lease ran out changes nothing."""
    return (
        InboundMail.id == c.id,
        InboundMail.answer_status == SENDING,
        InboundMail.answer_attempts == c.attempts,
    )
