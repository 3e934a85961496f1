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
from app.db.models.desk import (
    BusinessCalendar,
    Macro,
    RoutingRule,
    SavedView,
    SlaPolicy,
    Tag,
    Team,
    TeamMember,
    TicketSla,
    TicketTag,
)
from app.db.models.knowledge import KbArticle
from app.db.models.notifications import Notification, TicketPublicLink
from app.db.models.reports import TicketFact, TicketSatisfaction
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
    "BusinessCalendar",
    "Category",
    "Customer",
    "CustomerOrder",
    "IdempotencyKey",
    "KbArticle",
    "LoginFailure",
    "Macro",
    "Notification",
    "Reply",
    "RoutingRule",
    "SavedView",
    "SlaPolicy",
    "Tag",
    "Team",
    "TeamMember",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketFact",
    "TicketPublicLink",
    "TicketSatisfaction",
    "TicketSla",
    "TicketTag",
    "TimestampMixin",
    "User",
    "str_enum",
]
