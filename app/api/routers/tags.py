"""Tags on tickets (staff) and the tag list for autocomplete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import CurrentActor, Id, SessionDep
from app.api.problems import responses
from app.api.schemas.macros import TagCount, TagList, TagsIn, TicketTags
from app.services import tags as tag_service

router = APIRouter(tags=["tags"])


@router.get(
    "/tags", response_model=TagList, operation_id="list_tags", responses=responses(401, 403, 422)
)
async def list_tags(
    session: SessionDep,
    actor: CurrentActor,
    prefix: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TagList:
    """Tags in use, most used first, with how many tickets carry each (staff)."""
    rows = await tag_service.suggest(session, actor, prefix, limit)
    return TagList(items=[TagCount(name=t.name, count=t.ticket_count) for t in rows])


@router.post(
    "/tickets/{ticket_id}/tags",
    response_model=TicketTags,
    operation_id="add_ticket_tags",
    responses=responses(400, 401, 403, 404, 422),
)
async def add_tags(
    ticket_id: Id, body: TagsIn, session: SessionDep, actor: CurrentActor
) -> TicketTags:
    """Add tags (case and spaces folded); answers the ticket's tags."""
    return TicketTags(
        ticket_id=ticket_id, tags=await tag_service.add(session, actor, ticket_id, body.tags)
    )


@router.delete(
    "/tickets/{ticket_id}/tags/{tag}",
    response_model=TicketTags,
    operation_id="remove_ticket_tag",
    responses=responses(401, 403, 404, 422),
)
async def remove_tag(
    ticket_id: Id,
    tag: Annotated[str, Path(min_length=1, max_length=50)],
    session: SessionDep,
    actor: CurrentActor,
) -> TicketTags:
    """Remove a tag; answers the ticket's tags (404 if it did not have it)."""
    return TicketTags(
        ticket_id=ticket_id, tags=await tag_service.remove(session, actor, ticket_id, tag)
    )
