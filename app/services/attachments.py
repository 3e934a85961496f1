"""Attachments: take the files a request brought, store them, record them; find and list them.

The bytes go to the blob storage, the metadata to the ``attachment`` table, and
an ``attachment_added`` event to the timeline, all in the request's transaction
as far as a file system allows: the request's :class:`Uploads` removes the blobs
of a failed request, and :func:`purge_orphans` (a worker job) whatever a crash
leaves behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db.base import utcnow
from app.db.models import Attachment, Reply, Ticket
from app.db.pagination import page_by_id
from app.domain.access import Actor
from app.domain.attachments import can_attach
from app.domain.errors import Conflict, Forbidden, InvalidInput
from app.domain.events import AttachmentAdded
from app.domain.signing import attachment_signature, valid_attachment_signature
from app.domain.tickets import Visibility
from app.infra.blob_stores import make_storage
from app.infra.storage import BlobStorage, StagedBlob, StoredBlob
from app.services import timeline
from app.services.visibility import load_attachment, load_ticket, visible_attachments

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file of the request, read in full and accepted: staged, not yet stored."""

    filename: str
    content_type: str
    staged: StagedBlob

    @property
    def sha256(self) -> str:
        return self.staged.sha256

    @property
    def size(self) -> int:
        return self.staged.size


