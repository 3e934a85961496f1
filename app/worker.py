"""The worker: periodic jobs and the e-mail outbox dispatcher run in a loop.

It runs in the API process when ``RUN_WORKER`` is on, or as ``sportello worker``
processes. Every job is safe to run in several workers at once: each claims or
changes rows with conditions that hold for exactly one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.infra import outbox
from app.services import attachments as attachment_service
from app.services import auth as auth_service
from app.services import facts as _facts  # noqa: F401  (keeps the report facts)
from app.services import notifications as _notifications  # noqa: F401  (the outbox listens)
from app.services import routing as _routing  # noqa: F401  (routes new tickets)
from app.services import sla as sla_service
from app.services import tickets as ticket_service

logger = logging.getLogger("sportello.worker")

Job = Callable[[AsyncSession, Settings], Awaitable[int]]

JOBS: list[tuple[str, Job]] = [
    ("purge_expired_credentials", auth_service.purge_expired),
    ("automatic_ticket_moves", ticket_service.automatic_moves),
    ("sla_alarms", sla_service.raise_alarms),
    ("purge_idempotency_keys", ticket_service.purge_idempotency_keys),
    ("purge_delivered_mail", outbox.purge_sent),
    ("purge_orphan_attachments", attachment_service.purge_orphans),
]


async def run_jobs_once(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Run every job once, each in its own transaction; a failing job does not stop the others."""
    done = 0
    for name, job in JOBS:
        try:
            async with sessions.begin() as session:
                done += await job(session, settings)
        except Exception:
            logger.exception("job %s failed", name)
    try:
        # Its own transactions: it must not hold one open while it talks to SMTP.
        done += await outbox.dispatch(sessions, settings)
    except Exception:
        logger.exception("the mail dispatcher failed")
    return done


async def run_forever(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        await run_jobs_once(sessions, settings)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.worker_interval_seconds)
