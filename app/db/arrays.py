"""A short list of strings as one column of a row, per dialect.

A correlated subquery gathers them: PostgreSQL's ``array(SELECT ... ORDER BY ...)`` keeps the
subquery's order; SQLite's ``json_group_array`` has none of its own, so the values come back
sorted by :func:`values_of` (SQLite compares text by code point, as Python does).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute


def sorted_strings(
    dialect: str, column: ColumnElement[str] | InstrumentedAttribute[str], stmt: Select[Any]
) -> ColumnElement[Any]:
    """``column``'s values over ``stmt`` (its joins and conditions, correlated to the outer
    query), in ``column``'s order, as one column; read it with :func:`values_of`."""
    if dialect == "postgresql":
        return func.array(
            stmt.with_only_columns(column).order_by(column).scalar_subquery(), type_=ARRAY(String)
        )
    return stmt.with_only_columns(func.json_group_array(column)).scalar_subquery()


def values_of(dialect: str, value: Any) -> list[str]:
    if dialect == "postgresql":
        return list(value or [])
    return sorted(json.loads(value)) if value else []
