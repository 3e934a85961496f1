"""Saved views: the agents' list filters ("mine", "my teams' unassigned", "breaching soon", ...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.deps import CurrentActor, Cursor, Limit, SessionDep
from app.api.problems import responses
from app.api.schemas.common import Output
from app.api.schemas.teams import ViewIn, ViewList, ViewRead
from app.api.schemas.ticket_items import item_fields
from app.api.schemas.tickets import TicketRead
from app.services import views as view_service

router = APIRouter(prefix="/views", tags=["views"])

ViewId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]


class ViewPage(Output):
    items: list[TicketRead]
    next_cursor: str | None
    count: int


@router.get("", response_model=ViewList, operation_id="list_views", responses=responses(401, 403))
async def list_views(session: SessionDep, actor: CurrentActor) -> ViewList:
    """The built-in views, the caller's own and the shared ones (staff)."""
    return ViewList(items=[ViewRead.of(v) for v in await view_service.list_views(session, actor)])


@router.post(
    "",
    response_model=ViewRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_view",
    responses=responses(400, 401, 403, 422),
)
async def create_view(
    body: ViewIn, response: Response, session: SessionDep, actor: CurrentActor
) -> ViewRead:
    """Save a view: personal, or `shared` (admin)."""
    view = await view_service.create(
        session,
        actor,
        body.name,
        body.filters.model_dump(exclude_defaults=True),
        body.sort,
        body.shared,
    )
    response.headers["Location"] = f"/api/v1/views/{view.id}"
    return ViewRead.of(view)


@router.get(
    "/{view_id}",
    response_model=ViewRead,
    operation_id="get_view",
    responses=responses(401, 403, 404, 422),
)
async def get_view(view_id: ViewId, session: SessionDep, actor: CurrentActor) -> ViewRead:
    """One view."""
    return ViewRead.of(await view_service.get(session, actor, view_id))


@router.get(
    "/{view_id}/tickets",
    response_model=ViewPage,
    operation_id="list_view_tickets",
    responses=responses(400, 401, 403, 404, 422),
)
async def list_view_tickets(
    view_id: ViewId,
    session: SessionDep,
    actor: CurrentActor,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> ViewPage:
    """The view's tickets as a keyset page, with the `count` of all of them."""
    items, next_cursor, total = await view_service.page(
        session, actor, view_id, limit=limit, cursor=cursor
    )
    return ViewPage(
        # TicketRead is the first part of a list item: the rest is ignored.
        items=[TicketRead.model_validate(item_fields(i, actor, "", [])) for i in items],
        next_cursor=next_cursor,
        count=total,
    )


@router.delete(
    "/{view_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_view",
    responses=responses(401, 403, 404, 422),
)
async def delete_view(view_id: ViewId, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete one's own view (a shared one: admin)."""
    await view_service.delete(session, actor, view_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
