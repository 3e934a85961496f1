"""Replies to a ticket: public answers and internal notes, with their files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from app.api.body import JsonBody, UploadsDep, json_or_multipart, read_json_model
from app.api.conditional import IfNoneMatch, json_or_304
from app.api.deps import CurrentActor, Cursor, Id, SessionDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.paging import TimelineLimit
from app.api.problems import responses
from app.api.schemas.tickets import AttachmentRead, ReplyCreate, ReplyList, ReplyRead
from app.db.models import Attachment
from app.services import attachments as attachment_service
from app.services import replies as reply_service
from app.services import tickets as ticket_service

router = APIRouter(prefix="/tickets/{ticket_id}/replies", tags=["replies"])


@router.get(
    "",
    response_model=ReplyList,
    operation_id="list_replies",
    responses={**responses(400, 401, 403, 404, 422), 304: {"description": "Not modified."}},
)
async def list_replies(
    ticket_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    limit: TimelineLimit = 100,
    cursor: Cursor = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Oldest first, in keyset pages (`limit`, `cursor`, `next_cursor`); customers never
    see internal notes. An `ETag` on the page (304 on `If-None-Match`)."""
    rows, next_cursor = await reply_service.list_replies(
        session, actor, ticket_id, limit=limit, cursor=cursor
    )
    files = await attachment_service.for_replies(session, actor, ticket_id, rows)
    page = ReplyList(
        items=[ReplyRead.of(r, _read(files[r.id])) for r in rows], next_cursor=next_cursor
    )
    return json_or_304(if_none_match, page)


def _read(files: list[Attachment]) -> list[AttachmentRead]:
    return [AttachmentRead.model_validate(f) for f in files]


@router.post(
    "",
    response_model=ReplyRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_reply",
    responses=responses(400, 401, 403, 404, 409, 412, 413, 415, 422),
    openapi_extra=json_or_multipart(ReplyCreate),
)
async def create_reply(
    ticket_id: Id,
    request: Request,
    response: Response,
    uploads: UploadsDep,
    raw: JsonBody,
    session: SessionDep,
    actor: CurrentActor,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=200,
            description="The ticket's ETag last read: 412 if it changed since (optional).",
        ),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> ReplyRead | Response:
    """Reply (JSON, or multipart with a `payload` part and `files`).

    `internal` notes are for staff (403 for customers); a closed ticket takes no
    reply (409: open a follow-up). A customer's public reply moves a ticket waiting
    for them back to `in_progress`, and reopens a resolved one.
    """
    body = await read_json_model(request, ReplyCreate, uploads, session, raw)

    async def make() -> ReplyRead:
        reply, ticket = await reply_service.post_reply(
            session,
            actor,
            ticket_id,
            body=body.body,
            visibility=body.visibility,
            uploads=uploads,
            if_match=if_match,
        )
        response.headers["Location"] = f"/api/v1/tickets/{ticket_id}/replies/{reply.id}"
        response.headers["ETag"] = ticket_service.etag(ticket)
        files: list[Attachment] = []
        if uploads.files:
            files = (await attachment_service.for_replies(session, actor, ticket.id, [reply]))[
                reply.id
            ]
        return ReplyRead.of(reply, _read(files))

    identity = uploads.fingerprint(body.model_dump(mode="json"))
    return await idempotent(request, response, session, actor, idempotency_key, identity, make, 201)
