"""Ticket, reply, category, timeline and status bodies."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
)

from app.api.schemas.common import (
    Email,
    IdRef,
    Input,
    Name,
    Output,
    Phone,
    no_control_chars,
    non_null,
    not_blank,
)
from app.api.schemas.sla import TagName, TicketSlaRead
from app.db.models import Category, Reply, Ticket, TicketEvent
from app.domain.access import Actor
from app.domain.dates import start_of_day
from app.domain.events import customer_note
from app.domain.inbound import Channel
from app.domain.tickets import (
    ContactChannel,
    Severity,
    TicketStatus,
    TicketType,
    Visibility,
)
from app.services.tickets.rows import Row

Subject = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_chars),
]
# Not stripped (a description's layout is the customer's), but never only blanks.
LongText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=20_000),
    AfterValidator(no_control_chars),
    AfterValidator(not_blank),
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(no_control_chars)
]
Solution = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(no_control_chars)]
CategoryName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_control_chars),
]


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


Instant = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""A point in time given by a client: with its UTC offset (RFC 3339), within the years 1-9999."""

_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_or_instant(value: object) -> object:
    """``2026-02-01`` is a day (its start is the caller's to say); anything else an instant."""
    if isinstance(value, str) and _PLAIN_DATE.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    return value


DayOrInstant = Annotated[
    # Strict: only what the validator below made a date is one ("2026-01-01T00:00:00", with
    # no offset, is not taken as that day: it is 422 as before).
    Annotated[date, Field(strict=True)] | Instant,
    BeforeValidator(_date_or_instant),
    Field(
        description="A timestamp with its UTC offset (`2026-02-01T09:00:00Z`), or a plain date "
        "(`2026-02-01`): the start of that day in the caller's time zone (`time_zone` of "
        "`GET /me`; UTC for API keys)."
    ),
]


def instant_of(value: date | datetime | None, time_zone: str) -> datetime | None:
    """A filter's bound as an instant: a plain date starts at midnight in ``time_zone``."""
    if value is None or isinstance(value, datetime):
        return value
    return start_of_day(value, time_zone)


CustomerCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    AfterValidator(no_control_chars),
]


class ContactIn(Input):
    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    preferred_channel: ContactChannel | None = None


class ContactOut(Output):
    name: str | None
    phone: str | None
    email: str | None
    preferred_channel: ContactChannel


class _TicketBody(Input):
    customer_code: CustomerCode | None = None
    type: TicketType | None = None
    category_id: IdRef | None = None
    order_id: IdRef | None = None
    subject: Subject
    description: LongText
    severity: Severity = Severity.NORMAL
    contact: ContactIn = Field(default_factory=ContactIn)


class TicketCreate(_TicketBody):
    """A new ticket; `order_id` is required for `order` tickets; `tags` are for staff."""

    customer_code: CustomerCode
    type: TicketType
    tags: Annotated[list[TagName], Field(max_length=20)] = Field(default_factory=list)


class FollowUpCreate(_TicketBody):
    """As for creation; customer code, type and category default from the followed ticket."""


class TicketUpdate(Input):
    model_config = non_null("severity", "subject")

    category_id: IdRef | None = None
    severity: Severity | None = None
    assignee_id: IdRef | None = None
    team_id: IdRef | None = None
    subject: Subject | None = None

    @field_validator("severity", "subject")
    @classmethod
    def _no_nulls(cls, value: object) -> object:
        # Called only for fields given: omitted means "unchanged", null is refused (at its loc).
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class StatusChange(Input):
    status: TicketStatus
    solution: Solution | None = None
    note: Note | None = None


