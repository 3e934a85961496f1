"""Tickets: their kinds, their statuses and the one table of moves between statuses.

The table below is the whole state machine. The API's 409 (with ``allowed``),
a ticket's ``allowed_transitions``, ``/meta/statuses`` and the periodic job all
read it; nothing else decides whether a move is legal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from app.domain.access import Actor, Role
from app.domain.errors import IllegalTransition, InvalidInput


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_THIRD_PARTY = "waiting_third_party"
    IMPROVEMENT = "improvement"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketType(StrEnum):
    ADMINISTRATIVE = "administrative"
    COMMERCIAL = "commercial"
    TECHNICAL = "technical"
    ORDER = "order"


class Severity(StrEnum):
    NORMAL = "normal"
    BLOCKING = "blocking"


class ContactChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class Mover(StrEnum):
    """Who makes a move: a customer, an agent (admins and API keys act as agents), the system."""

    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


S = TicketStatus
C, A, SYS = Mover.CUSTOMER, Mover.AGENT, Mover.SYSTEM

MOVES: dict[tuple[TicketStatus, TicketStatus], frozenset[Mover]] = {
    (S.OPEN, S.IN_PROGRESS): frozenset({A}),
    (S.OPEN, S.WAITING_CUSTOMER): frozenset({A}),
    (S.IN_PROGRESS, S.WAITING_CUSTOMER): frozenset({A}),
    (S.IN_PROGRESS, S.WAITING_THIRD_PARTY): frozenset({A}),
    (S.IN_PROGRESS, S.IMPROVEMENT): frozenset({A}),
    (S.WAITING_CUSTOMER, S.IN_PROGRESS): frozenset({A}),
    (S.WAITING_THIRD_PARTY, S.IN_PROGRESS): frozenset({A}),
    (S.IMPROVEMENT, S.IN_PROGRESS): frozenset({A}),
    (S.OPEN, S.RESOLVED): frozenset({A}),
    (S.IN_PROGRESS, S.RESOLVED): frozenset({A}),
    (S.WAITING_CUSTOMER, S.RESOLVED): frozenset({A, SYS}),
    (S.WAITING_THIRD_PARTY, S.RESOLVED): frozenset({A}),
    (S.IMPROVEMENT, S.RESOLVED): frozenset({A}),
    (S.RESOLVED, S.OPEN): frozenset({C}),
    (S.RESOLVED, S.IN_PROGRESS): frozenset({A}),
    (S.RESOLVED, S.CLOSED): frozenset({C, A, SYS}),
    (S.OPEN, S.CLOSED): frozenset({C, A}),
    (S.IN_PROGRESS, S.CLOSED): frozenset({C, A}),
    (S.WAITING_CUSTOMER, S.CLOSED): frozenset({C, A}),
    (S.WAITING_THIRD_PARTY, S.CLOSED): frozenset({C, A}),
    (S.IMPROVEMENT, S.CLOSED): frozenset({C, A}),
}
"""(from, to) -> who may make the move. ``closed`` has no way out."""

# What a customer's public reply does by itself (the reply is the customer's move).
REPLY_MOVES: dict[TicketStatus, TicketStatus] = {
    S.WAITING_CUSTOMER: S.IN_PROGRESS,
    S.RESOLVED: S.OPEN,
}

LACK_OF_RESPONSE = {
    "it": "Chiuso per mancanza di risposta.",
    "es": "Cerrado por falta de respuesta.",
    "en": "Closed for lack of response.",
}

LABELS: dict[str, dict[TicketStatus, str]] = {
    "it": {
        S.OPEN: "Aperto",
        S.IN_PROGRESS: "In lavorazione",
        S.WAITING_CUSTOMER: "In attesa del cliente",
        S.WAITING_THIRD_PARTY: "In attesa di terzi",
        S.IMPROVEMENT: "Richiesta di miglioria",
        S.RESOLVED: "Risolto",
        S.CLOSED: "Chiuso",
    },
    "es": {
        S.OPEN: "Abierto",
        S.IN_PROGRESS: "En curso",
        S.WAITING_CUSTOMER: "En espera del cliente",
        S.WAITING_THIRD_PARTY: "En espera de terceros",
        S.IMPROVEMENT: "Solicitud de mejora",
        S.RESOLVED: "Resuelto",
        S.CLOSED: "Cerrado",
    },
    "en": {
        S.OPEN: "Open",
        S.IN_PROGRESS: "In progress",
        S.WAITING_CUSTOMER: "Waiting for the customer",
        S.WAITING_THIRD_PARTY: "Waiting for a third party",
        S.IMPROVEMENT: "Improvement request",
        S.RESOLVED: "Resolved",
        S.CLOSED: "Closed",
    },
}


def label(status: TicketStatus, lang: str) -> str:
    return LABELS.get(lang, LABELS["en"])[status]


def mover_of(actor: Actor) -> Mover:
    return Mover.CUSTOMER if actor.role is Role.CUSTOMER else Mover.AGENT


def allowed_moves(current: TicketStatus, mover: Mover) -> list[TicketStatus]:
    """The statuses ``mover`` may move a ticket in ``current`` to, in the table's order."""
    return [to for (frm, to), movers in MOVES.items() if frm is current and mover in movers]


@dataclass(frozen=True, slots=True)
class TicketState:
    """The part of a ticket the state machine governs."""

    status: TicketStatus
    solution: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


def transition(
    state: TicketState,
    to: TicketStatus,
    mover: Mover,
    now: datetime,
    solution: str | None = None,
) -> TicketState:
    """Move a ticket, or raise :class:`IllegalTransition` with the moves that are allowed.

    A move to ``resolved`` needs a non-blank solution (it replaces any earlier
    one). ``resolved_at`` is the time of the last resolution and is cleared when
    the ticket is taken up again; ``closed_at`` is set when, and only when, the
    ticket is closed.
    """
    if mover not in MOVES.get((state.status, to), frozenset()):
        allowed = allowed_moves(state.status, mover)
        raise IllegalTransition(
            f"{mover.value.capitalize()} cannot move a ticket from {state.status.value!r} "
            f"to {to.value!r}.",
            allowed=[s.value for s in allowed],
        )
    if to is TicketStatus.RESOLVED:
        if solution is None or not solution.strip():
            raise InvalidInput("A solution is required to resolve a ticket.", ["body", "solution"])
        return replace(state, status=to, solution=solution.strip(), resolved_at=now)
    if to is TicketStatus.CLOSED:
        return replace(state, status=to, closed_at=now)
    # Back to work: the earlier solution is no longer the current one (the timeline keeps
    # it, on the event of the resolution), and the resolution time goes.
    if state.status is TicketStatus.RESOLVED:
        return replace(state, status=to, resolved_at=None, solution=None)
    return replace(state, status=to, resolved_at=None)


def after_reply(state: TicketState, mover: Mover, visibility: Visibility) -> TicketState | None:
    """The move a reply makes by itself, if any: a customer's public reply wakes the ticket
    (waiting for the customer -> in progress; resolved -> open, a reopening)."""
    if mover is not Mover.CUSTOMER or visibility is not Visibility.PUBLIC:
        return None
    to = REPLY_MOVES.get(state.status)
    if to is None:
        return None
    return replace(state, status=to, resolved_at=None, solution=None)


def can_follow_up(status: TicketStatus) -> bool:
    return status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)


def can_reply(status: TicketStatus) -> bool:
    return status is not TicketStatus.CLOSED
