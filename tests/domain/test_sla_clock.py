"""The business-minute clock against a brute-force count of the wall clock, minute by minute.

The reference knows nothing of intervals or offsets: it steps through UTC minutes and
asks, for each, whether its local wall time is open on a day that is not a holiday.
Time zones with daylight saving (Rome, Madrid, New York) and dates around the changes
are drawn on purpose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.domain.sla import (
    Calendar,
    PolicyConditions,
    add_business_minutes,
    business_minutes_between,
    first_match,
    is_business_instant,
    meet,
    pause,
    resume,
    start,
)

MINUTE = timedelta(minutes=1)
ZONES = ["Europe/Rome", "Europe/Madrid", "America/New_York", "UTC", "Asia/Kolkata"]
# Around the 2026 and 2027 daylight-saving changes in Europe and the United States.
ANCHORS = [
    datetime(2026, 3, 27, tzinfo=UTC),
    datetime(2026, 10, 23, tzinfo=UTC),
    datetime(2026, 3, 6, tzinfo=UTC),
    datetime(2026, 10, 30, tzinfo=UTC),
    datetime(2027, 3, 26, tzinfo=UTC),
    datetime(2026, 12, 22, tzinfo=UTC),
]


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    # Boundaries on quarter hours, 0-24 h, including ones inside the DST gap (02:00-03:00).
    points = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
    if len(points) % 2:
        points = points[:-1]
    return tuple((points[i] * 15, points[i + 1] * 15) for i in range(0, len(points), 2))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    week = tuple(draw(day_hours()) for _ in range(7))
    assume(sum(e - s for day in week for s, e in day) >= 6 * 60)
    anchor = draw(st.sampled_from(ANCHORS))
    holidays = draw(
        st.frozensets(st.integers(0, 20).map(lambda n: (anchor + n * timedelta(days=1)).date()))
    )
    return Calendar(draw(st.sampled_from(ZONES)), week, holidays)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    anchor = draw(st.sampled_from(ANCHORS))
    return anchor + draw(st.integers(0, 9 * 24 * 60)) * MINUTE


def reference_due(
    cal: Calendar, at: datetime, minutes: int, paused: tuple[tuple[datetime, datetime], ...] = ()
) -> datetime:
    if minutes == 0:
        return at
    count = 0
    t = at
    for _ in range(60 * 24 * 60):
        if is_business_instant(cal, t) and not any(a <= t < b for a, b in paused):
            count += 1
            if count == minutes:
                return t + MINUTE
        t += MINUTE
    raise AssertionError("not reached in 60 days")


def reference_between(cal: Calendar, a: datetime, b: datetime) -> int:
    count, t = 0, a
    while t < b:
        count += is_business_instant(cal, t)
        t += MINUTE
    return count


@settings(max_examples=80, deadline=None)
@given(cal=calendars(), at=instants(), minutes=st.integers(0, 1500))
def test_due_time_equals_the_minute_by_minute_count(
    cal: Calendar, at: datetime, minutes: int
) -> None:
    assert add_business_minutes(cal, at, minutes) == reference_due(cal, at, minutes)


@settings(max_examples=80, deadline=None)
@given(cal=calendars(), at=instants(), length=st.integers(0, 5 * 24 * 60))
def test_minutes_between_equal_the_minute_by_minute_count(
    cal: Calendar, at: datetime, length: int
) -> None:
    end = at + length * MINUTE
    assert business_minutes_between(cal, at, end) == reference_between(cal, at, end)


@settings(max_examples=60, deadline=None)
@given(
    cal=calendars(),
    at=instants(),
    minutes=st.integers(1, 1200),
    gaps=st.lists(st.integers(1, 2 * 24 * 60), min_size=0, max_size=6),
)
def test_pauses_stop_the_clock(cal: Calendar, at: datetime, minutes: int, gaps: list[int]) -> None:
    """Pause and resume at drawn times; the due time skips exactly the paused business minutes."""
    marks: list[datetime] = []
    t = at
    for gap in gaps[: len(gaps) // 2 * 2]:
        t += gap * MINUTE
        marks.append(t)
    windows = [(marks[i], marks[i + 1]) for i in range(0, len(marks), 2)]
    due = reference_due(cal, at, minutes, tuple(windows))
    assume(not marks or due > marks[-1])
    clock = start(minutes, at)
    for lo, hi in windows:
        clock = pause(clock, cal, lo)
        assert clock.paused and clock.due_at(cal) is None
        clock = resume(clock, hi)
    assert clock.due_at(cal) == due
    met = meet(clock, cal, due)
    assert met.used_minutes == pytest.approx(minutes)


ROME = Calendar(
    "Europe/Rome",
    (((540, 780), (840, 1080)),) * 5 + ((), ()),
    frozenset({date(2026, 12, 8), date(2026, 12, 25), date(2026, 12, 26)}),
)


def test_the_worked_example_premium_blocking_friday_evening() -> None:
    """Premium answers a blocking ticket within an hour of office time: opened Friday at 17:30
    in Rome, half an hour is left that day, the rest is Monday 09:00-09:30."""
    opened = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # Friday 17:30 in Rome
    assert add_business_minutes(ROME, opened, 60) == datetime(2026, 11, 30, 8, 30, tzinfo=UTC)


def test_holidays_and_the_lunch_break_are_skipped() -> None:
    # Monday 7 December, 12:30 in Rome; the 8th is a holiday; 4 hours left.
    at = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
    # 30 minutes before lunch, then 14:00-17:30: due at 17:30 local the same day.
    assert add_business_minutes(ROME, at, 240) == datetime(2026, 12, 7, 16, 30, tzinfo=UTC)
    # 270 minutes fill the day; the 271st is on Wednesday (the 8th is a holiday) at 09:00.
    assert add_business_minutes(ROME, at, 271) == datetime(2026, 12, 9, 8, 1, tzinfo=UTC)


def test_a_calendar_never_open_has_no_due_time() -> None:
    closed = Calendar("Europe/Rome", ((),) * 7)
    assert add_business_minutes(closed, datetime(2026, 1, 1, tzinfo=UTC), 10) is None


def test_policies_match_in_order_and_empty_means_any() -> None:
    premium_blocking = PolicyConditions(frozenset({"premium"}), frozenset({"blocking"}))
    anything = PolicyConditions()
    policies = [(1, premium_blocking), (2, anything)]
    assert first_match(policies, "Premium", "blocking", "technical") == 1
    assert first_match(policies, "Premium", "normal", "technical") == 2
    assert first_match(policies, None, "blocking", "technical") == 2
    assert first_match(policies[:1], "Base", "blocking", "technical") is None


@pytest.mark.parametrize("bad", [((0, 1441),), ((600, 540),), ((540, 600), (560, 700))])
def test_bad_opening_hours_are_refused(bad: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError):
        Calendar("Europe/Rome", (bad,) + ((),) * 6)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError):
        Calendar("Mars/Olympus", ((),) * 7)


def test_the_worked_example_resolution_pause_and_holiday() -> None:
    opened = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # Friday 17:30 in Rome
    assert add_business_minutes(ROME, opened, 480) == datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    # Waiting for the customer from Monday 10:00 to Tuesday 11:00: 90 minutes used by then.
    clock = pause(start(480, opened), ROME, datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert clock.used_minutes == 90 and clock.due_at(ROME) is None
    clock = resume(clock, datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    assert clock.due_at(ROME) == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    # Opened Monday 7 December at 17:30: the 8th is a holiday.
    monday = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)
    assert add_business_minutes(ROME, monday, 60) == datetime(2026, 12, 9, 8, 30, tzinfo=UTC)
