"""Attachments: add files to a ticket, list them, read their metadata, download them."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse

from app.api.body import UploadsDep, files_only, read_files
from app.api.deps import CurrentActor, Cursor, Id, Limit, SessionDep, StorageDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import problem_response, responses
from app.api.schemas.attachments import AttachmentsAdded, SignedLink
from app.api.schemas.common import Page
from app.api.schemas.tickets import AttachmentRead
from app.config import Settings
from app.db.models import Attachment
from app.domain.attachments import ALLOWED_TYPES, TEXT
from app.infra.keys import signing_key
from app.infra.storage import BlobStorage
from app.services import attachments as attachment_service

logger = logging.getLogger("sportello.attachments")

router = APIRouter(tags=["attachments"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILE_TYPES = {
    (f"{kind}; charset=utf-8" if kind == TEXT else kind): _BINARY for kind in ALLOWED_TYPES
}
"""A download is of the type detected at upload: one of the allowed ones, never anything else."""
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", "content": _FILE_TYPES},
    206: {
        "description": "The requested part of the file (`Range: bytes=first-last`)",
        "content": _FILE_TYPES,
    },
    304: {"description": "Not modified (`If-None-Match` names the current ETag, or is `*`)"},
    307: {
        "description": "With object storage and `SPORTELLO_S3_PRESIGN_SECONDS` set: the file "
        "is fetched from a short-lived presigned URL (`Location`)",
    },
    **responses(401, 403, 404, 416, 422),
}

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Unsatisfiable(Exception):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, stop)`` asked by a single-range ``Range`` header; None for the whole file.

    A header this server does not serve (several ranges, another unit, a
    malformed one) is ignored, as RFC 9110 allows: the answer is the whole file.
    A range that starts past the end cannot be served at all (416).
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise _Unsatisfiable
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, size if not last else min(int(last) + 1, size)


def content_disposition(filename: str) -> str:
    """``attachment`` with the safe name: quoted ASCII for old clients, UTF-8 for the others."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^\x20-\x7e]|["\\%]', "_", ascii_name)
    stem, dot, ext = ascii_name.rpartition(".")
    if not (stem if dot else ascii_name).strip(" ._"):
        ascii_name = f"attachment.{ext}" if dot else "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.post(
    "/tickets/{ticket_id}/attachments",
    response_model=AttachmentsAdded,
    status_code=status.HTTP_201_CREATED,
    operation_id="add_ticket_attachments",
    responses=responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=files_only(),
)
async def add_ticket_attachments(
    ticket_id: Id,
    request: Request,
    uploads: UploadsDep,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> AttachmentsAdded | Response:
    """Add files to a ticket (`files` parts, at most `max_attachments`); 409 if it is closed.

    Each file is judged by its content: images (PNG, JPEG, GIF, WebP), videos
    (MP4, WebM), PDF and plain text are taken, anything else is 415.
    """
    await read_files(request, uploads, session)

    async def make() -> AttachmentsAdded:
        rows = await attachment_service.add_to_ticket(session, actor, ticket_id, uploads)
        return AttachmentsAdded(attachments=[AttachmentRead.model_validate(r) for r in rows])

    identity = uploads.fingerprint({})
    return await idempotent(request, response, session, actor, idempotency_key, identity, make, 201)


@router.get(
    "/tickets/{ticket_id}/attachments",
    response_model=Page[AttachmentRead],
    operation_id="list_ticket_attachments",
    responses=responses(400, 401, 403, 404, 422),
)
async def list_ticket_attachments(
    ticket_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AttachmentRead]:
    """Every file of the ticket the caller may see (those of its replies included), oldest first."""
    rows, next_cursor = await attachment_service.list_page(
        session, actor, ticket_id, limit=limit, cursor=cursor
    )
    return Page(items=[AttachmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/attachments/{attachment_id}",
    response_model=AttachmentRead,
    operation_id="get_attachment",
    responses=responses(401, 403, 404, 422),
)
async def get_attachment(
    attachment_id: Id, session: SessionDep, actor: CurrentActor
) -> AttachmentRead:
    """An attachment's metadata: the same visibility as its ticket (and its reply)."""
    return AttachmentRead.model_validate(
        await attachment_service.get(session, actor, attachment_id)
    )


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=Response,
    operation_id="download_attachment",
    responses=_CONTENT_RESPONSES,
)
async def download_attachment(
    attachment_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    storage: StorageDep,
    range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    if_range: Annotated[str | None, Header(alias="If-Range", max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=2000)] = None,
) -> Response:
    """The file, streamed, always as a download (`Content-Disposition: attachment`).

    `Range: bytes=first-last` (one range) gets a 206 with that part, so videos
    can be played and long downloads resumed; `ETag` is the SHA-256 of the content.
    """
    attachment = await attachment_service.get(session, actor, attachment_id)
    direct = await storage.download_url(
        attachment.sha256, filename=attachment.filename, content_type=attachment.content_type
    )
    if direct is not None:
        return RedirectResponse(
            direct, status_code=307, headers={"Cache-Control": "private, no-store"}
        )
    return await _serve(
        request,
        storage,
        attachment,
        range_,
        if_range,
        if_none_match,
        content_disposition(attachment.filename),
    )


# Shown in a page (an <img>, a <video>, a PDF viewer) when opened through a signed link;
# anything else is still a download.
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "video/webm"}
)