class Uploads:
    """The files of one request, from the moment they arrive to the end of the request.

    The API layer stages them while it reads the body; the use case stores them
    (:meth:`store`) once it has accepted the request, in its transaction; and
    :meth:`close`, when the request is over, drops what was staged but not
    stored and, if the request failed, deletes the blobs it created (its
    transaction was rolled back, so no row points to them).
    """

    def __init__(
        self, storage: BlobStorage, *, max_files: int, max_bytes: int, allow_macros: bool = False
    ) -> None:
        self.storage = storage
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.allow_macros = allow_macros
        """Office documents with macros are taken (``ALLOW_MACRO_DOCUMENTS``)."""
        self.files: list[IncomingFile] = []
        self._stored: list[StoredBlob] = []
        self._saved: set[str] = set()

    async def store(self, file: IncomingFile) -> StoredBlob:
        blob = await self.storage.save(file.staged)
        self._stored.append(blob)
        self._saved.add(file.staged.handle)
        return blob

    def fingerprint(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What identifies an idempotent request: its payload and its files' SHA-256s, in order.

        A request without files keeps the payload's own identity, whether it came
        as JSON or as multipart.
        """
        if not self.files:
            return payload
        return {**payload, "files": [f.sha256 for f in self.files]}

    async def close(self, *, failed: bool) -> None:
        # Shielded: the request may end because the client went away, which cancels
        # the task; the clean-up must still run to the end.
        with anyio.CancelScope(shield=True):
            for file in self.files:
                if file.staged.handle not in self._saved:
                    await self.storage.drop(file.staged)
            if failed:
                for blob in reversed(self._stored):
                    await self.storage.discard(blob)
            self.files.clear()
            self._stored.clear()


async def attach(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    uploads: Uploads | None,
    *,
    reply: Reply | None = None,
) -> list[Attachment]:
    """Store the request's files on ``ticket`` (or on ``reply``) and put them on the timeline.

    The caller has checked that the actor may write to the ticket. The files of
    an internal reply are internal, and so are their timeline events.
    """
    if uploads is None or not uploads.files:
        return []
    internal = reply is not None and reply.visibility is Visibility.INTERNAL
    if not ticket.has_attachments:
        ticket.has_attachments = True
    now = utcnow()
    rows = []
    for file in uploads.files:
        await uploads.store(file)
        rows.append(
            Attachment(
                ticket_id=ticket.id,
                reply_id=reply.id if reply is not None else None,
                internal=internal,
                filename=file.filename,
                content_type=file.content_type,
                size=file.size,
                sha256=file.sha256,
                created_at=now,
            )
        )
    session.add_all(rows)
    await session.flush()
    who = timeline.event_actor(actor)
    for row in rows:
        await timeline.record(
            session,
            AttachmentAdded(
                ticket_id=ticket.id,
                attachment_id=row.id,
                reply_id=row.reply_id,
                internal=internal,
                actor=who,
            ),
        )
    return rows


async def add_to_ticket(
    session: AsyncSession, actor: Actor, ticket_id: int, uploads: Uploads
) -> list[Attachment]:
    """Files added to a ticket later, on their own. A closed ticket takes none (409).

    The ticket row is locked and its ``updated_at`` moves, so its ETag changes
    and lists sorted by update show it.
    """
    if not uploads.files:
        raise InvalidInput("Send at least one file in a 'files' part.", ["body", "files"])
    ticket = await load_ticket(session, actor, ticket_id, write=True)
    if not can_attach(ticket.status):
        raise Conflict("The ticket is closed; open a follow-up to send more files.")
    ticket.updated_at = utcnow()
    return await attach(session, actor, ticket, uploads)


async def for_ticket(session: AsyncSession, actor: Actor, ticket: Ticket) -> list[Attachment]:
    """Every file of a ticket (already loaded for the actor) the actor may see, oldest first.

    No query for a ticket that never had any (most of them)."""
    if not ticket.has_attachments:
        return []
    stmt = (
        select(Attachment)
        .where(Attachment.ticket_id == ticket.id, visible_attachments(actor))
        .order_by(Attachment.id)
    )
    return list((await session.scalars(stmt)).all())


async def for_replies(
    session: AsyncSession, actor: Actor, ticket_id: int, replies: Sequence[Reply]
) -> dict[int, list[Attachment]]:
    """The files of these replies of one ticket, by reply id: one query, whatever their number."""
    if not replies:
        return {}
    stmt = (
        select(Attachment)
        .where(
            Attachment.ticket_id == ticket_id,
            Attachment.reply_id.in_([reply.id for reply in replies]),
            visible_attachments(actor),
        )
        .order_by(Attachment.id)
    )
    out: dict[int, list[Attachment]] = {r.id: [] for r in replies}
    for row in (await session.scalars(stmt)).all():
        if row.reply_id is not None and row.reply_id in out:
            out[row.reply_id].append(row)
    return out


async def list_page(
    session: AsyncSession, actor: Actor, ticket_id: int, *, limit: int, cursor: str | None
) -> tuple[list[Attachment], str | None]:
    """A page of a ticket's files the actor may see, oldest first."""
    ticket = await load_ticket(session, actor, ticket_id)
    stmt = select(Attachment).where(Attachment.ticket_id == ticket.id, visible_attachments(actor))
    return await page_by_id(session, stmt, Attachment.id, limit=limit, cursor=cursor)


async def get(session: AsyncSession, actor: Actor, attachment_id: int) -> Attachment:
    return await load_attachment(session, actor, attachment_id)


async def purge_orphans(
    session: AsyncSession, settings: Settings, *, now: float | None = None
) -> int:
    """Worker job: delete the blobs that no attachment points to an hour after they were saved.

    They are the files of requests that failed without cleaning up (a crash, a
    lost race); anything saved within the hour is left alone, so an upload in
    flight is never touched.
    """
    engine = session.bind
    assert isinstance(engine, AsyncEngine)

    async def referenced(hashes: list[str]) -> set[str]:
        # One short transaction per batch, never one across the sweep's file work:
        # on SQLite a transaction holds the write lock.
        async with engine.connect() as conn:
            rows = await conn.scalars(
                select(Attachment.sha256).where(Attachment.sha256.in_(hashes)).distinct()
            )
            return set(rows.all())

    storage = make_storage(settings)
    try:
        return await storage.sweep(referenced, now=now)
    finally:
        await storage.aclose()


async def signed_link(
    session: AsyncSession, actor: Actor, attachment_id: int, key: bytes, ttl: int, now: float
) -> tuple[Attachment, int, str]:
    """A link to the bytes of an attachment the caller may see: (attachment, expiry, signature).

    Whoever holds the link may fetch those bytes until the expiry (so keep ``ttl``
    short): that is what lets a page show it in an ``<img>``, which sends no bearer header.
    """
    attachment = await load_attachment(session, actor, attachment_id)
    expires = int(now) + ttl
    return attachment, expires, attachment_signature(key, attachment.id, attachment.sha256, expires)


async def by_signature(
    session: AsyncSession, attachment_id: int, expires: int, signature: str, key: bytes, now: float
) -> Attachment:
    """The attachment a signed link names, if the link is genuine and not expired (else 403)."""
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or not valid_attachment_signature(
        key, attachment.id, attachment.sha256, expires, signature, now
    ):
        raise Forbidden("The link is not valid or has expired; ask for a new one.")
    return attachment
