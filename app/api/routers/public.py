"""The public status link: a ticket's status page, no login, for whoever holds the token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep
from app.api.pages import CONTENT_SECURITY_POLICY, render_public_ticket, when
from app.api.problems import responses
from app.api.ratelimit import limit_by_address
from app.api.schemas.notifications import PublicTicketRead
from app.domain import i18n
from app.services import public_links

router = APIRouter(prefix="/public", tags=["public"])

_PAGE = {
    "description": "The ticket: JSON for programs, a page for browsers (`Accept: text/html`).",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def wants_html(accept: str | None) -> bool:
    """A browser asks for ``text/html`` before JSON; programs ask for JSON or anything."""
    if not accept:
        return False
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if "text/html" not in kinds:
        return False
    return "application/json" not in kinds or kinds.index("text/html") < kinds.index(
        "application/json"
    )


@router.get(
    "/tickets/{token}",
    response_model=PublicTicketRead,
    operation_id="get_public_ticket",
    responses={200: _PAGE, **responses(404, 422)},
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
    accept: Annotated[str | None, Header(max_length=1000)] = None,
    accept_language: Annotated[str | None, Header(alias="Accept-Language", max_length=1000)] = None,
) -> PublicTicketRead | Response:
    """Number, subject, status and its label, dates, solution and public replies; nothing
    internal. Any token that is not a ticket's link is 404.

    A browser (`Accept: text/html`) gets a small readable page instead, in `?lang`, else
    its `Accept-Language`, else the customer's language, under a strict
    Content-Security-Policy (no script, nothing loaded from anywhere).
    """
    # The token is a credential: no cache keeps the page, no Referer carries the URL on.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    view = await public_links.view(session, token)
    if not wants_html(accept):
        return PublicTicketRead.of(view, lang or view.locale.value)
    page_lang = lang or i18n.from_accept_language(accept_language) or view.locale.value
    data = PublicTicketRead.of(view, page_lang)
    html = render_public_ticket(
        page_lang,
        {
            "number": data.number,
            "subject": data.subject,
            "status_label": data.status_label,
            "created_at": when(data.created_at),
            "updated_at": when(data.updated_at),
            "solution": data.solution,
            "replies": [
                {"author_name": r.author_name, "created_at": when(r.created_at), "body": r.body}
                for r in data.replies
            ],
        },
    )
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Language": page_lang,
            "Vary": "Accept, Accept-Language",
        },
    )
