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
from app.infra import answers, outbox
from app.infra import webhooks as webhook_delivery
from app.infra.imap import ImapError
from app.infra.metrics import WORKER_METRICS
from app.services import attachments as attachment_service
from app.services import auth as auth_service
from app.services import embeddings as embedding_service
from app.services import facts as _facts  # noqa: F401  (keeps the report facts)
from app.services import histograms as histogram_service
from app.services import mailbox
from app.services import notifications as _notifications  # noqa: F401  (the outbox listens)
from app.services import rollups as rollup_service
from app.services import routing as _routing  # noqa: F401  (routes new tickets)
from app.services import sla as sla_service
from app.services import tickets as ticket_service
from app.services import webhooks as _webhooks  # noqa: F401  (webhooks listen)

logger = logging.getLogger("sportello.worker")

Job = Callable[[AsyncSession, Settings], Awaitable[int]]

JOBS: list[tuple[str, Job]] = [
    ("purge_expired_credentials", auth_service.purge_expired),
    ("automatic_ticket_moves", ticket_service.automatic_moves),
    ("sla_alarms", sla_service.raise_alarms),
    ("purge_idempotency_keys", ticket_service.purge_idempotency_keys),
    ("purge_delivered_mail", outbox.purge_sent),
    ("purge_orphan_attachments", attachment_service.purge_orphans),
    ("purge_delivered_webhooks", webhook_delivery.purge_delivered),
    ("embed_articles_and_solutions", embedding_service.embed_pending),
    ("roll_up_reports", rollup_service.roll_up),
    ("roll_up_report_histograms", histogram_service.roll_up),
]


async def run_jobs_once(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Run every job once, each in its own transaction; a failing job does not stop the others."""
    done = 0
    for name, job in JOBS:
        WORKER_METRICS.runs.labels(name).inc()
        try:
            async with sessions.begin() as session:
                done += await job(session, settings)
        except Exception:
            WORKER_METRICS.failures.labels(name).inc()
            logger.exception("job %s failed", name)
    WORKER_METRICS.runs.labels("mail_dispatch").inc()
    try:
        # Its own transactions: it must not hold one open while it talks to SMTP.
        done += await outbox.dispatch(sessions, settings)
    except Exception:
        WORKER_METRICS.failures.labels("mail_dispatch").inc()
        logger.exception("the mail dispatcher failed")
    try:
        done += await mailbox.poll(sessions, settings)
    except ImapError as exc:
        logger.warning("the IMAP inbox could not be polled: %s", exc)
    except Exception:
        logger.exception("polling the IMAP inbox failed")
    try:
        done += await answers.dispatch(sessions, settings)
    except Exception:
        logger.exception("the dispatcher of answers to received mail failed")
    WORKER_METRICS.runs.labels("webhook_dispatch").inc()
    try:
        # Its own transactions too: none is open while a receiver is waited for.
        done += await webhook_delivery.dispatch(sessions, settings)
    except Exception:
        WORKER_METRICS.failures.labels("webhook_dispatch").inc()
        logger.exception("the webhook dispatcher failed")
    return done


async def run_forever(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        await run_jobs_once(sessions, settings)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.worker_interval_seconds)
