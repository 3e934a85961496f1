"""The period (day, week from Monday, month) of a timestamp in a time zone, per dialect.

PostgreSQL converts with ``AT TIME ZONE`` and truncates with ``date_trunc``.
SQLite has no zones: the zone's offsets over the report's range (a handful of
transitions, computed by :func:`app.domain.reports.offsets`) become a CASE that
shifts the UTC value, then SQLite's date modifiers find the period's first day.
Both give the period's first day as ``YYYY-MM-DD`` text.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, case, cast, func, literal, literal_column

from app.domain.reports import Group, Window, offsets

_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


def _modifier(seconds: int) -> str:
    return f"{seconds:+d} seconds"


def bucket(dialect: str, column: ColumnElement[Any] | Any, w: Window) -> ColumnElement[str]:
    """The first day of the period holding ``column``'s instant, in the window's zone."""
    if dialect == "sqlite":
        table = offsets(w.tz, w.start, w.end)
        shift: ColumnElement[str]
        if len(table) == 1:
            shift = literal(_modifier(table[0][1]), String)
        else:
            whens = [
                (column < table[i + 1][0], literal(_modifier(off), String))
                for i, (_, off) in enumerate(table[:-1])
            ]
            shift = case(*whens, else_=literal(_modifier(table[-1][1]), String))
        if w.group is Group.DAY:
            return func.date(column, shift)
        if w.group is Group.WEEK:
            return func.date(column, shift, "weekday 0", "-6 days")
        return func.date(column, shift, "start of month")
    name = w.tz.key
    if not _ZONE_NAME.fullmatch(name):  # validated already; never let it reach the SQL otherwise
        raise ValueError("bad zone name")
    # Written into the statement (not bound) so that SELECT and GROUP BY are the same expression.
    local = func.timezone(literal_column(f"'{name}'"), column)
    truncated = func.date_trunc(literal_column(f"'{w.group.value}'"), local)
    return cast(func.to_char(truncated, literal_column("'YYYY-MM-DD'")), String)


def slot(dialect: str, column: ColumnElement[Any] | Any, w: Window) -> ColumnElement[Any]:
    """A cheaper key for counts: on PostgreSQL the UTC slot (an hour, or 15 minutes where the
    zone's offset is not whole hours) holding the instant, that the caller maps to its period
    with :func:`app.domain.reports.local_bucket` and sums (every zone's offsets are whole
    quarter-hours, so a slot never straddles two periods); on SQLite, the period itself.

    Converting a million timestamps to a zone costs PostgreSQL more than counting them: the
    few thousand slots of a year are converted in Python instead.
    """
    if dialect == "sqlite":
        return bucket(dialect, column, w)
    whole_hours = all(off % 3600 == 0 for _, off in offsets(w.tz, w.start, w.end))
    minutes = 60 if whole_hours else 15
    return func.date_bin(
        literal_column(f"interval '{minutes} minutes'"),
        column,
        literal_column("timestamptz '2000-01-01 00:00:00+00'"),
    )


def quarter_hour(dialect: str, column: ColumnElement[Any] | Any) -> ColumnElement[Any]:
    """The start of the UTC quarter-hour holding the instant (the rollup's slot)."""
    if dialect == "sqlite":
        minute = cast(func.strftime("%M", column), Integer) // 15 * 15
        return func.strftime("%Y-%m-%d %H:", column).concat(func.printf("%02d:00.000000", minute))
    return func.date_bin(
        literal_column("interval '15 minutes'"),
        column,
        literal_column("timestamptz '2000-01-01 00:00:00+00'"),
    )


def plus_days(dialect: str, column: ColumnElement[Any] | Any, days: int) -> ColumnElement[Any]:
    """The instant ``days`` later. On SQLite in the stored text form (to the millisecond), so
    that it compares with stored values and bound parameters as text."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{int(days)} days").concat("000")
    return column + literal_column(f"interval '{int(days)} days'")


def later(dialect: str, a: ColumnElement[Any] | Any, b: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two instants."""
    if dialect == "sqlite":
        return func.max(a, b)
    return func.greatest(a, b)