class AttachmentRead(Output):
    id: int
    ticket_id: int
    reply_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class TicketRead(Output):
    id: int
    number: str
    customer_id: int
    customer_code: str
    requester_id: int | None
    type: TicketType
    category_id: int | None
    order_id: int | None
    subject: str
    description: str
    severity: Severity
    status: TicketStatus
    assignee_id: int | None
    solution: str | None
    parent_id: int | None
    contact: ContactOut
    channel: Channel = Field(description="How the ticket came in: email, api or portal")
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    team_id: int | None = None
    sla_policy_id: int | None = None
    sla_due_at: datetime | None = None
    """The earliest due time of the ticket's running SLA targets (staff only)."""

    @classmethod
    def of(cls, ticket: Ticket) -> TicketRead:
        return cls.model_validate(_ticket_fields(ticket))


def _ticket_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "customer_id": ticket.customer_id,
        "customer_code": ticket.customer.code,
        "requester_id": ticket.requester_id,
        "type": ticket.type,
        "category_id": ticket.category_id,
        "order_id": ticket.order_id,
        "subject": ticket.subject,
        "description": ticket.description,
        "severity": ticket.severity,
        "status": ticket.status,
        "assignee_id": ticket.assignee_id,
        "solution": ticket.solution,
        "parent_id": ticket.parent_id,
        "contact": {
            "name": ticket.contact_name,
            "phone": ticket.contact_phone,
            "email": ticket.contact_email,
            "preferred_channel": ticket.contact_channel,
        },
        "channel": ticket.channel,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "team_id": ticket.team_id,
        "sla_policy_id": ticket.sla_policy_id,
        "sla_due_at": ticket.sla_due_at,
    }


class PersonRef(Output):
    """Someone named on a ticket: their id and display name, nothing else of them."""

    id: int
    name: str


class CategoryRef(Output):
    """An area or sub-area, named in the caller's language."""

    id: int
    name: str


class ActivityRead(Output):
    """The last public activity on a ticket: when, and who (null for an automatic move)."""

    at: datetime
    actor: PersonRef | None


def category_name(category: Category, lang: str) -> str:
    """The category's name in ``lang``, else its base name."""
    translated: str | None = getattr(category, f"name_{lang}", None)
    return translated or category.name


class TicketItem(TicketRead):
    """A ticket as a list row shows it: who, where, how much was said, what is new."""

    requester: PersonRef | None
    assignee: PersonRef | None
    category: CategoryRef | None = Field(description="The area (the sub-area's parent, if any).")
    sub_category: CategoryRef | None
    reply_count: int = Field(description="Public replies.")
    last_activity: ActivityRead | None
    unread: bool = Field(
        description="Public activity by someone else that the caller has not read yet "
        "(in a ticket read: as it was before this read). Always false for API keys."
    )
    allowed_transitions: list[TicketStatus]

    @classmethod
    def build(cls, row: Row, allowed: list[TicketStatus], lang: str) -> TicketItem:
        return cls.model_validate(_item_fields(row, allowed, lang))


def _item_fields(row: Row, allowed: list[TicketStatus], lang: str) -> dict[str, Any]:
    ticket = row.ticket
    area, sub = row.category, None
    if row.parent_category is not None:
        area, sub = row.parent_category, row.category
    activity = None
    if ticket.last_public_at is not None:
        who = None
        if ticket.last_public_actor_name is not None and ticket.last_public_actor_id is not None:
            who = {"id": ticket.last_public_actor_id, "name": ticket.last_public_actor_name}
        activity = {"at": ticket.last_public_at, "actor": who}
    return {
        **_ticket_fields(ticket),
        "requester": _person(ticket.requester_id, row.requester_name),
        "assignee": _person(ticket.assignee_id, row.assignee_name),
        "category": {"id": area.id, "name": category_name(area, lang)} if area else None,
        "sub_category": {"id": sub.id, "name": category_name(sub, lang)} if sub else None,
        "reply_count": ticket.public_reply_count,
        "last_activity": activity,
        "unread": row.unread,
        "allowed_transitions": allowed,
    }


def _person(user_id: int | None, name: str | None) -> dict[str, Any] | None:
    if user_id is None or name is None:
        return None
    return {"id": user_id, "name": name}


