"""Keyset pagination with opaque cursors.

A cursor is the sort key of the last row of a page, base64url-encoded JSON. The
next page is "rows strictly after that key", so rows added meanwhile neither
shift nor repeat a page, and a deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.domain.errors import BadRequest

T = TypeVar("T")

MAX_CURSOR_LENGTH = 512
MAX_ID = 2**31 - 1
"""The largest id an INTEGER column holds (32-bit on PostgreSQL): a bigger one names no row,
and sending it to the database is an error there (and past 2**63 on SQLite), not an empty result."""


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor`; anything else is a 400."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadRequest("The cursor is not valid.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid.") from None
    if not isinstance(key, list):
        raise BadRequest("The cursor is not valid.")
    return key


def decode_id_cursor(cursor: str) -> int:
    """The last id of the previous page, from a cursor of an id-ordered list (else 400)."""
    key = decode_cursor(cursor)
    if (
        len(key) != 1
        or not isinstance(key[0], int)
        or isinstance(key[0], bool)
        or not 0 <= key[0] <= MAX_ID
    ):
        raise BadRequest("The cursor is not valid.")
    return key[0]


async def page_by_id(
    session: AsyncSession,
    stmt: Select[T],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of ``stmt`` in ascending id order."""
    if cursor is not None:
        stmt = stmt.where(id_column > decode_id_cursor(cursor))
    rows = list((await session.scalars(stmt.order_by(id_column).limit(limit + 1))).all())
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return rows, encode_cursor([getattr(last, id_column.key)])
    return rows, None


async def ranked_page(
    session: AsyncSession,
    stmt: Select[Any],
    score: ColumnElement[float],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (an entity, ..., ``score`` last), best first, keyset on (score, id).

    The cursor is the last row's (score, id): the next page is what ranks strictly
    after it, so a deep page costs what the first does.
    """
    if cursor is not None:
        last_score, last_id = _score_key(decode_cursor(cursor))
        stmt = stmt.where(or_(score < last_score, and_(score == last_score, id_column > last_id)))
    rows = list(
        (await session.execute(stmt.order_by(score.desc(), id_column).limit(limit + 1))).all()
    )
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return rows, encode_cursor(["score", float(last[-1]), getattr(last[0], id_column.key)])
    return rows, None


def _score_key(key: list[Any]) -> tuple[float, int]:
    """A (score, id) cursor; one of another kind of page is a 400."""
    if (
        len(key) == 3
        and key[0] == "score"
        and isinstance(key[1], int | float)
        and not isinstance(key[1], bool)
        and math.isfinite(key[1])
        and isinstance(key[2], int)
        and not isinstance(key[2], bool)
        and 0 <= key[2] <= MAX_ID
    ):
        return float(key[1]), key[2]
    raise BadRequest("The cursor is not valid for this search.")
