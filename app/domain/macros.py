"""What a canned reply's placeholders may name, which body a ticket's language picks, and
what a macro may do."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.tickets import TicketStatus, Visibility

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "customer": frozenset({"name", "code"}),
    "ticket": frozenset({"number", "subject", "status", "type", "severity"}),
    "agent": frozenset({"name", "email"}),
    "contact": frozenset({"name", "email", "phone"}),
}
"""The objects a body may use and their fields, as in ``{{ customer.name }}``."""

FILTERS = frozenset(
    {
        "capitalize",
        "d",
        "default",
        "e",
        "escape",
        "first",
        "last",
        "length",
        "lower",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "wordcount",
    }
)
"""The filters a body may use: those that never make a text longer than a few times what
they are given (``format``, ``center``, ``indent``, ``replace``, ``wordwrap`` can make a
gigabyte from a short body, and the sandbox bounds no string's size)."""

MAX_RENDERED = 20_000
"""A rendered body is a reply: at most as long as one the API takes."""

FALLBACK = ("en", "it", "es")


def body_for(bodies: Mapping[str, str], locale: str) -> str | None:
    """The body in ``locale``, else in English, else in any language given."""
    for candidate in (locale, *FALLBACK):
        if bodies.get(candidate):
            return bodies[candidate]
    return next(iter(bodies.values()), None)


def resolution_refusal(set_status: TicketStatus | None, visibility: Visibility) -> str | None:
    """Why a macro may not make its move, or None. A macro that resolves gives its body as the
    solution, which is the customer's to read (ticket, timeline, mail, status page): an
    internal note is never one."""
    if set_status is TicketStatus.RESOLVED and visibility is not Visibility.PUBLIC:
        return "An internal macro cannot resolve a ticket: the solution would be its note."
    return None
