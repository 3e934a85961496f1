"""Incoming e-mail: receiving it (one service for every way in), and the admins' view."""

from app.services.inbound.admin import list_page, retry, ticket_number
from app.services.inbound.receiving import Received, receive

__all__ = ["Received", "list_page", "receive", "retry", "ticket_number"]
