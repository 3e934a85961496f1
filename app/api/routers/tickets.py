"""Tickets: open, read, list and search, edit, move, follow up, and the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.body import JsonBody, UploadsDep, json_or_multipart, read_json_model
from app.api.conditional import (
    IfNoneMatch,
    bytes_or_304,
    json_or_304,
    json_response,
    matches,
    not_modified,
)
from app.api.deps import CurrentActor, Cursor, Id, IdFilter, Limit, SessionDep
from app.api.i18n import CallerLang
from app.api.idempotency import REPLAYED, IdempotencyKey, idempotent
from app.api.paging import TimelineLimit
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.sla import SlaQuery, TagName, TargetRead, TicketSlaRead
from app.api.schemas.ticket_items import page_body
from app.api.schemas.tickets import (
    AttachmentRead,
    DayOrInstant,
    EventList,
    EventRead,
    FollowUpCreate,
    StatusChange,
    StatusCounts,
    TicketCreate,
    TicketDetail,
    TicketItem,
    TicketUpdate,
    instant_of,
    staff_view,
)
from app.db.models import Ticket
from app.db.pagination import MAX_ID
from app.domain.access import Actor
from app.domain.tickets import Severity, TicketStatus, TicketType
from app.services import attachments as attachment_service
from app.services import sla_admin
from app.services import tags as tag_service
from app.services import tickets as ticket_service

router = APIRouter(prefix="/tickets", tags=["tickets"])

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=200, description="The ETag last read (412 if stale)."),
]


async def detail(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    response: Response,
    lang: str,
    row: ticket_service.Row | None = None,
) -> TicketDetail:
    response.headers["ETag"] = ticket_service.etag(ticket)
    if row is None:
        row = await ticket_service.row_of(session, actor, ticket)
    files = await attachment_service.for_ticket(session, actor, ticket)
    tags = None
    clocks = None
    if actor.is_staff:
        tags = row.tags if row.tags is not None else await tag_service.tags_of(session, ticket.id)
        policy, rows = await sla_admin.ticket_clocks(session, ticket)
        if policy is not None or rows:
            clocks = TicketSlaRead(
                policy_id=ticket.sla_policy_id,
                policy_name=policy.name if policy is not None else None,
                next_due_at=ticket.sla_due_at,
                targets=[TargetRead.of(r) for r in rows],
            )
    detail = TicketDetail.of_row(
        row,
        ticket_service.allowed_for(ticket, actor),
        lang,
        [AttachmentRead.model_validate(f) for f in files],
        tags,
        clocks,
    )
    return staff_view(detail, actor)


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
    raw: JsonBody,
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
    idempotency_key: IdempotencyKey = None,
) -> TicketDetail:
    """Open a ticket (JSON, or multipart with a `payload` part and up to two `files`).

    A customer user may open tickets only for their own customer code. The
    ticket and its files are stored together or not at all.
    """
    body = await read_json_model(request, TicketCreate, uploads, session, raw)
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
            tags=body.tags,
        ),
        idempotency_key=idempotency_key,
        body_hash=ticket_service.request_hash(uploads.fingerprint(body.model_dump(mode="json"))),
        uploads=uploads,
    )
    response.headers["Location"] = f"/api/v1/tickets/{ticket.id}"
    if not created:
        response.headers[REPLAYED] = "true"
    row = await ticket_service.new_row(session, actor, ticket) if created else None
    return await detail(session, ticket, actor, response, lang, row)


NumberFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=20,
        description="A ticket number, e.g. T-2026-000123 (case and zero padding free).",
    ),
]
UnreadFilter = Annotated[
    bool | None,
    Query(description="Only tickets with (true) or without (false) public activity unread."),
]


@router.get(
    "",
    response_model=Page[TicketItem],
    operation_id="list_tickets",
    responses={**responses(400, 401, 403, 422), 304: {"description": "Not modified."}},
)
async def list_tickets(
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
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
    created_after: DayOrInstant | None = None,
    created_before: DayOrInstant | None = None,
    updated_after: DayOrInstant | None = None,
    number: NumberFilter = None,
    unread: UnreadFilter = None,
    team_id: IdFilter = None,
    unassigned: Annotated[bool, Query(description="Only tickets with no assignee.")] = False,
    sla: Annotated[
        SlaQuery | None,
        Query(description="`breached` (a running target is past due) or `due_within:MINUTES`."),
    ] = None,
    tag: Annotated[list[TagName] | None, Query(max_length=10, description="Repeatable.")] = None,
    tag_mode: ticket_service.TagMode = ticket_service.TagMode.ANY,
    sort: ticket_service.Sort = ticket_service.Sort.CREATED_DESC,
    limit: Limit = 25,
    cursor: Cursor = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The tickets the caller may see (a customer: their customer's), filtered and paged.

    Each item carries what a list row shows (names, areas, reply count, last public
    activity, `unread`, `allowed_transitions`); the page has an `ETag` (304 on
    `If-None-Match`). `q` holding a ticket number finds that ticket.
    """
    rows, next_cursor = await ticket_service.list_page(
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
            created_after=instant_of(created_after, actor.time_zone),
            created_before=instant_of(created_before, actor.time_zone),
            updated_after=instant_of(updated_after, actor.time_zone),
            number=number,
            unread=unread,
            team_ids=[team_id] if team_id is not None else None,
            unassigned=unassigned,
            sla=ticket_service.SlaFilter.parse(sla) if sla is not None else None,
            tags=[tag_service.normalise(t) for t in tag or []],
            tag_mode=tag_mode,
        ),
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return bytes_or_304(if_none_match, page_body(rows, next_cursor, actor, lang))


