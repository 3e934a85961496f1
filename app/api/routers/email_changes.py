"""Confirming a new e-mail address with the link mailed to it (no login needed: the token is)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import SessionDep
from app.api.problems import responses
from app.api.ratelimit import limit_by_address
from app.api.schemas.auth import EmailConfirmation, EmailConfirmed
from app.services import email_changes as email_change_service

# No login: each request costs one from the client address's budget, as login does.
router = APIRouter(
    prefix="/auth/email-confirmations", tags=["auth"], dependencies=[Depends(limit_by_address)]
)

Token = Annotated[str, Path(min_length=1, max_length=128)]


@router.post(
    "",
    response_model=EmailConfirmed,
    operation_id="confirm_email",
    responses=responses(400, 404, 409, 422),
)
async def confirm_email(body: EmailConfirmation, session: SessionDep) -> EmailConfirmed:
    """Make the pending address of `PATCH /me` the user's (for a portal's confirmation page)."""
    user = await email_change_service.confirm(session, body.token)
    return EmailConfirmed(email=user.email)


@router.get(
    "/{token}",
    response_model=EmailConfirmed,
    operation_id="confirm_email_by_link",
    responses=responses(404, 409, 422),
)
async def confirm_email_by_link(token: Token, session: SessionDep) -> EmailConfirmed:
    """The link of the confirmation mail: opening it confirms the new address."""
    user = await email_change_service.confirm(session, token)
    return EmailConfirmed(email=user.email)
