"""The IMAP inbox, polled by the worker: each unseen message imported, then marked seen.

The order is what makes it safe (see ``infra/imap.py``): fetch without setting
``\\Seen``, import and commit in a transaction of its own, and only then set the
flag. A crash in between leaves the message unseen; taken again, its Message-ID
is found already imported, and it is only marked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.domain.inbound import InboundSource
from app.infra.blob_stores import make_storage
from app.infra.imap import Mailbox, parse_url
from app.services import inbound as inbound_service
from app.services.attachments import Uploads

logger = logging.getLogger("sportello.imap")

_failing: dict[tuple[str, int], int] = {}
"""The messages this process could not import, by inbox and UID, with how many times: a
round takes the others first, so that a batch's worth of messages that keep failing (a
storage refusing their files, say) cannot keep new mail waiting behind them. Only messages
still unseen are remembered."""


def _batch(inbox: str, unseen: list[int], size: int) -> list[int]:
    """The UIDs to take this round: never-failed first, oldest first; then the failed ones,
    least-failed first."""
    current = set(unseen)
    for key in [k for k in _failing if k[0] == inbox and k[1] not in current]:
        del _failing[key]
    return sorted(unseen, key=lambda uid: (_failing.get((inbox, uid), 0), uid))[:size]


async def poll(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    after_import: Callable[[int], None] | None = None,
) -> int:
    """One round over the inbox; returns how many messages were taken (imported or not).

    ``after_import`` runs between the commit and the ``\\Seen`` flag (the crash test
    stops the worker there).
    """
    if not settings.inbox_imap_url:
        return 0
    target = parse_url(settings.inbox_imap_url)
    storage = make_storage(settings)
    try:
        taken = 0
        async with Mailbox(
            target, settings.inbox_imap_oauth2_token, ca_file=settings.inbox_imap_ca_file
        ) as box:
            inbox = settings.inbox_imap_url
            for uid in _batch(inbox, await box.unseen(), settings.inbox_batch_size):
                raw = await box.fetch(uid)
                if raw is None:
                    continue
                uploads = Uploads(
                    storage,
                    max_files=settings.max_attachments,
                    max_bytes=settings.max_attachment_bytes,
                )
                failed = True
                try:
                    async with sessions.begin() as session:
                        await inbound_service.receive(
                            session, settings, raw, source=InboundSource.IMAP, uploads=uploads
                        )
                    failed = False
                except Exception:
                    # One message that cannot be imported must not block the inbox: it stays
                    # unseen, is tried again next round, and the others go on.
                    logger.exception("IMAP message %s could not be imported; left unseen", uid)
                    _failing[inbox, uid] = _failing.get((inbox, uid), 0) + 1
                    continue
                finally:
                    await uploads.close(failed=failed)
                if after_import is not None:
                    after_import(uid)
                await box.mark_seen(uid)
                _failing.pop((inbox, uid), None)
                taken += 1
        return taken
    finally:
        await storage.aclose()
