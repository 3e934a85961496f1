"""Conditional reads: an ``ETag`` on what a read answers, 304 when ``If-None-Match`` has it."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header
from fastapi.responses import Response
from pydantic import BaseModel

IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        max_length=1000,
        description="An ETag from an earlier answer: 304 with no body if nothing changed.",
    ),
]


def matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``; ``*`` matches anything."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag})


def json_response(model: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """The model as JSON, serialised once (as FastAPI would: by alias).

    A handler returning the model itself has FastAPI validate it again against the
    route's ``response_model`` (a dump, a validation, a second dump): a tenth of a ticket
    read's CPU. The route keeps ``response_model``, so openapi.json documents the same body.
    """
    return Response(
        content=model.model_dump_json(by_alias=True), media_type="application/json", headers=headers
    )


def json_or_304(if_none_match: str | None, model: BaseModel) -> Response:
    """The model as JSON with an ETag of its bytes, or 304 if the client holds those bytes.

    The tag hashes exactly what is sent (the caller's language and read markers included),
    so it changes whenever the answer would.
    """
    return bytes_or_304(if_none_match, model.model_dump_json(by_alias=True).encode())


def bytes_or_304(if_none_match: str | None, body: bytes) -> Response:
    """:func:`json_or_304` for a body already written as JSON."""
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
    if matches(if_none_match, etag):
        return not_modified(etag)
    return Response(content=body, media_type="application/json", headers={"ETag": etag})
