"""Paging parameters of the timelines (events, replies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

TimelineLimit = Annotated[
    int,
    Query(
        ge=1,
        le=100,
        description="Page size, 1-100 (default 100: most tickets' whole timeline in one page).",
    ),
]
