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
from app.db.models.knowledge import Embedding, KbArticle
from app.db.models.notifications import Notification, TicketPublicLink
from app.db.models.tickets import (
    Category,
    IdempotencyKey,
    Reply,
    Ticket,
    TicketCounter,
    TicketEvent,
)

__all__ = [
    "ApiKey",
    "Attachment",
    "AuthToken",
    "Category",
    "Customer",
    "CustomerOrder",
    "Embedding",
    "IdempotencyKey",
    "KbArticle",
    "LoginFailure",
    "Notification",
    "Reply",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketPublicLink",
    "TimestampMixin",
    "User",
    "str_enum",
]
