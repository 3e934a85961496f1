"""Days and time zones: where a plain date given by a user starts.

A filter such as ``created_after=2026-02-01`` means the start of that day
where the caller lives (their profile's ``time_zone``), not in UTC: for a
user in Rome it is ``2026-01-31T23:00:00Z``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.domain.access import Locale

DEFAULT_TIME_ZONES = {Locale.IT: "Europe/Rome", Locale.ES: "Europe/Madrid", Locale.EN: "UTC"}
"""A new user's time zone, by their language, until they set their own."""


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the database's folders on every call: read it once.
    return frozenset(available_timezones()) | {"UTC"}


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA time zone called ``name`` (``Europe/Rome``, ``UTC``), or None.

    Every zone name a client gives (a profile, a report, a calendar) is opened here.
    ``ZoneInfo`` raises IsADirectoryError, an OSError, for a folder of the database
    (``Europe``, ``America/Argentina``): caught here, like an unknown name, where callers
    expected only ZoneInfoNotFoundError or ValueError and answered a 500 instead of a 422.
    """
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def is_time_zone(name: str) -> bool:
    """An IANA time zone name (``Europe/Rome``, ``UTC``), not a path, a folder or an
    abbreviation."""
    return zone_named(name) is not None and name in _known_zones()


def start_of_day(day: date, time_zone: str) -> datetime:
    """Midnight of ``day`` in ``time_zone``, in UTC (an unknown zone counts as UTC).

    Midnight of 0001-01-01 east of Greenwich is before the first instant Python holds: it is
    that first instant (nothing happened before either)."""
    zone = zone_named(time_zone)
    local = datetime.combine(day, time.min, tzinfo=zone or UTC)
    try:
        return local.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)
