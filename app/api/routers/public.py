"""The public status link: a ticket's status page, no login, for whoever holds the token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from app.api.deps import SessionDep
from app.api.problems import responses
from app.api.ratelimit import limit_by_address
from app.api.schemas.notifications import PublicTicketRead
from app.services import public_links

router = APIRouter(prefix="/public", tags=["public"])


@router.get(
    "/tickets/{token}",
    response_model=PublicTicketRead,
    operation_id="get_public_ticket",
    responses=responses(404, 422),
    dependencies=[Depends(limit_by_address)],
)
async def get_public_ticket(
    token: Annotated[str, Path(description="The token of the link in the confirmation e-mail.")],
    response: Response,
    session: SessionDep,
    lang: Annotated[
        Literal["it", "es", "en"] | None,
        Query(description="Language of `status_label`; by default the customer's."),
    ] = None,
) -> PublicTicketRead:
    """Number, subject, status and its label, dates, solution and public replies; nothing
    internal. Any token that is not a ticket's link is 404."""
    # The token is a credential: no cache keeps the page, no Referer carries the URL on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    view = await public_links.view(session, token)
    return PublicTicketRead.of(view, lang or view.locale.value)
