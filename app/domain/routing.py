"""Routing: which team a new ticket goes to (ordered rules, first match), and to whom in it.

Pure: the service gives the facts of the ticket and of the team's members; the
rules here pick. Conditions are lists; an empty or missing list means "any".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Assignment(StrEnum):
    NONE = "none"
    """The ticket goes to the team's queue, unassigned."""
    ROUND_ROBIN = "round_robin"
    """The member assigned longest ago (never first), present members only."""
    FEWEST_OPEN = "fewest_open"
    """The present member with the fewest tickets not yet resolved or closed."""


class Channel(StrEnum):
    PORTAL = "portal"
    """Opened by a user (a customer in a portal, an agent for them)."""
    API = "api"
    """Opened by an integrator's API key."""
    EMAIL = "email"
    """Opened by an incoming e-mail (the inbound channel)."""


CONDITION_KEYS = ("types", "category_ids", "severities", "customer_ids", "channels", "tags")


@dataclass(frozen=True, slots=True)
class TicketFacts:
    type: str
    category_id: int | None
    severity: str
    customer_id: int
    channel: str
    tags: frozenset[str]


def matches(conditions: dict[str, Sequence[object]], facts: TicketFacts) -> bool:
    """Every non-empty condition must hold; ``tags`` holds when the ticket has any of them."""
    checks: dict[str, object] = {
        "types": facts.type,
        "category_ids": facts.category_id,
        "severities": facts.severity,
        "customer_ids": facts.customer_id,
        "channels": facts.channel,
    }
    for key, value in checks.items():
        wanted = conditions.get(key) or []
        if wanted and value not in wanted:
            return False
    tags = conditions.get("tags") or []
    return not (tags and not facts.tags.intersection(str(t) for t in tags))


def first_rule(
    rules: Iterable[tuple[int, dict[str, Sequence[object]]]], facts: TicketFacts
) -> int | None:
    for rule_id, conditions in rules:
        if matches(conditions, facts):
            return rule_id
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: int
    away: bool
    active: bool
    last_assigned_at: datetime | None
    open_tickets: int


def pick_assignee(assignment: Assignment, members: Sequence[Candidate]) -> int | None:
    """The member to assign, or None (no assignment asked, or nobody present)."""
    present = [m for m in members if m.active and not m.away]
    if assignment is Assignment.NONE or not present:
        return None
    if assignment is Assignment.ROUND_ROBIN:
        never = [m for m in present if m.last_assigned_at is None]
        if never:
            return min(m.user_id for m in never)
        return min(present, key=lambda m: (m.last_assigned_at, m.user_id)).user_id
    return min(present, key=lambda m: (m.open_tickets, m.user_id)).user_id
