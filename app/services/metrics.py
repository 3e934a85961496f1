"""What ``/metrics`` reads from the database: the mail queue, as every process sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Notification
from app.domain.notifications import NotificationStatus


@dataclass(frozen=True, slots=True)
class QueueFigures:
    queued: int
    sending: int
    failed: int
    oldest_queued_seconds: float


async def mail_queue(session: AsyncSession, now: datetime) -> QueueFigures:
    """Counts by status and the age of the oldest mail still waiting.

    Each figure reads one range of the (status, id) index; the oldest queued mail is
    the one with the smallest id among the queued ones.
    """
    rows = (
        await session.execute(
            select(Notification.status, func.count())
            .where(
                Notification.status.in_(
                    [
                        NotificationStatus.QUEUED,
                        NotificationStatus.SENDING,
                        NotificationStatus.FAILED,
                    ]
                )
            )
            .group_by(Notification.status)
        )
    ).all()
    counts: dict[NotificationStatus, int] = {status: n for status, n in rows}
    oldest = await session.scalar(
        select(Notification.created_at)
        .where(Notification.status == NotificationStatus.QUEUED)
        .order_by(Notification.id)
        .limit(1)
    )
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return QueueFigures(
        queued=counts.get(NotificationStatus.QUEUED, 0),
        sending=counts.get(NotificationStatus.SENDING, 0),
        failed=counts.get(NotificationStatus.FAILED, 0),
        oldest_queued_seconds=age,
    )
