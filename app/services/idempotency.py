"""Idempotency-Key: a retried creating request gets the first answer and creates nothing.

One mechanism for every creating POST. A key belongs to its caller (a user or an API key) and
is bound to the request it came with (method, path and body, hashed): the same key with
another request is refused (422), as for tickets from the start. Ticket creation keeps the
ticket's id and answers a retry by reading that ticket again (``services/tickets/opening.py``);
every other creation stores its answer (status, JSON body, ``Location``) in the same row, in
the same transaction as what it created, and a retry gets that answer back as it was.

Two identical requests racing each other: the second one's insert of the key waits on the
unique index, fails when the first commits, its savepoint rolls back everything it made, and
it answers with the first one's stored answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import IdempotencyKey
from app.domain.access import Actor
from app.domain.errors import InvalidInput


def owner(actor: Actor) -> str:
    return f"k:{actor.api_key_id}" if actor.api_key_id is not None else f"u:{actor.user_id}"


def request_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find(
    session: AsyncSession, actor: Actor, key: str, body_hash: str
) -> IdempotencyKey | None:
    """The key's first request, if any; the same key with another request is a 422."""
    row = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.owner == owner(actor), IdempotencyKey.key == key
        )
    )
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise InvalidInput(
            "This Idempotency-Key was used with another request body.",
            ["header", "Idempotency-Key"],
        )
    return row


def remember_ticket(
    session: AsyncSession, actor: Actor, key: str, body_hash: str, ticket_id: int
) -> None:
    session.add(
        IdempotencyKey(owner=owner(actor), key=key, request_hash=body_hash, ticket_id=ticket_id)
    )


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: str
    """The JSON body."""
    location: str | None = None


async def run(
    session: AsyncSession,
    actor: Actor,
    key: str | None,
    body_hash: str,
    make: Callable[[], Awaitable[Answer]],
) -> tuple[Answer, bool]:
    """``make``'s answer, or the stored answer of the first request with ``key``; and whether
    it is a replay. ``make`` runs in a savepoint with the key's row."""
    if key is None:
        return await make(), False
    first = await find(session, actor, key, body_hash)
    if first is not None:
        return _answer(first), True
    try:
        async with session.begin_nested():
            answer = await make()
            session.add(
                IdempotencyKey(
                    owner=owner(actor),
                    key=key,
                    request_hash=body_hash,
                    status_code=answer.status_code,
                    response=answer.body,
                    location=answer.location,
                )
            )
            await session.flush()
    except IntegrityError:
        first = await find(session, actor, key, body_hash)
        if first is None:
            raise
        return _answer(first), True
    return answer, False


def _answer(row: IdempotencyKey) -> Answer:
    if row.response is None or row.status_code is None:
        # A ticket's key: only the ticket endpoints reach it, with their own hash.
        raise InvalidInput(
            "This Idempotency-Key was used with another request body.",
            ["header", "Idempotency-Key"],
        )
    return Answer(status_code=row.status_code, body=row.response, location=row.location)
