"""Tickets: open, read, list and search, edit, move, follow up, and the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.body import UploadsDep, json_or_multipart, read_json_model
from app.api.deps import CurrentActor, Cursor, Id, IdFilter, Limit, SessionDep
from app.api.idempotency import REPLAYED, IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.tickets import (
    AttachmentRead,
    EventList,
    EventRead,
    FollowUpCreate,
    Instant,
    StatusChange,
    TicketCreate,
    TicketDetail,
    TicketRead,
    TicketUpdate,
)
from app.db.models import Ticket
from app.db.pagination import MAX_ID
from app.domain.access import Actor
from app.domain.tickets import Severity, TicketStatus, TicketType
from app.services import attachments as attachment_service
from app.services import tickets as ticket_service

router = APIRouter(prefix="/tickets", tags=["tickets"])

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=200, description="The ETag last read (412 if stale)."),
]


async def detail(
    session: AsyncSession, ticket: Ticket, actor: Actor, response: Response
) -> TicketDetail:
    response.headers["ETag"] = ticket_service.etag(ticket)
    files = await attachment_service.for_ticket(session, actor, ticket)
    return TicketDetail.build(
        ticket,
        ticket_service.allowed_for(ticket, actor),
        [AttachmentRead.model_validate(f) for f in files],
    )


def _contact(body: TicketCreate | FollowUpCreate) -> ticket_service.Contact:
    c = body.contact
    return ticket_service.Contact(
        name=c.name, phone=c.phone, email=c.email, preferred_channel=c.preferred_channel
    )


@router.post(
    "",
    response_model=TicketDetail,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_ticket",
    responses=responses(400, 401, 403, 413, 415, 422),
    openapi_extra=json_or_multipart(TicketCreate),
)
async def create_ticket(
    request: Request,
    response: Response,
    uploads: UploadsDep,
    session: SessionDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> TicketDetail:
    """Open a ticket (JSON, or multipart with a `payload` part and up to two `files`).

    A customer user may open tickets only for their own customer code. The
    ticket and its files are stored together or not at all.
    """
    body = await read_json_model(request, TicketCreate, uploads, session)
    ticket, created = await ticket_service.open_ticket(
        session,
        actor,
        ticket_service.NewTicket(
            customer_code=body.customer_code,
            type=body.type,
            subject=body.subject,
            description=body.description,
            category_id=body.category_id,
            order_id=body.order_id,
            severity=body.severity,
            contact=_contact(body),
        ),
        idempotency_key=idempotency_key,
        body_hash=ticket_service.request_hash(uploads.fingerprint(body.model_dump(mode="json"))),
        uploads=uploads,
    )
    response.headers["Location"] = f"/api/v1/tickets/{ticket.id}"
    if not created:
        response.headers[REPLAYED] = "true"
    return await detail(session, ticket, actor, response)


@router.get(
    "",
    response_model=Page[TicketRead],
    operation_id="list_tickets",
    responses=responses(400, 401, 403, 422),
)
async def list_tickets(
    session: SessionDep,
    actor: CurrentActor,
    status: Annotated[list[TicketStatus] | None, Query(max_length=7)] = None,
    type: TicketType | None = None,
    category_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Includes its sub-areas.")
    ] = None,
    severity: Severity | None = None,
    order_id: IdFilter = None,
    customer_id: IdFilter = None,
    assignee_id: IdFilter = None,
    requester_id: IdFilter = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Full text over subject, description, solution and public replies.",
        ),
    ] = None,
    created_after: Instant | None = None,
    created_before: Instant | None = None,
    updated_after: Instant | None = None,
    sort: ticket_service.Sort = ticket_service.Sort.CREATED_DESC,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[TicketRead]:
    """The tickets the caller may see (a customer: their customer's), filtered and paged."""
    items, next_cursor = await ticket_service.list_page(
        session,
        actor,
        ticket_service.Filters(
            status=status or [],
            type=type,
            category_id=category_id,
            severity=severity,
            order_id=order_id,
            customer_id=customer_id,
            assignee_id=assignee_id,
            requester_id=requester_id,
            q=q,
            created_after=created_after,
            created_before=created_before,
            updated_after=updated_after,
        ),
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[TicketRead.of(t) for t in items], next_cursor=next_cursor)


@router.get(
    "/{ticket_id}",
    response_model=TicketDetail,
    operation_id="get_ticket",
    responses=responses(401, 403, 404, 422),
)
async def get_ticket(
    ticket_id: Id, response: Response, session: SessionDep, actor: CurrentActor
) -> TicketDetail:
    """One ticket, with `allowed_transitions` for the caller, and an `ETag`."""
    return await detail(
        session, await ticket_service.get(session, actor, ticket_id), actor, response
    )


@router.patch(
    "/{ticket_id}",
    response_model=TicketDetail,
    operation_id="update_ticket",
    responses=responses(400, 401, 403, 404, 409, 412, 422),
)
async def update_ticket(
    ticket_id: Id,
    body: TicketUpdate,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    if_match: IfMatch = None,
) -> TicketDetail:
    """Staff change category, severity, assignee or subject.

    `If-Match` with the ETag last read guards against overwriting another's change (412).
    """
    ticket = await ticket_service.update(
        session, actor, ticket_id, body.changes(), if_match=if_match
    )
    return await detail(session, ticket, actor, response)


@router.post(
    "/{ticket_id}/status",
    response_model=TicketDetail,
    operation_id="change_ticket_status",
    responses=responses(400, 401, 403, 404, 409, 412, 422),
)
async def change_ticket_status(
    ticket_id: Id,
    body: StatusChange,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> TicketDetail | Response:
    """Move the ticket; 409 with `allowed` when the caller may not make this move now.

    With an `Idempotency-Key`, a retry gets the first answer instead of a 409 for a move
    already made."""

    async def make() -> TicketDetail:
        ticket = await ticket_service.change_status(
            session,
            actor,
            ticket_id,
            to=body.status,
            solution=body.solution,
            note=body.note,
            if_match=if_match,
        )
        return await detail(session, ticket, actor, response)

    identity = {**body.model_dump(mode="json"), "if_match": if_match}
    return await idempotent(request, response, session, actor, idempotency_key, identity, make, 200)


@router.get(
    "/{ticket_id}/events",
    response_model=EventList,
    operation_id="list_ticket_events",
    responses=responses(401, 403, 404, 422),
)
async def list_ticket_events(ticket_id: Id, session: SessionDep, actor: CurrentActor) -> EventList:
    """The timeline, oldest first."""
    rows = await ticket_service.events(session, actor, ticket_id)
    return EventList(items=[EventRead.of(e) for e in rows])


@router.post(
    "/{ticket_id}/follow-ups",
    response_model=TicketDetail,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_follow_up",
    responses=responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=json_or_multipart(FollowUpCreate),
)
async def create_follow_up(
    ticket_id: Id,
    request: Request,
    response: Response,
    uploads: UploadsDep,
    session: SessionDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> TicketDetail:
    """A new ticket continuing a resolved or closed one (`parent_id` points at it)."""
    body = await read_json_model(request, FollowUpCreate, uploads, session)
    ticket, created = await ticket_service.follow_up(
        session,
        actor,
        ticket_id,
        ticket_service.FollowUp(
            customer_code=body.customer_code,
            type=body.type,
            category_id=body.category_id,
            category_given="category_id" in body.model_fields_set,
            order_id=body.order_id,
            subject=body.subject,
            description=body.description,
            severity=body.severity,
            contact=_contact(body),
        ),
        idempotency_key=idempotency_key,
        body_hash=ticket_service.request_hash(
            uploads.fingerprint({"follow_up_of": ticket_id, **body.model_dump(mode="json")})
        ),
        uploads=uploads,
    )
    response.headers["Location"] = f"/api/v1/tickets/{ticket.id}"
    if not created:
        response.headers[REPLAYED] = "true"
    return await detail(session, ticket, actor, response)
