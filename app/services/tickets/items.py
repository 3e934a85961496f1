"""A list page's tickets as Core rows: the columns a list item shows, nothing more.

A page of 25 ORM tickets costs the identity map, instance state and the customer's
joined load for every row, for objects the request only reads once to write JSON.
The list selects the ticket table's columns and the joined names as plain rows
(labelled like the model's attributes, so ``row.status``, ``row.created_at``...), and
the API writes the items from them (``app/api/schemas/ticket_items.py``). Measured
alone at 10,000 tickets (25 open tickets, PostgreSQL), the page's statement and rows
cost 1.1-1.2 ms of CPU as ORM objects, 0.5 ms as Core rows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    select,
    type_coerce,
)
from sqlalchemy.engine import Row

from app.db.models import Category, Customer, ReadMarker, Ticket, User

Item = Row[*tuple[Any, ...]]
"""One list item's columns (:data:`COLUMNS`): the ticket's (by attribute name; the enums
as plain strings), ``customer_code``, ``requester_name``, ``assignee_name``, ``area_*``
and ``parent_area_*`` (``id``, ``name``, ``name_it``, ``name_es``, ``name_en``) and the
caller's ``read_at``."""

_ticket = Ticket.__table__
_customer = Customer.__table__
_requester = User.__table__.alias("requester")
_assignee = User.__table__.alias("assignee")
_area = Category.__table__.alias("area")
_parent_area = Category.__table__.alias("parent_area")
_marker = ReadMarker.__table__

_TICKET_COLUMNS = (
    "id", "number", "customer_id", "requester_id", "type", "category_id", "order_id",
    "subject", "description", "severity", "status", "assignee_id", "solution", "parent_id",
    "contact_name", "contact_phone", "contact_email", "contact_channel", "channel",
    "created_at", "updated_at", "resolved_at", "closed_at", "team_id", "sla_policy_id",
    "sla_due_at", "last_public_at", "last_public_actor_id", "last_public_actor_name",
    "public_reply_count",
)  # fmt: skip
_NAMES = ("name", "name_it", "name_es", "name_en")


_ENUMS = ("type", "severity", "status", "contact_channel", "channel")


def _columns() -> list[Any]:
    # The enums as their stored strings: what the JSON shows, without a lookup per value
    # (the item's ``status`` is a str, not a TicketStatus).
    columns: list[Any] = [
        type_coerce(_ticket.c[name], String()).label(name) if name in _ENUMS else _ticket.c[name]
        for name in _TICKET_COLUMNS
    ]
    columns += [
        _customer.c.code.label("customer_code"),
        _requester.c.name.label("requester_name"),
        _assignee.c.name.label("assignee_name"),
        _area.c.id.label("area_id"),
        *(_area.c[n].label(f"area_{n}") for n in _NAMES),
        _parent_area.c.id.label("parent_area_id"),
        *(_parent_area.c[n].label(f"parent_area_{n}") for n in _NAMES),
        _marker.c.read_at,
    ]
    return columns


COLUMNS = tuple(c.key for c in _columns())
"""The names of an item's columns, in order (``ticket_items`` unpacks them in this order)."""


@lru_cache(maxsize=2)
def bound_item_query(staff: bool) -> Select[Any]:
    """The tickets the caller may see, as list items (add filters, order and limit), built
    once per kind of caller: ``reader`` (``rows.reader``) and a customer's ``customer_id``
    bound at execution (:func:`app.services.visibility.bound_values`). The caller's read
    marker is joined (``ReadMarker`` in a filter is the caller's)."""
    reader = bindparam("reader", type_=Integer())
    joined = (
        _ticket.join(_customer, _customer.c.id == _ticket.c.customer_id)
        .outerjoin(_requester, _requester.c.id == _ticket.c.requester_id)
        .outerjoin(_assignee, _assignee.c.id == _ticket.c.assignee_id)
        .outerjoin(_area, _area.c.id == _ticket.c.category_id)
        .outerjoin(_parent_area, _parent_area.c.id == _area.c.parent_id)
        .outerjoin(_marker, and_(_marker.c.ticket_id == _ticket.c.id, _marker.c.user_id == reader))
    )
    stmt = select(*_columns()).select_from(joined)
    if not staff:
        # visible_tickets(), with the customer bound.
        stmt = stmt.where(_ticket.c.customer_id == bindparam("customer_id"))
    return stmt
