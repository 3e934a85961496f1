"""E-mail notifications: which mails a ticket event causes, and how failed deliveries are retried.

The contract's table of events is :func:`plan`: a pure function of the event and
a few facts about the ticket, so every row of the table is tested without a
database or a mail server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.tickets import TicketStatus


class NotificationKind(StrEnum):
    CONFIRMATION = "confirmation"
    """To the contact: the ticket was received (number, summary, public status link)."""
    NEW_TICKET = "new_ticket"
    """To the support desk: a ticket arrived."""
    STATUS_CHANGED = "status_changed"
    """To the contact: old -> new status, and the solution when resolved."""
    AGENT_REPLY = "agent_reply"
    """To the contact: the support's public answer."""
    CUSTOMER_REPLY = "customer_reply"
    """To the assignee, else the desk: the customer answered."""
    REOPENED = "reopened"
    """To the assignee, else the desk: the customer reopened a resolved ticket."""
    CLOSED = "closed"
    """To the assignee, else the desk: the customer closed (or withdrew) the ticket."""
    EMAIL_CHANGE = "email_change"
    """To a user's new address: the link that confirms it (no ticket)."""
    SLA_WARNING = "sla_warning"
    """To the assignee, else the team, else the desk: an SLA target falls due soon."""
    SLA_BREACHED = "sla_breached"
    """To the assignee, else the team, else the desk: an SLA target was missed."""
    SATISFACTION_BAD = "satisfaction_bad"
    """To the team, else the desk: a customer rated a resolved ticket "bad"."""


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Audience(StrEnum):
    CONTACT = "contact"
    """The ticket's contact e-mail, in the customer's language."""
    STAFF = "staff"
    """The assignee (in their own language), else the support desk address."""
    DESK = "desk"
    """The support desk address."""


@dataclass(frozen=True, slots=True)
class Planned:
    kind: NotificationKind
    audience: Audience


def plan_opened() -> list[Planned]:
    return [
        Planned(NotificationKind.CONFIRMATION, Audience.CONTACT),
        Planned(NotificationKind.NEW_TICKET, Audience.DESK),
    ]


def plan_status_changed(
    from_status: TicketStatus, to_status: TicketStatus, by_customer: bool, with_reply: bool
) -> list[Planned]:
    """Every change is told to the contact, whoever made it (the seeds' "e-mail on every
    status change", the customer's own reopen and withdrawal included). A customer's
    reopen is told to the staff too, unless it came with a reply, whose mail says it."""
    planned = [Planned(NotificationKind.STATUS_CHANGED, Audience.CONTACT)]
    reopened = from_status is TicketStatus.RESOLVED and to_status is TicketStatus.OPEN
    if reopened and by_customer and not with_reply:
        planned.append(Planned(NotificationKind.REOPENED, Audience.STAFF))
    # A customer closing a ticket (accepting a solution, or withdrawing a ticket still in work)
    # is told to whoever holds it, else the desk, as a reply of theirs would be.
    if by_customer and to_status is TicketStatus.CLOSED:
        planned.append(Planned(NotificationKind.CLOSED, Audience.STAFF))
    return planned


def plan_reply(public: bool, by_customer: bool) -> list[Planned]:
    """An internal note notifies nobody; a public answer goes the other way round."""
    if not public:
        return []
    if by_customer:
        return [Planned(NotificationKind.CUSTOMER_REPLY, Audience.STAFF)]
    return [Planned(NotificationKind.AGENT_REPLY, Audience.CONTACT)]


# --- delivery ------------------------------------------------------------------------------


def retry_delay(attempts: int, base_seconds: float, cap_seconds: float) -> timedelta:
    """Exponential backoff: ``base * 2**(attempts-1)``, never more than ``cap``."""
    exponent = min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(base_seconds * 2**exponent, cap_seconds))


@dataclass(frozen=True, slots=True)
class Settlement:
    status: NotificationStatus
    next_attempt_at: datetime | None


def settle_failure(
    *,
    attempts: int,
    max_attempts: int,
    server_unavailable: bool,
    now: datetime,
    base_seconds: float,
    cap_seconds: float,
) -> Settlement:
    """What a failed try leaves behind.

    A mail the server refused (or that could not be built) is retried until
    ``max_attempts`` tries, then given up as ``failed`` for an admin to see and
    retry. A server that could not be reached at all says nothing about the mail:
    it is retried at the capped backoff for as long as the outage lasts, so an
    outage of any length delays mail and loses none.
    """
    if not server_unavailable and attempts >= max_attempts:
        return Settlement(NotificationStatus.FAILED, None)
    return Settlement(
        NotificationStatus.QUEUED, now + retry_delay(attempts, base_seconds, cap_seconds)
    )


def summary(text: str, limit: int = 600) -> str:
    """The start of a long text, cut at a word, for the body of a mail."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(None, 1)[0]
    return cut + " …"
