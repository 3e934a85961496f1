"""Tickets: open, follow up, move, edit, list and search, the automatic moves.

A package split by use case; callers import it by role
(``from app.services import tickets as ticket_service``) and use the names below.
"""

from app.services.tickets.common import allowed_for, allowed_from, check_if_match, etag
from app.services.tickets.editing import events, get, update
from app.services.tickets.items import Item
from app.services.tickets.jobs import automatic_moves, purge_idempotency_keys
from app.services.tickets.listing import (
    Filters,
    SlaFilter,
    TagMode,
    count,
    counts,
    filtered,
    list_page,
)
from app.services.tickets.moves import apply_move, change_status, set_state, state_of
from app.services.tickets.opening import (
    Contact,
    FollowUp,
    NewTicket,
    check_category,
    follow_up,
    open_ticket,
    request_hash,
)
from app.services.tickets.rows import Row, mark_read, new_row, read_row, row_of
from app.services.tickets.sorting import Sort

__all__ = [
    "Contact",
    "Filters",
    "FollowUp",
    "Item",
    "NewTicket",
    "Row",
    "SlaFilter",
    "Sort",
    "TagMode",
    "allowed_for",
    "allowed_from",
    "apply_move",
    "automatic_moves",
    "change_status",
    "check_category",
    "check_if_match",
    "count",
    "counts",
    "etag",
    "events",
    "filtered",
    "follow_up",
    "get",
    "list_page",
    "mark_read",
    "new_row",
    "open_ticket",
    "purge_idempotency_keys",
    "read_row",
    "request_hash",
    "row_of",
    "set_state",
    "state_of",
    "update",
]
