"""The backlog as a sweep line (pure): each status move is a few +1/-1 events in time.

A ticket counts in the backlog at an instant T while its status is an open one
(anything but resolved and closed): it enters at its opening (every ticket opens as
``open``) or at a move into an open status, and leaves at a move out of one — so a
ticket reopened after its resolution counts back in. The backlog at T, by status, is
the sum of the events before T.

Its age at T is ``T - opened_at``. "Open and older than N days" is a sweep line too: a
ticket's open spell [s, e) crosses the threshold at ``max(s, opened_at + N days)`` and
leaves at ``e``; writing the leaving event at ``max(e, opened_at + N days)`` instead
needs no knowledge of where the spell began, and cancels the entering one exactly when
the spell ended before the ticket became that old. So every event is known from one
status move (or the opening) alone, and the events can be summed per time slot ahead of
time: the worker's rollup does that (``services/rollups.py``, whose SQL writes these
events), and a filtered report sums the same events over the matching tickets.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from app.domain.reports import AGE_BUCKETS
from app.domain.tickets import TicketStatus

OPEN_STATUSES = tuple(
    s.value for s in TicketStatus if s not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
)
"""The statuses a ticket is in the backlog in, in the report's column order."""
STATUS_KEYS = {status: f"d_{status}" for status in OPEN_STATUSES}
AGE_KEYS: tuple[tuple[str, timedelta], ...] = tuple(
    (f"d_age_{int(bound)}d", timedelta(days=bound))
    for _, bound in AGE_BUCKETS
    if bound != float("inf")
)
"""Per threshold of the age buckets (1, 3, 7, 30 days): the key of "open and older"."""
KEYS = (*STATUS_KEYS.values(), *(key for key, _ in AGE_KEYS))
SLOT = timedelta(minutes=15)
"""Every zone's offsets are whole quarter-hours: a slot never straddles two local periods."""
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def slot_of(at: datetime) -> datetime:
    """The start of the quarter-hour (UTC) holding ``at``."""
    return at - (at - _EPOCH) % SLOT


def age_columns(open_by_status: Counter[str] | dict[str, int]) -> dict[str, int]:
    """The report's columns from summed events: ``open``, ``status_<s>``, the age buckets."""
    total = sum(open_by_status.get(key, 0) for key in STATUS_KEYS.values())
    older = [total, *(open_by_status.get(key, 0) for key, _ in AGE_KEYS)]
    out = {"open": total}
    for i, (label, _) in enumerate(AGE_BUCKETS):
        out[label] = older[i] - (older[i + 1] if i + 1 < len(older) else 0)
    for status, key in STATUS_KEYS.items():
        out[f"status_{status}"] = open_by_status.get(key, 0)
    return out
