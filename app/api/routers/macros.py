"""Canned replies (macros) and their application to a ticket."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentActor, Id, SessionDep
from app.api.i18n import CallerLang
from app.api.problems import responses
from app.api.routers.tickets import detail
from app.api.schemas.common import Output
from app.api.schemas.macros import MacroIn, MacroList, MacroRead, MacroUpdate
from app.api.schemas.tickets import ReplyRead, TicketDetail
from app.services import macros as macro_service

router = APIRouter(prefix="/macros", tags=["macros"])
apply_router = APIRouter(prefix="/tickets", tags=["macros"])


class MacroApplied(Output):
    reply: ReplyRead
    ticket: TicketDetail


@router.get("", response_model=MacroList, operation_id="list_macros", responses=responses(401, 403))
async def list_macros(session: SessionDep, actor: CurrentActor) -> MacroList:
    """The caller's personal macros and the shared ones (staff)."""
    return MacroList(
        items=[MacroRead.of(m) for m in await macro_service.list_macros(session, actor)]
    )


@router.post(
    "",
    response_model=MacroRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_macro",
    responses=responses(400, 401, 403, 422),
)
async def create_macro(
    body: MacroIn, response: Response, session: SessionDep, actor: CurrentActor
) -> MacroRead:
    """A macro: personal (staff) or `shared` (admin). An unknown placeholder is a 422."""
    macro = await macro_service.create(session, actor, body.fields(), body.shared)
    response.headers["Location"] = f"/api/v1/macros/{macro.id}"
    return MacroRead.of(macro)


@router.get(
    "/{macro_id}",
    response_model=MacroRead,
    operation_id="get_macro",
    responses=responses(401, 403, 404, 422),
)
async def get_macro(macro_id: Id, session: SessionDep, actor: CurrentActor) -> MacroRead:
    """One macro (one's own or a shared one)."""
    return MacroRead.of(await macro_service.get(session, actor, macro_id))


@router.patch(
    "/{macro_id}",
    response_model=MacroRead,
    operation_id="update_macro",
    responses=responses(400, 401, 403, 404, 422),
)
async def update_macro(
    macro_id: Id, body: MacroUpdate, session: SessionDep, actor: CurrentActor
) -> MacroRead:
    """Change one's own macro (a shared one: admin)."""
    return MacroRead.of(await macro_service.update(session, actor, macro_id, body.changes()))


@router.delete(
    "/{macro_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_macro",
    responses=responses(401, 403, 404, 422),
)
async def delete_macro(macro_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete one's own macro (a shared one: admin)."""
    await macro_service.delete(session, actor, macro_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@apply_router.post(
    "/{ticket_id}/macros/{macro_id}",
    response_model=MacroApplied,
    status_code=status.HTTP_201_CREATED,
    operation_id="apply_macro",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def apply_macro(
    ticket_id: Id,
    macro_id: Id,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
) -> MacroApplied:
    """Post the macro's body in the ticket's language and run its actions, all or nothing.

    A macro that resolves gives its body as the solution: an internal one cannot (422)."""
    reply, ticket = await macro_service.apply(session, actor, ticket_id, macro_id)
    return MacroApplied(
        reply=ReplyRead.of(reply), ticket=await detail(session, ticket, actor, response, lang)
    )
