"""What an order is: a one-off purchase or a subscription, and its standing."""

from __future__ import annotations

from enum import StrEnum


class OrderKind(StrEnum):
    PURCHASE = "purchase"
    SUBSCRIPTION = "subscription"


class OrderStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
