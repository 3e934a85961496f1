"""``Idempotency-Key`` on creating POSTs: the header, and answering a replay.

A handler passes what identifies its request and a function that does the work and returns
the response model; ``services/idempotency.py`` decides whether it runs or the first answer
is replayed. A replayed answer is the first one (status, body, ``Location``) with
``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.access import Actor
from app.services import idempotency as idempotency_service

M = TypeVar("M", bound=BaseModel)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description=(
            "Retry-safe creation: a repeat with the same key and body gets the first answer "
            "(with `Idempotent-Replayed: true`) and creates nothing; another body is 422."
        ),
    ),
]
REPLAYED = "Idempotent-Replayed"


async def idempotent(
    request: Request,
    response: Response,
    session: AsyncSession,
    actor: Actor,
    key: str | None,
    identity: Any,
    make: Callable[[], Awaitable[M]],
    status_code: int,
) -> M | Response:
    """``make()``'s model, or the first answer to ``key`` replayed. ``identity`` is what the
    request says (its body, its files' hashes); the method and path are added to it."""
    made: list[M] = []

    async def produce() -> idempotency_service.Answer:
        model = await make()
        made.append(model)
        return idempotency_service.Answer(
            status_code=status_code,
            body=json.dumps(model.model_dump(mode="json", by_alias=True)),
            location=response.headers.get("location"),
        )

    body_hash = idempotency_service.request_hash(
        {"method": request.method, "path": request.url.path, "body": identity}
    )
    answer, replayed = await idempotency_service.run(session, actor, key, body_hash, produce)
    if not replayed:
        return made[0]
    headers = {REPLAYED: "true"}
    if answer.location:
        headers["Location"] = answer.location
    return JSONResponse(json.loads(answer.body), status_code=answer.status_code, headers=headers)
