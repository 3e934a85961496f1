"""Replies to a ticket: public answers and internal notes, with their files."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.body import UploadsDep, json_or_multipart, read_json_model
from app.api.deps import CurrentActor, Id, SessionDep
from app.api.idempotency import IdempotencyKey, idempotent
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
    responses=responses(401, 403, 404, 422),
)
async def list_replies(ticket_id: Id, session: SessionDep, actor: CurrentActor) -> ReplyList:
    """Oldest first; customers never see internal notes."""
    rows = await reply_service.list_replies(session, actor, ticket_id)
    files = await attachment_service.for_replies(session, actor, ticket_id, rows)
    return ReplyList(items=[ReplyRead.of(r, _read(files[r.id])) for r in rows])


def _read(files: list[Attachment]) -> list[AttachmentRead]:
    return [AttachmentRead.model_validate(f) for f in files]


@router.post(
    "",
    response_model=ReplyRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_reply",
    responses=responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=json_or_multipart(ReplyCreate),
)
async def create_reply(
    ticket_id: Id,
    request: Request,
    response: Response,
    uploads: UploadsDep,
    session: SessionDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> ReplyRead | Response:
    """Reply (JSON, or multipart with a `payload` part and `files`).

    `internal` notes are for staff (403 for customers); a closed ticket takes no
    reply (409: open a follow-up). A customer's public reply moves a ticket waiting
    for them back to `in_progress`, and reopens a resolved one.
    """
    body = await read_json_model(request, ReplyCreate, uploads, session)

    async def make() -> ReplyRead:
        reply, ticket = await reply_service.post_reply(
            session, actor, ticket_id, body=body.body, visibility=body.visibility, uploads=uploads
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