class TicketDetail(TicketItem):
    """A single ticket, with what the caller may do with it now and its files."""

    attachments: list[AttachmentRead]
    tags: list[str] | None = None
    """The ticket's tags (staff only; null for customers)."""
    sla: TicketSlaRead | None = None
    """The policy and each target's clock (staff only; null without a policy)."""

    @classmethod
    def of_row(
        cls,
        row: Row,
        allowed: list[TicketStatus],
        lang: str,
        attachments: list[AttachmentRead] | None = None,
        tags: list[str] | None = None,
        sla: TicketSlaRead | None = None,
    ) -> TicketDetail:
        return cls.model_validate(
            {
                **_item_fields(row, allowed, lang),
                "attachments": attachments or [],
                "tags": tags,
                "sla": sla,
            }
        )


class StatusCounts(Output):
    """How many tickets the caller may see in each status, with the list's filters."""

    counts: dict[TicketStatus, int]
    total: int


class ActorRead(Output):
    id: int | None
    name: str
    role: str


class EventRead(Output):
    id: int
    kind: str
    from_: TicketStatus | None = Field(serialization_alias="from", validation_alias="from")
    to: TicketStatus | None
    actor: ActorRead | None
    note: str | None
    reply_id: int | None = None
    assignee_id: IdRef | None = None
    attachment_id: int | None = None
    solution: str | None = Field(
        default=None, description="On a move to `resolved`: the solution given then."
    )
    channel: Channel | None = Field(
        default=None, description="On `created` and `replied`: email, api or portal"
    )
    team_id: int | None = None
    tag: str | None = None
    target: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, event: TicketEvent, *, staff: bool = True) -> EventRead:
        """``staff`` False: as a customer is shown it (no note of the desk's own tools)."""
        actor = None
        if event.actor_name is not None:
            actor = ActorRead(id=event.actor_id, name=event.actor_name, role=event.actor_role or "")
        return cls.model_validate(
            {
                "id": event.id,
                "kind": event.kind,
                "from": event.from_status,
                "to": event.to_status,
                "actor": actor,
                "note": event.note if staff else customer_note(event.note),
                "reply_id": event.reply_id,
                "assignee_id": event.assignee_id,
                "attachment_id": event.attachment_id,
                "solution": event.solution,
                "channel": event.channel,
                "team_id": event.team_id,
                "tag": event.tag,
                "target": event.target,
                "created_at": event.created_at,
            }
        )


class EventList(Output):
    items: list[EventRead]
    next_cursor: str | None = Field(
        default=None, description="The next page's cursor; null on the last page."
    )


class ReplyCreate(Input):
    body: LongText
    visibility: Visibility = Visibility.PUBLIC


class ReplyRead(Output):
    id: int
    ticket_id: int
    author_id: int | None
    author_name: str
    author_role: str
    body: str
    visibility: Visibility
    channel: Channel
    created_at: datetime
    attachments: list[AttachmentRead] = Field(default_factory=list)

    @classmethod
    def of(cls, reply: Reply, attachments: list[AttachmentRead] | None = None) -> ReplyRead:
        data = cls.model_validate(reply, from_attributes=True)
        data.attachments = attachments or []
        return data


class ReplyList(Output):
    items: list[ReplyRead]
    next_cursor: str | None = Field(
        default=None, description="The next page's cursor; null on the last page."
    )


STAFF_ONLY = {"team_id": None, "sla_policy_id": None, "sla_due_at": None}
"""What customers are not shown of a ticket: the desk's internal organisation."""

ReadT = TypeVar("ReadT", bound=TicketRead)


def staff_view(read: ReadT, actor: Actor) -> ReadT:
    """The answer as the caller may see it: customers get none of the desk's organisation
    (every answer that carries a ticket goes through here: reads, lists, solutions,
    suggestions)."""
    return read if actor.is_staff else read.model_copy(update=STAFF_ONLY)
