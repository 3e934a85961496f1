"""Reports: the answer's shape (flat rows, the same as the CSV's lines)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from app.api.schemas.common import Input, Output, ShortText
from app.db.models import Ticket, TicketSatisfaction
from app.domain.reports import Rating
from app.domain.tickets import TicketStatus


class ReportRead(Output):
    report: str
    from_: date = Field(serialization_alias="from")
    to: date
    group: str
    tz: str
    columns: list[str]
    rows: list[dict[str, Any]]


class SatisfactionIn(Input):
    rating: Rating
    comment: ShortText | None = None


class SatisfactionRead(Output):
    ticket_number: str
    subject: str
    asked: bool
    """False while the ticket has not been resolved (nothing to rate yet)."""
    rating: Rating | None = None
    comment: str | None = None
    answered_at: datetime | None = None
    expires_at: datetime | None = None
    changeable: bool
    """Whether an answer may still be given or changed (until the ticket is closed)."""

    @classmethod
    def of(cls, question: TicketSatisfaction | None, ticket: Ticket) -> SatisfactionRead:
        open_ = ticket.status is not TicketStatus.CLOSED
        if question is None:
            return cls(ticket_number=ticket.number, subject=ticket.subject, asked=False,
                       changeable=False)  # fmt: skip
        return cls(
            ticket_number=ticket.number,
            subject=ticket.subject,
            asked=True,
            rating=Rating(question.rating) if question.rating else None,
            comment=question.comment,
            answered_at=question.answered_at,
            expires_at=question.expires_at,
            changeable=open_,
        )
