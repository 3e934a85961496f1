"""Service levels: the business-minute clock, the targets, which policy applies, the pause table.

Pure standard library. A calendar is a time zone, weekly opening hours (local
wall-clock intervals per weekday) and holidays (local dates). "Business time"
is every instant whose local wall-clock time falls in an opening interval of a
day that is not a holiday; targets count only business time. Daylight-saving
changes are exact: on a spring-forward day an interval that spans the missing
hour is an hour shorter, on a fall-back day the repeated hour counts twice (it
is worked twice), which is what a minute-by-minute count of the wall clock
gives (``tests/domain/test_sla_clock.py`` checks it against exactly that).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.domain.dates import zone_named
from app.domain.tickets import TicketStatus

MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60
MAX_SEARCH_DAYS = 3 * 366
"""How far ahead a due time is searched: a target that a calendar cannot reach in three
years (no opening hours, every day a holiday) has no due time."""
WARNING_MINUTES = 30
"""Business minutes before a due time at which ``sla_warning`` is raised (a policy may say)."""


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    """From the opening to the staff's first public reply."""
    NEXT_RESPONSE = "next_response"
    """From a customer's public reply (once answered before) to the staff's next public reply."""
    RESOLUTION = "resolution"
    """From the opening to the resolution, paused while waiting (per the policy)."""


PAUSABLE = frozenset({TicketStatus.WAITING_CUSTOMER, TicketStatus.WAITING_THIRD_PARTY})
"""The statuses a policy may list as pausing the resolution clock."""
STOPPING = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
"""Reaching one of these meets every running target (a solution is an answer too)."""


def weekday_names() -> tuple[str, ...]:
    return ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Calendar:
    """Opening hours: ``week[weekday]`` (Monday 0) lists (start, end) minutes of the local day."""

    tz: str
    week: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days")
        for day in self.week:
            last = -1
            for start, end in day:
                if not 0 <= start < end <= DAY_MINUTES or start < last:
                    raise ValueError("opening intervals must be ordered, within 00:00-24:00")
                last = end
        zone_of(self.tz)

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.tz)

    def is_open_anytime(self) -> bool:
        return any(self.week)


@lru_cache(maxsize=256)
def zone_of(name: str) -> ZoneInfo:
    found = zone_named(name)
    if found is None:
        raise ValueError(f"unknown time zone {name!r}")
    return found


def always_open(tz: str = "UTC") -> Calendar:
    return Calendar(tz, tuple(((0, DAY_MINUTES),) for _ in range(7)))


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC).replace(tzinfo=None)


