"""Webhook, delivery and change-feed bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.api.schemas.common import IdRef, Input, Output, ShortText
from app.api.schemas.tickets import EventRead
from app.db.models import TicketEvent, Webhook, WebhookDelivery
from app.domain.tickets import TicketType
from app.domain.webhooks import DeliveryStatus

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)]
Kind = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Description = Annotated[ShortText, StringConstraints(max_length=200)]


class WebhookCreate(Input):
    url: Url = Field(description="https only (plain http to loopback only in development).")
    description: Description | None = None
    kinds: list[Kind] = Field(
        min_length=1,
        max_length=50,
        description="Timeline event kinds (see `GET /webhooks/event-kinds`), or `*` for all.",
    )
    include_internal: bool = Field(
        default=False, description="Also internal events (internal notes and their files)."
    )
    ticket_type: TicketType | None = None
    customer_id: IdRef | None = None
    team_id: IdRef | None = Field(default=None, description="Only the tickets of this team.")
    enabled: bool = True


class WebhookUpdate(Input):
    url: Url | None = None
    description: Description | None = None
    kinds: list[Kind] | None = Field(default=None, min_length=1, max_length=50)
    include_internal: bool | None = None
    ticket_type: TicketType | None = None
    customer_id: IdRef | None = None
    team_id: IdRef | None = None
    enabled: bool | None = None


class WebhookRead(Output):
    id: int
    url: str
    description: str | None
    kinds: list[str]
    include_internal: bool
    ticket_type: TicketType | None
    customer_id: int | None
    team_id: int | None
    enabled: bool
    disabled_reason: str | None
    failure_count: int
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, hook: Webhook) -> WebhookRead:
        return cls.model_validate(hook, from_attributes=True)


class WebhookWithSecret(WebhookRead):
    """At creation and rotation only: the signing secret (`whsec_…`)."""

    secret: str

    @classmethod
    def of(cls, hook: Webhook) -> WebhookWithSecret:
        return cls.model_validate(hook, from_attributes=True)


class SecretRotation(Input):
    overlap_hours: int = Field(
        default=24,
        ge=0,
        le=168,
        description="How long the previous secret keeps signing deliveries (0: not at all).",
    )


class EventKind(Output):
    kind: str
    description: str


class EventKinds(Output):
    items: list[EventKind]


class DeliveryRead(Output):
    id: int
    webhook_id: int
    ticket_id: int
    event_id: int | None
    kind: str
    status: DeliveryStatus
    attempts: int
    response_code: int | None
    last_error: str | None
    duration_ms: int | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryRead:
        return cls.model_validate(row, from_attributes=True)


class FeedEventRead(EventRead):
    ticket_id: int

    @classmethod
    def of(cls, event: TicketEvent, *, staff: bool = True) -> FeedEventRead:
        base = EventRead.of(event, staff=staff)
        return cls.model_validate({**base.model_dump(by_alias=True), "ticket_id": event.ticket_id})


class FeedPage(Output):
    items: list[FeedEventRead]
    next_cursor: str = Field(
        description="Where to continue: pass it as `after` (also when this page is empty)."
    )
