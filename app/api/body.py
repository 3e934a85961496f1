"""Request bodies that come as JSON or as ``multipart/form-data`` (a ``payload`` part and files).

FastAPI parses one content type per body; the ticket and reply endpoints take
two, so they read the request here, with a bound on its size, and validate the
JSON with the same pydantic models (and the same 422 shape) as everywhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import text_guard
from app.api.deps import get_storage
from app.api.multipart import read_multipart
from app.config import Settings
from app.domain.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from app.services.attachments import Uploads

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
                            # Typed as its model; the encoding below sends it as JSON.
                            "payload": ref,
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
    issues = text_guard.json_issues(raw.encode() if isinstance(raw, str) else raw, loc)
    if issues:
        raise RequestValidationError(
            [
                {"loc": issue, "msg": "control characters are not allowed", "type": "value_error"}
                for issue in issues
            ]
        )
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


async def get_uploads(request: Request) -> AsyncIterator[Uploads]:
    """The files of the request, cleaned up once the request is over.

    Request-scoped on purpose: this runs after the session dependency has
    committed or rolled back, so it sees a failed commit too, and then deletes
    the blobs the request stored.
    """
    settings: Settings = request.app.state.settings
    uploads = Uploads(
        get_storage(request),
        max_files=settings.max_attachments,
        max_bytes=settings.max_attachment_bytes,
        allow_macros=settings.allow_macro_documents,
    )
    try:
        yield uploads
    except BaseException:
        await uploads.close(failed=True)
        raise
    await uploads.close(failed=False)


UploadsDep = Annotated[Uploads, Depends(get_uploads)]


def files_only() -> dict[str, Any]:
    """``openapi_extra`` for an endpoint that takes ``files`` parts and nothing else."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    },
                },
            },
        }
    }


async def read_files(request: Request, uploads: Uploads, session: AsyncSession) -> None:
    """Read a body of ``files`` parts into ``uploads``."""
    if not is_multipart(request):
        raise UnsupportedMediaType("Send the files as multipart/form-data 'files' parts.")
    await read_multipart(request, uploads, payload_max=None, session=session)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("application/json", "")


async def get_json_body(request: Request) -> bytes | None:
    """A JSON body, read whole (bounded) before the request's transaction opens.

    Declared before the session and the caller among an endpoint's parameters, so that
    authentication and the change share one transaction (one pool checkout) and no
    transaction is held open while a slow client sends its body. ``None`` when the body
    is not JSON: multipart is read by :func:`read_json_model`, after authentication (its
    files are staged to disk, which is for callers known to be allowed); another type is
    refused there, after authentication, as before.
    """
    if is_multipart(request) or not _is_json(request):
        return None
    return await read_limited(request, MAX_JSON_BYTES)


JsonBody = Annotated[bytes | None, Depends(get_json_body)]


async def read_json_model(
    request: Request,
    model: type[M],
    uploads: Uploads | None = None,
    session: AsyncSession | None = None,
    raw: bytes | None = None,
) -> M:
    """The body as ``model``: JSON, or (given ``uploads``) multipart with a payload and files.

    ``raw`` is the JSON body already read by :func:`get_json_body`.
    """
    if raw is not None:
        if not raw:
            raise BadRequest("The request body is empty.")
        return validate_json(model, raw)
    if uploads is not None and is_multipart(request):
        raw = await read_multipart(request, uploads, payload_max=MAX_JSON_BYTES, session=session)
        assert raw is not None
        if not raw.strip():
            raise BadRequest("The payload part is empty.")
        return validate_json(model, raw, loc=("body", "payload"))
    if not _is_json(request):
        raise UnsupportedMediaType("Send the body as application/json.")
    if session is not None:
        # As for multipart: the body may come slowly, and must not hold the transaction
        # opened to authenticate the caller (on SQLite, the write lock) while it does.
        await session.commit()
    raw = await read_limited(request, MAX_JSON_BYTES)
    if not raw:
        raise BadRequest("The request body is empty.")
    return validate_json(model, raw)