async def _serve(
    request: Request,
    storage: BlobStorage,
    attachment: Attachment,
    range_: str | None,
    if_range: str | None,
    if_none_match: str | None,
    disposition: str,
    cache_control: str = "private, no-cache",
) -> Response:
    size = await storage.size(attachment.sha256)
    if size is None:
        logger.error("the content of attachment %s is missing from the storage", attachment.id)
        return problem_response(
            request,
            500,
            slug="internal-error",
            title="Internal server error",
            detail="The file cannot be read now; quote the request id to support.",
        )
    etag = f'"{attachment.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": cache_control,
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    # RFC 9110 13.1.2: "*" matches any current representation, and this one exists.
    if if_none_match is not None and (
        if_none_match.strip() == "*"
        or etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    ):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    media_type = f"{TEXT}; charset=utf-8" if attachment.content_type == TEXT else None
    media_type = media_type or attachment.content_type
    try:
        wanted = byte_range(range_, size) if if_range in (None, etag) else None
    except _Unsatisfiable:
        return problem_response(
            request,
            416,
            slug="range-not-satisfiable",
            title="Range not satisfiable",
            detail=f"The file has {size} bytes.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    start, stop = wanted or (0, size)
    headers["Content-Length"] = str(stop - start)
    code = status.HTTP_200_OK
    if wanted is not None:
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return StreamingResponse(
        storage.read(attachment.sha256, start, stop),
        status_code=code,
        headers=headers,
        media_type=media_type,
    )


@router.post(
    "/attachments/{attachment_id}/link",
    response_model=SignedLink,
    operation_id="create_attachment_link",
    responses=responses(401, 403, 404, 422),
)
async def create_attachment_link(
    attachment_id: Id, request: Request, session: SessionDep, actor: CurrentActor
) -> SignedLink:
    """A short-lived link to the file's bytes that needs no bearer header, for an `<img>`
    or `<video>` (`SIGNED_URL_TTL_SECONDS`, default 5 minutes). It is bound to this file
    and expires; whoever holds it may fetch the file until then."""
    settings: Settings = request.app.state.settings
    attachment, expires, signature = await attachment_service.signed_link(
        session,
        actor,
        attachment_id,
        _key(request),
        settings.signed_url_ttl_seconds,
        time.time(),
    )
    query = urlencode({"expires": expires, "signature": signature})
    return SignedLink(
        url=f"{settings.public_base_url}/api/v1/files/{attachment.id}?{query}",
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@router.get(
    "/files/{attachment_id}",
    response_class=Response,
    operation_id="open_signed_attachment",
    responses={**_CONTENT_RESPONSES, **responses(403, 404, 416, 422)},
)
async def open_signed_attachment(
    attachment_id: Id,
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    expires: Annotated[int, Query(ge=0, le=2**40, description="From the signed link.")],
    signature: Annotated[
        str, Query(min_length=64, max_length=64, description="From the signed link.")
    ],
    range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    if_range: Annotated[str | None, Header(alias="If-Range", max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=2000)] = None,
) -> Response:
    """The file of a signed link (no login): images and videos inline, so a page can show
    them; anything else as a download. 403 when the link is forged or expired."""
    now = time.time()
    attachment = await attachment_service.by_signature(
        session, attachment_id, expires, signature, _key(request), now
    )
    disposition = content_disposition(attachment.filename)
    if attachment.content_type in INLINE_TYPES:
        disposition = "inline" + disposition.removeprefix("attachment")
    return await _serve(
        request,
        storage,
        attachment,
        range_,
        if_range,
        if_none_match,
        disposition,
        cache_control=f"private, max-age={max(0, int(expires - now))}",
    )


def _key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "signing_key", None)
    if key is None:
        key = signing_key(request.app.state.settings)
        request.app.state.signing_key = key
    return key
