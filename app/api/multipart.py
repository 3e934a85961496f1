"""``multipart/form-data`` read as it streams: a ``payload`` JSON part and ``files`` parts.

No part is ever held whole in memory. Each file goes chunk by chunk to a
staging file of the blob storage while it is hashed, counted and sniffed, and
the request is refused the moment it breaks a rule: a file over the size
limit (413), one file too many (422), bytes that cannot be an allowed type
(415). Starlette's ``request.form()`` is not used: it spools files to
temporary files too, but only judges them once the whole body has been read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.attachments import ALLOWED_DESCRIPTION, Sniffer, safe_filename
from app.domain.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from app.infra.storage import BlobWriter
from app.services.attachments import IncomingFile, Uploads

PART_OVERHEAD = 16 * 1024
"""Room for the boundary and headers of each part in the bound on the whole body."""

SPARE_PARTS = 8
"""Parts allowed beyond the payload and the files: empty file fields of a browser form."""

Kind = Literal["payload", "file", "skip"]


def _filename(raw: bytes) -> str:
    """The file name as sent: UTF-8, with the three escapes of the HTML form encoding undone."""
    name = raw.decode("utf-8", "replace")
    return name.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB" if size >= 1024 * 1024 else f"{size} bytes"


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    field_name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)
    kind: Kind = "skip"
    raw_filename: str | None = None
    writer: BlobWriter | None = None
    sniffer: Sniffer | None = None
    counted: bool = False


class MultipartReader:
    """Feeds the body to python-multipart's streaming parser and acts on each event in turn.

    The parser's callbacks are synchronous and writing a file is not, so the
    callbacks only queue what they saw (at most one chunk's worth), and
    :meth:`process` handles the queue between two chunks.
    """

    def __init__(self, boundary: bytes, uploads: Uploads, *, payload_max: int | None) -> None:
        self.uploads = uploads
        self.payload_max = payload_max
        self.payload: bytes | None = None
        self.done = False
        self._parts = 0
        self._payload = bytearray()
        self._events: list[tuple[str, bytes]] = []
        self._part = _Part()
        queue = self._events.append
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: queue(("begin", b"")),
                "on_header_field": lambda d, s, e: queue(("field", d[s:e])),
                "on_header_value": lambda d, s, e: queue(("value", d[s:e])),
                "on_header_end": lambda: queue(("header_end", b"")),
                "on_headers_finished": lambda: queue(("headers", b"")),
                "on_part_data": lambda d, s, e: queue(("data", d[s:e])),
                "on_part_end": lambda: queue(("end", b"")),
                "on_end": lambda: queue(("done", b"")),
            },
        )

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except FormParserError:
            raise BadRequest("The multipart body is malformed.") from None

    async def process(self) -> None:
        events = self._events.copy()
        self._events.clear()
        for kind, data in events:
            part = self._part
            if kind == "begin":
                self._parts += 1
                if self._parts > self.uploads.max_files + 1 + SPARE_PARTS:
                    raise InvalidInput("The multipart body has too many parts.", ["body"])
                self._part = _Part()
            elif kind == "field":
                part.field_name += data
            elif kind == "value":
                part.value += data
            elif kind == "header_end":
                part.headers.append((bytes(part.field_name).lower(), bytes(part.value)))
                part.field_name.clear()
                part.value.clear()
            elif kind == "headers":
                self._start(part)
            elif kind == "data":
                await self._data(part, data)
            elif kind == "end":
                await self._end(part)
            elif kind == "done":
                self.done = True

    def _start(self, part: _Part) -> None:
        disposition = dict(part.headers).get(b"content-disposition")
        kind, params = parse_options_header(disposition)
        name = params.get(b"name")
        if kind != b"form-data" or name is None:
            raise BadRequest("Each part needs a 'Content-Disposition: form-data' with a name.")
        if name == b"payload" and self.payload_max is not None:
            if self.payload is not None:
                raise BadRequest("The multipart body has more than one payload part.")
            part.kind = "payload"
        elif name == b"files":
            part.kind = "file"
            filename = params.get(b"filename")
            part.raw_filename = _filename(filename) if filename else None
            part.writer = self.uploads.storage.writer()
            part.sniffer = Sniffer(allow_macros=self.uploads.allow_macros)
        else:
            shown = name.decode("utf-8", "replace")[:50]
            expected = "a 'payload' part and 'files' parts" if self.payload_max else "'files' parts"
            raise InvalidInput(f"Unexpected part {shown!r}: send {expected}.", ["body", shown])

    async def _data(self, part: _Part, data: bytes) -> None:
        if part.kind == "payload":
            assert self.payload_max is not None
            self._payload += data
            if len(self._payload) > self.payload_max:
                raise PayloadTooLarge(f"The payload part is larger than {_mib(self.payload_max)}.")
            return
        assert part.writer is not None and part.sniffer is not None
        if not part.counted:
            part.counted = True
            if len(self.uploads.files) >= self.uploads.max_files:
                raise InvalidInput(
                    f"At most {self.uploads.max_files} files per request.", ["body", "files"]
                )
        if part.writer.size + len(data) > self.uploads.max_bytes:
            raise PayloadTooLarge(f"Each file may be at most {_mib(self.uploads.max_bytes)}.")
        part.sniffer.feed(data)
        if part.sniffer.rejected:
            raise self._refused(part)
        await part.writer.write(data)

    async def _end(self, part: _Part) -> None:
        if part.kind == "payload":
            self.payload = bytes(self._payload)
            self._payload.clear()
            return
        assert part.writer is not None and part.sniffer is not None
        writer, part.writer = part.writer, None
        if writer.size == 0:
            await writer.abort()
            if part.raw_filename:
                raise InvalidInput(
                    f"The file {safe_filename(part.raw_filename, 'text/plain')!r} is empty.",
                    ["body", "files"],
                )
            return  # a form's file field left empty: no file
        content_type = part.sniffer.result()
        if content_type is None:
            await writer.abort()
            raise self._refused(part)
        staged = await writer.finish()
        self.uploads.files.append(
            IncomingFile(
                filename=safe_filename(part.raw_filename, content_type),
                content_type=content_type,
                staged=staged,
            )
        )

    @staticmethod
    def _refused(part: _Part) -> UnsupportedMediaType:
        name = (part.raw_filename or "").replace("\\", "/").rsplit("/", 1)[-1][:100]
        what = f"The file {name!r}" if name else "A file"
        return UnsupportedMediaType(
            f"{what} is not of an allowed type: send {ALLOWED_DESCRIPTION}."
        )

    async def abort(self) -> None:
        """Remove the file being written when the body is refused half-way."""
        if self._part.writer is not None:
            await self._part.writer.abort()
            self._part.writer = None


async def read_multipart(
    request: Request,
    uploads: Uploads,
    *,
    payload_max: int | None,
    session: AsyncSession | None = None,
) -> bytes | None:
    """Read a multipart body: its files into ``uploads``; the payload part's bytes are returned.

    ``payload_max`` None means the endpoint takes files only. The request's
    database transaction (opened to authenticate the caller) is ended first:
    an upload can take minutes, and must hold neither a pooled connection nor,
    on SQLite, the write lock meanwhile.
    """
    _, params = parse_options_header(request.headers.get("content-type", "").encode("latin-1"))
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary.")
    limit = uploads.max_files * (uploads.max_bytes + PART_OVERHEAD) + PART_OVERHEAD
    if payload_max is not None:
        limit += payload_max + PART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"The request is larger than {uploads.max_files} files of "
            f"{_mib(uploads.max_bytes)} can be."
        )
    if session is not None:
        await session.commit()
    try:
        reader = MultipartReader(boundary, uploads, payload_max=payload_max)
    except ValueError:
        raise BadRequest("The multipart boundary is not valid.") from None
    try:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge("The request body is larger than its files can be.")
            reader.feed(chunk)
            await reader.process()
            if reader.done:
                break
        if not reader.done:
            raise BadRequest("The multipart body ends before its closing boundary.")
    except BaseException:
        await reader.abort()
        raise
    if payload_max is not None and reader.payload is None:
        raise BadRequest("The multipart body has no 'payload' part.")
    return reader.payload
