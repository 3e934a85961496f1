"""The tables, one module per aggregate; importing this package registers them all."""

from app.db.models.accounts import (
    ApiKey,
    AuthToken,
    Customer,
    CustomerOrder,
    LoginFailure,
    TimestampMixin,
    User,
    str_enum,
)
from app.db.models.attachments import Attachment
from app.db.models.knowledge import KbArticle
from app.db.models.notifications import Notification, TicketPublicLink
from app.db.models.tickets import (
    Category,
    IdempotencyKey,
    Reply,
    Ticket,
    TicketCounter,
    TicketEvent,
)
from app.db.models.webhooks import TicketImport, Webhook, WebhookDelivery

__all__ = [
    "ApiKey",
    "Attachment",
    "AuthToken",
    "Category",
    "Customer",
    "CustomerOrder",
    "IdempotencyKey",
    "KbArticle",
    "LoginFailure",
    "Notification",
    "Reply",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketImport",
    "TicketPublicLink",
    "TimestampMixin",
    "User",
    "Webhook",
    "WebhookDelivery",
    "str_enum",
]
