"""'How did we do?': answered through the resolution mail's link or the public status link
(no login); read by the staff on the ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app.api.deps import CurrentActor, Id, SessionDep
from app.api.problems import responses
from app.api.ratelimit import limit_by_address
from app.api.schemas.reports import SatisfactionIn, SatisfactionRead
from app.db.models import Ticket
from app.services import satisfaction

router = APIRouter(tags=["satisfaction"])
"""The public links take no login: each request costs one from the client address's budget,
as the status link does (an answer changed to bad mails the desk)."""

Token = Annotated[str, Path(max_length=200, description="The token of the link.")]


def _private(response: Response) -> None:
    # The token is a credential: no cache keeps the page, no Referer carries the URL on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"


@router.get(
    "/public/satisfaction/{token}",
    response_model=SatisfactionRead,
    operation_id="get_satisfaction",
    dependencies=[Depends(limit_by_address)],
    responses=responses(404, 422),
)
async def get_satisfaction(
    token: Token, response: Response, session: SessionDep
) -> SatisfactionRead:
    """The question of a resolution mail's link, and the answer given so far. An unknown or
    expired link is 404."""
    _private(response)
    question, ticket = await satisfaction.by_token(session, token)
    return SatisfactionRead.of(question, ticket)


@router.post(
    "/public/satisfaction/{token}",
    response_model=SatisfactionRead,
    operation_id="answer_satisfaction",
    dependencies=[Depends(limit_by_address)],
    responses=responses(404, 409, 422),
)
async def answer_satisfaction(
    token: Token, body: SatisfactionIn, response: Response, session: SessionDep
) -> SatisfactionRead:
    """Answer good or bad, with an optional comment; a new answer replaces the previous one
    until the ticket is closed (then 409)."""
    _private(response)
    question, ticket = await satisfaction.by_token(session, token)
    await satisfaction.answer(session, question, ticket, body.rating, body.comment)
    return SatisfactionRead.of(question, ticket)


@router.get(
    "/public/tickets/{token}/satisfaction",
    response_model=SatisfactionRead,
    operation_id="get_public_ticket_satisfaction",
    dependencies=[Depends(limit_by_address)],
    responses=responses(404, 422),
)
async def get_public_ticket_satisfaction(
    token: Token, response: Response, session: SessionDep
) -> SatisfactionRead:
    """The same question on the public status page (``asked`` is false until resolved)."""
    _private(response)
    question, ticket = await satisfaction.by_status_link(session, token)
    return SatisfactionRead.of(question, ticket)


@router.post(
    "/public/tickets/{token}/satisfaction",
    response_model=SatisfactionRead,
    operation_id="answer_public_ticket_satisfaction",
    dependencies=[Depends(limit_by_address)],
    responses=responses(404, 409, 422),
)
async def answer_public_ticket_satisfaction(
    token: Token, body: SatisfactionIn, response: Response, session: SessionDep
) -> SatisfactionRead:
    """Answer from the public status page (409 before the resolution or after the closing)."""
    _private(response)
    question, ticket = await satisfaction.by_status_link(session, token)
    await satisfaction.answer(session, question, ticket, body.rating, body.comment)
    return SatisfactionRead.of(question, ticket)


@router.get(
    "/tickets/{ticket_id}/satisfaction",
    response_model=SatisfactionRead,
    operation_id="get_ticket_satisfaction",
    responses=responses(401, 403, 404, 422),
)
async def get_ticket_satisfaction(
    ticket_id: Id, session: SessionDep, actor: CurrentActor
) -> SatisfactionRead:
    """The customer's rating of a ticket (agents and admins); 404 if never asked."""
    question = await satisfaction.for_staff(session, actor, ticket_id)
    ticket = await session.get(Ticket, ticket_id)
    assert ticket is not None
    return SatisfactionRead.of(question, ticket)
