"""The tables, one module per aggregate; importing this package registers them all."""

from app.db.models.accounts import (
    ApiKey,
    AuthToken,
    Customer,
    CustomerOrder,
    EmailChange,
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
from app.db.models.inbound import CustomerMailDomain, InboundMail, TicketCc
from app.db.models.knowledge import Embedding, KbArticle
from app.db.models.notifications import Notification, TicketPublicLink
from app.db.models.portal import ReadMarker
from app.db.models.reports import (
    ReportDayHistogram,
    ReportRollup,
    ReportSlot,
    TicketFact,
    TicketSatisfaction,
    TicketStatusChange,
)
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
    "BusinessCalendar",
    "Category",
    "Customer",
    "CustomerMailDomain",
    "CustomerOrder",
    "EmailChange",
    "Embedding",
    "IdempotencyKey",
    "InboundMail",
    "KbArticle",
    "LoginFailure",
    "Macro",
    "Notification",
    "ReadMarker",
    "Reply",
    "ReportDayHistogram",
    "ReportRollup",
    "ReportSlot",
    "RoutingRule",
    "SavedView",
    "SlaPolicy",
    "Tag",
    "Team",
    "TeamMember",
    "Ticket",
    "TicketCc",
    "TicketCounter",
    "TicketEvent",
    "TicketFact",
    "TicketImport",
    "TicketPublicLink",
    "TicketSatisfaction",
    "TicketSla",
    "TicketStatusChange",
    "TicketTag",
    "TimestampMixin",
    "User",
    "Webhook",
    "WebhookDelivery",
    "str_enum",
]
