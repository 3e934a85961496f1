"""What every ticket use case shares: the ETag check and the moves a caller may make."""

from __future__ import annotations

from app.db.models import (
    Ticket,
)
from app.domain.access import Actor, Scope
from app.domain.errors import (
    PreconditionFailed,
)
from app.domain.tickets import (
    TicketStatus,
    allowed_moves,
    mover_of,
)


def etag(ticket: Ticket) -> str:
    return f'"{ticket.id}-{ticket.version}"'


def check_if_match(ticket: Ticket, if_match: str | None) -> None:
    """``If-Match``: the change applies only to the version the client saw (else 412)."""
    if if_match is None:
        return
    candidates = [part.strip() for part in if_match.split(",")]
    if "*" in candidates:
        return
    current = etag(ticket)
    if current not in candidates and f"W/{current}" not in candidates:
        raise PreconditionFailed(
            "The ticket has changed since you read it; reload it and try again."
        )


def allowed_for(ticket: Ticket, actor: Actor) -> list[TicketStatus]:
    """The moves the caller may make now (none for an API key that may not write tickets)."""
    return allowed_from(ticket.status, actor)


def allowed_from(status: TicketStatus, actor: Actor) -> list[TicketStatus]:
    """:func:`allowed_for` a ticket in ``status`` (a list item has no ORM ticket)."""
    if actor.scopes is not None and Scope.TICKETS_WRITE not in actor.scopes:
        return []
    return allowed_moves(status, mover_of(actor))
