"""Request bodies that come as JSON or as ``multipart/form-data`` (a ``payload`` part and files).

FastAPI parses one content type per body; the ticket and reply endpoints take
two, so they read the request here, with a bound on its size, and validate the
JSON with the same pydantic models (and the same 422 shape) as everywhere else.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.domain.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BYTES = 256 * 1024

EXTRA_MODELS: list[type[BaseModel]] = []
"""Models named only in ``openapi_extra``: main.build_openapi adds them to the components."""


def json_or_multipart(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint that takes ``model`` as JSON or as a multipart payload."""
    if model not in EXTRA_MODELS:
        EXTRA_MODELS.append(model)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ref},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["payload"],
                        "properties": {
                            "payload": {
                                "type": "string",
                                "description": f"{model.__name__} as JSON",
                            },
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    },
                    "encoding": {"payload": {"contentType": "application/json"}},
                },
            },
        }
    }


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def validate_json(model: type[M], raw: bytes | str, loc: tuple[str, ...] = ("body",)) -> M:
    """Validate with ``model``; errors become the usual 422 (or 400 for broken JSON)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_input=False, include_context=False, include_url=False):
            if err["type"] == "json_invalid":
                raise BadRequest("The request body is not valid JSON.") from None
            errors.append({**err, "loc": (*loc, *err["loc"])})
        raise RequestValidationError(errors) from None


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_json_model(request: Request, model: type[M]) -> M:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = await read_limited(request, MAX_JSON_BYTES)
    if not raw:
        raise BadRequest("The request body is empty.")
    return validate_json(model, raw)
