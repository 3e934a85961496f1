"""Reports: the answer's shape (flat rows, the same as the CSV's lines)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from app.api.schemas.common import Output


class ReportRead(Output):
    report: str
    from_: date = Field(serialization_alias="from")
    to: date
    group: str
    tz: str
    columns: list[str]
    rows: list[dict[str, Any]]
