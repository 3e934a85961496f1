"""Bulk import bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from app.api.schemas.common import Email, IdRef, Input, Name, Output, Phone
from app.api.schemas.tickets import CustomerCode, Instant, LongText, Subject
from app.domain.tickets import ContactChannel, Severity, TicketStatus, TicketType, Visibility
from app.services.imports import MAX_TICKETS, Result

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_REPLIES = 500


class ImportContact(Input):
    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    preferred_channel: ContactChannel = ContactChannel.EMAIL


class ImportReply(Input):
    body: LongText
    visibility: Visibility = Visibility.PUBLIC
    author_name: Name
    author_role: Literal["customer", "agent"]
    created_at: Instant


class ImportTicket(Input):
    external_id: ExternalId = Field(description="Its id in the help desk it comes from (unique).")
    customer_code: CustomerCode
    type: TicketType
    category_id: IdRef | None = None
    order_id: IdRef | None = None
    subject: Subject
    description: LongText
    severity: Severity = Severity.NORMAL
    status: TicketStatus = TicketStatus.OPEN
    solution: LongText | None = None
    assignee_id: IdRef | None = None
    contact: ImportContact = Field(default_factory=ImportContact)
    created_at: Instant
    updated_at: Instant | None = None
    resolved_at: Instant | None = None
    closed_at: Instant | None = None
    replies: list[ImportReply] = Field(default_factory=list, max_length=MAX_REPLIES)


class ImportRequest(Input):
    """What `POST /imports/tickets` takes (each ticket is judged on its own)."""

    tickets: list[ImportTicket] = Field(min_length=1, max_length=MAX_TICKETS)


class LooseImportRequest(Input):
    """The same body, read first without judging the tickets, so that one bad ticket is
    refused alone."""

    tickets: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_TICKETS)


class ImportOutcome(Output):
    index: int
    external_id: str | None
    result: Result
    ticket_id: int | None = None
    number: str | None = None
    reason: str | None = None


class ImportResults(Output):
    created: int
    already_imported: int
    refused: int
    items: list[ImportOutcome]