@router.get(
    "/counts",
    response_model=StatusCounts,
    operation_id="count_tickets",
    responses=responses(400, 401, 403, 422),
)
async def count_tickets(
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
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    created_after: DayOrInstant | None = None,
    created_before: DayOrInstant | None = None,
    updated_after: DayOrInstant | None = None,
    number: NumberFilter = None,
    unread: UnreadFilter = None,
) -> Response:
    """How many tickets the caller may see in each status (every status listed, zeros
    included), with the same filters as the list: tabs and badges in one call."""
    found = await ticket_service.counts(
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
            created_after=instant_of(created_after, actor.time_zone),
            created_before=instant_of(created_before, actor.time_zone),
            updated_after=instant_of(updated_after, actor.time_zone),
            number=number,
            unread=unread,
        ),
    )
    return json_response(StatusCounts(counts=found, total=sum(found.values())))


@router.get(
    "/{ticket_id}",
    response_model=TicketDetail,
    operation_id="get_ticket",
    responses={**responses(401, 403, 404, 422), 304: {"description": "Not modified."}},
)
async def get_ticket(
    ticket_id: Id,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One ticket, with `allowed_transitions` for the caller, and an `ETag` (304 on
    `If-None-Match`). Reading it marks its public activity as read for the caller."""
    row = await ticket_service.read_row(session, actor, ticket_id)
    ticket = row.ticket
    await ticket_service.mark_read(session, actor, row)
    etag = ticket_service.etag(ticket)
    if matches(if_none_match, etag):
        return not_modified(etag)
    body = await detail(session, ticket, actor, response, lang, row)
    return json_response(body, {"ETag": etag})


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
    lang: CallerLang,
    if_match: IfMatch = None,
) -> TicketDetail:
    """Staff change category, severity, assignee or subject.

    `If-Match` with the ETag last read guards against overwriting another's change (412).
    """
    ticket = await ticket_service.update(
        session, actor, ticket_id, body.changes(), if_match=if_match
    )
    return await detail(session, ticket, actor, response, lang)


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
    lang: CallerLang,
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
        return await detail(session, ticket, actor, response, lang)

    identity = {**body.model_dump(mode="json"), "if_match": if_match}
    return await idempotent(request, response, session, actor, idempotency_key, identity, make, 200)


@router.get(
    "/{ticket_id}/events",
    response_model=EventList,
    operation_id="list_ticket_events",
    responses={**responses(400, 401, 403, 404, 422), 304: {"description": "Not modified."}},
)
async def list_ticket_events(
    ticket_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    limit: TimelineLimit = 100,
    cursor: Cursor = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The timeline, oldest first, in keyset pages (`limit`, `cursor`, `next_cursor`).
    An `ETag` on the page (304 on `If-None-Match`)."""
    rows, next_cursor = await ticket_service.events(
        session, actor, ticket_id, limit=limit, cursor=cursor
    )
    return json_or_304(
        if_none_match,
        EventList(
            items=[EventRead.of(e, staff=actor.is_staff) for e in rows], next_cursor=next_cursor
        ),
    )


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
    raw: JsonBody,
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
    idempotency_key: IdempotencyKey = None,
) -> TicketDetail:
    """A new ticket continuing a resolved or closed one (`parent_id` points at it)."""
    body = await read_json_model(request, FollowUpCreate, uploads, session, raw)
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
    row = await ticket_service.new_row(session, actor, ticket) if created else None
    return await detail(session, ticket, actor, response, lang, row)
