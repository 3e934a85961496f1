"""Days and time zones: where a plain date given by a user starts.

A filter such as ``created_after=2026-02-01`` means the start of that day
where the caller lives (their profile's ``time_zone``), not in UTC: for a
user in Rome it is ``2026-01-31T23:00:00Z``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.domain.access import Locale

DEFAULT_TIME_ZONES = {Locale.IT: "Europe/Rome", Locale.ES: "Europe/Madrid", Locale.EN: "UTC"}
"""A new user's time zone, by their language, until they set their own."""


def is_time_zone(name: str) -> bool:
    """An IANA time zone name (``Europe/Rome``, ``UTC``), not a path or an abbreviation."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return name in available_timezones() or name == "UTC"


def start_of_day(day: date, time_zone: str) -> datetime:
    """Midnight of ``day`` in ``time_zone``, in UTC (an unknown zone counts as UTC).

    Midnight of 0001-01-01 east of Greenwich is before the first instant Python holds: it is
    that first instant (nothing happened before either)."""
    try:
        zone: ZoneInfo | None = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    local = datetime.combine(day, time.min, tzinfo=zone or UTC)
    try:
        return local.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)
