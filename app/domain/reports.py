"""Reports: periods, buckets, percentiles and the age buckets of the backlog (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.dates import zone_named
from app.domain.errors import InvalidInput

MAX_RANGE_DAYS = 3 * 366
"""A report covers at most about three years."""
TOP_LIMIT = 10


class Group(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Rating(StrEnum):
    """The answer to "How did we do?"."""

    GOOD = "good"
    BAD = "bad"


class Target(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("lt_1d", 1.0),
    ("1_3d", 3.0),
    ("3_7d", 7.0),
    ("7_30d", 30.0),
    ("gte_30d", math.inf),
)
"""Backlog age buckets: label and upper bound in days (exclusive)."""


def age_bucket(days: float) -> str:
    for label, bound in AGE_BUCKETS:
        if days < bound:
            return label
    return AGE_BUCKETS[-1][0]


def zone(name: str) -> ZoneInfo:
    """An IANA zone, or a 422."""
    found = zone_named(name)
    if found is None:
        raise InvalidInput(f"Unknown time zone {name!r}.", ("query", "tz"))
    return found


@dataclass(frozen=True, slots=True)
class Window:
    """The report's local dates [first, last] in ``tz``, and the UTC instants that bound them."""

    first: date
    last: date
    group: Group
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.tz)


FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
"""The dates a report may cover: at the calendar's very edges a day's midnight in another
zone, or the end of its period, is not a date Python can hold."""


def window(first: date, last: date, group: Group, tz: str) -> Window:
    if first < FIRST_DAY:
        raise InvalidInput(f"'from' must be on or after {FIRST_DAY}.", ("query", "from"))
    if last > LAST_DAY:
        raise InvalidInput(f"'to' must be on or before {LAST_DAY}.", ("query", "to"))
    if last < first:
        raise InvalidInput("'to' is before 'from'.", ("query", "to"))
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"A report covers at most {MAX_RANGE_DAYS} days.", ("query", "to"))
    return Window(first, last, group, zone(tz))


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def bucket_of(day: date, group: Group) -> date:
    """The first day of the period holding ``day`` (weeks start on Monday)."""
    if group is Group.DAY:
        return day
    if group is Group.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: date, group: Group) -> date:
    if group is Group.DAY:
        return start + timedelta(days=1)
    if group is Group.WEEK:
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def periods(w: Window) -> list[date]:
    """Every period's first day, from the one holding ``first`` to the one holding ``last``."""
    out = []
    cur = bucket_of(w.first, w.group)
    while cur <= w.last:
        out.append(cur)
        cur = next_bucket(cur, w.group)
    return out


def local_bucket(at: datetime, w: Window) -> date:
    """The period of an instant, in the report's zone."""
    return bucket_of(at.astimezone(w.tz).date(), w.group)


def period_end(start: date, w: Window) -> datetime:
    """The instant a period ends (clipped to the report's end)."""
    return min(local_midnight(next_bucket(start, w.group), w.tz), w.end)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    pos = (len(values) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def offsets(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets (seconds) over [start, end): (from this UTC instant, offset).

    The first entry starts at ``start``; one more per transition (found hour by hour,
    then to the minute), so a database without zones can convert with a short CASE.
    """

    def off(at: datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    out = [(start, off(start))]
    cur = start
    step = timedelta(hours=1)
    while cur < end:
        nxt = cur + step
        if off(nxt) != out[-1][1]:
            lo, hi = cur, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if off(mid) == out[-1][1]:
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(second=0, microsecond=0)
            out.append((hi, off(nxt)))
        cur = nxt
    return out