def _offset(zone: ZoneInfo, naive_utc: datetime) -> timedelta:
    offset = naive_utc.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _segments(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """[lo, hi) (naive UTC) cut where the zone's offset changes (found by bisection)."""
    out: list[tuple[datetime, datetime]] = []
    start = lo
    while start < hi:
        first = _offset(zone, start)
        if _offset(zone, hi - timedelta(seconds=1)) == first:
            out.append((start, hi))
            break
        a, b = start, hi - timedelta(seconds=1)  # offset(a) == first, offset(b) != first
        while b - a > timedelta(seconds=1):
            mid = a + (b - a) / 2
            mid = mid.replace(microsecond=0)
            if mid <= a:
                break
            if _offset(zone, mid) == first:
                a = mid
            else:
                b = mid
        out.append((start, b))
        start = b
    return out


@lru_cache(maxsize=8192)
def _day_intervals(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The business intervals of one local day, as naive-UTC [start, end) pairs, in order.

    Exact across offset changes: within each stretch of constant offset ``o`` the
    instants whose wall time ``t + o`` lies in [day+s, day+e) are [day+s-o, day+e-o).
    """
    if day in calendar.holidays:
        return ()
    hours = calendar.week[day.weekday()]
    if not hours:
        return ()
    midnight = datetime.combine(day, time())
    # Every instant whose wall time is on ``day`` lies in this window (offsets are < 15 h).
    window = _segments(
        calendar.zone, midnight - timedelta(hours=15), midnight + timedelta(hours=39)
    )
    out: list[tuple[datetime, datetime]] = []
    for seg_lo, seg_hi in window:
        off = _offset(calendar.zone, seg_lo)
        for s, e in hours:
            lo = max(seg_lo, midnight + timedelta(minutes=s) - off)
            hi = min(seg_hi, midnight + timedelta(minutes=e) - off)
            if lo < hi:
                out.append((lo, hi))
    out.sort()
    return tuple(out)


def _local_date(calendar: Calendar, naive_utc: datetime) -> date:
    return naive_utc.replace(tzinfo=UTC).astimezone(calendar.zone).date()


def _intervals_from(
    calendar: Calendar, naive_start: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Business intervals (naive UTC) that end after ``naive_start``, in order, clipped to it."""
    # A day's intervals may begin before the previous local day's end (fall back): start a
    # day early and keep order by merging per day, which is already sorted by construction.
    day = _local_date(calendar, naive_start) - timedelta(days=1)
    last_end = naive_start
    for _ in range(MAX_SEARCH_DAYS + 2):
        for lo, hi in _day_intervals(calendar, day):
            lo = max(lo, last_end)
            if lo < hi:
                yield lo, hi
                last_end = hi
        day += timedelta(days=1)


def add_business_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime | None:
    """The instant at which ``minutes`` business minutes have passed since ``start``.

    ``None`` when the calendar cannot reach it within ``MAX_SEARCH_DAYS``.
    """
    if minutes <= 0:
        return start.astimezone(UTC)
    remaining = timedelta(minutes=minutes)
    for lo, hi in _intervals_from(calendar, _naive_utc(start)):
        if hi - lo >= remaining:
            return (lo + remaining).replace(tzinfo=UTC)
        remaining -= hi - lo
    return None


def business_minutes_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Business minutes in [start, end) (0 when end is not after start)."""
    a, b = _naive_utc(start), _naive_utc(end)
    if b <= a:
        return 0.0
    total = timedelta()
    for lo, hi in _intervals_from(calendar, a):
        if lo >= b:
            break
        total += min(hi, b) - lo
    return total / MINUTE


def is_business_instant(calendar: Calendar, at: datetime) -> bool:
    """Whether ``at`` is business time, by its wall clock (the definition the clock implements)."""
    local = at.astimezone(calendar.zone)
    if local.date() in calendar.holidays:
        return False
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(s <= minute < e for s, e in calendar.week[local.weekday()])


# --- one target's clock --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    """One target's clock: what has been used, and since when it runs (None: paused/stopped)."""

    target_minutes: int
    started_at: datetime
    used_minutes: float = 0.0
    running_since: datetime | None = None
    met_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.met_at is None and self.running_since is None

    def due_at(self, calendar: Calendar) -> datetime | None:
        """When the target falls due if the clock keeps running (None while paused or met)."""
        if self.met_at is not None or self.running_since is None:
            return None
        return add_business_minutes(
            calendar, self.running_since, self.target_minutes - self.used_minutes
        )

    def used_at(self, calendar: Calendar, now: datetime) -> float:
        if self.running_since is None:
            return self.used_minutes
        return self.used_minutes + business_minutes_between(calendar, self.running_since, now)


def start(target_minutes: int, at: datetime, *, paused: bool = False) -> Clock:
    return Clock(target_minutes, at, 0.0, None if paused else at)


def pause(clock: Clock, calendar: Calendar, at: datetime) -> Clock:
    if clock.running_since is None or clock.met_at is not None:
        return clock
    return replace(clock, used_minutes=clock.used_at(calendar, at), running_since=None)


def resume(clock: Clock, at: datetime) -> Clock:
    if clock.running_since is not None or clock.met_at is not None:
        return clock
    return replace(clock, running_since=at)


def meet(clock: Clock, calendar: Calendar, at: datetime) -> Clock:
    if clock.met_at is not None:
        return clock
    return replace(clock, used_minutes=clock.used_at(calendar, at), running_since=None, met_at=at)


def warning_at(calendar: Calendar, clock: Clock, warn_minutes: int) -> datetime | None:
    """When ``sla_warning`` is due: ``warn_minutes`` business minutes before the due time
    (at once if less than that is left)."""
    if clock.met_at is not None or clock.running_since is None:
        return None
    left = clock.target_minutes - clock.used_minutes - warn_minutes
    return add_business_minutes(calendar, clock.running_since, max(left, 0))


# --- which policy ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyConditions:
    """Empty means "any". A ticket matches when it matches every non-empty condition."""

    plans: frozenset[str] = field(default_factory=frozenset)
    severities: frozenset[str] = field(default_factory=frozenset)
    types: frozenset[str] = field(default_factory=frozenset)

    def matches(self, plan: str | None, severity: str, ticket_type: str) -> bool:
        if self.plans and (plan is None or plan.casefold() not in self.plans):
            return False
        if self.severities and severity not in self.severities:
            return False
        return not (self.types and ticket_type not in self.types)


def first_match(
    policies: Iterable[tuple[int, PolicyConditions]],
    plan: str | None,
    severity: str,
    ticket_type: str,
) -> int | None:
    """The id of the first policy (in the given order) whose conditions the ticket meets."""
    for policy_id, conditions in policies:
        if conditions.matches(plan, severity, ticket_type):
            return policy_id
    return None


def pauses_resolution(status: TicketStatus, pause_statuses: Sequence[str]) -> bool:
    return status.value in pause_statuses and status in PAUSABLE
