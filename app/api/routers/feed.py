"""The change feed: every timeline event the caller may see, across tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CurrentActor, SessionDep
from app.api.problems import responses
from app.api.schemas.webhooks import FeedEventRead, FeedPage
from app.services import feed as feed_service

router = APIRouter(prefix="/events", tags=["integrations"])


@router.get(
    "",
    response_model=FeedPage,
    operation_id="list_events",
    responses=responses(400, 401, 403, 422),
)
async def list_events(
    session: SessionDep,
    actor: CurrentActor,
    after: Annotated[
        str | None,
        Query(max_length=512, description="The `next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size, 1-500.")] = 100,
) -> FeedPage:
    """Timeline events of every ticket the caller may see, oldest first (customers: their
    customer's tickets, no internal events). Keep `next_cursor` and ask again later."""
    rows, cursor = await feed_service.page(session, actor, after=after, limit=limit)
    return FeedPage(
        items=[FeedEventRead.of(e, staff=actor.is_staff) for e in rows], next_cursor=cursor
    )
