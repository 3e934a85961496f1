"""Attachment bytes in S3-compatible object storage (AWS S3, MinIO, Ceph, R2), through aiobotocore.

The same rules as the local backend (``app.infra.storage``), laid out as keys under
the configured prefix:

- ``staging/<unix time>-<token>``: an upload in progress, sent as an S3 multipart upload while it
  is hashed, so memory per upload is one part (``PART_BYTES``), whatever the file's size;
- ``blobs/ab/cd/<sha256>``: the content, named by its hash, stored once;
- ``journal/<YYYYMMDDHH>/<sha256>.<token>``: one marker per save, settled by the sweep
  an hour later, which deletes the blob if no attachment row points to it by then.

Saving is a server-side copy from staging to the blob's key (no bytes through this
process), preceded by the journal marker, so whatever happens next the sweep looks at
the blob. Every save rewrites the blob, which moves its ``LastModified``: the sweep
deletes only blobs older than the grace, so content saved again meanwhile stays.

Unlike a file system, S3 has no atomic "delete if it is still the copy I wrote", so a
failed request does not delete what it saved (``discard`` returns False): another
request may have saved the same content in the same second and committed a row. The
journal marker it left makes the sweep delete the blob within the hour if no row
points to it. Nothing is ever lost; an orphan lives at most one sweep longer.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from app.domain.storage_url import S3Location
from app.infra.storage import (
    CHUNK_BYTES,
    GRACE_SECONDS,
    ReferencedFn,
    StagedBlob,
    StorageUnavailable,
    StoredBlob,
)

logger = logging.getLogger("sportello.storage")

PART_BYTES = 5 * 1024 * 1024
"""S3's smallest multipart part (but the last): the memory one upload holds at most."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOKEN = re.compile(r"^(\d{10})-[0-9a-f]{32}$")
"""``<unix time>-<random>``: the sweep reads an upload's age from its key, whatever the
server says of it (not every S3-compatible server reports when an upload began)."""


def _not_found(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


class _S3Writer:
    """One upload, sent to ``staging/<token>`` part by part while it is hashed."""

    def __init__(self, storage: S3BlobStorage) -> None:
        self._storage = storage
        self._token = f"{int(time.time()):010d}-{secrets.token_hex(16)}"
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    @property
    def size(self) -> int:
        return self._size

    @property
    def key(self) -> str:
        return self._storage.key("staging", self._token)

    async def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._buffer += chunk
        self._size += len(chunk)
        if len(self._buffer) >= PART_BYTES:
            await self._send_part()

    async def _send_part(self) -> None:
        client = await self._storage.client()
        bucket = self._storage.location.bucket
        async with self._storage.guard("upload"):
            if self._upload_id is None:
                created = await client.create_multipart_upload(Bucket=bucket, Key=self.key)
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            sent = await client.upload_part(
                Bucket=bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=bytes(self._buffer),
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self._buffer.clear()

    async def finish(self) -> StagedBlob:
        client = await self._storage.client()
        bucket = self._storage.location.bucket
        if self._upload_id is None:
            # Smaller than one part: a plain PUT.
            async with self._storage.guard("upload"):
                await client.put_object(Bucket=bucket, Key=self.key, Body=bytes(self._buffer))
            self._buffer.clear()
        else:
            if self._buffer:
                await self._send_part()
            async with self._storage.guard("upload"):
                await client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        return StagedBlob(handle=self._token, sha256=self._hash.hexdigest(), size=self._size)

    async def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is None:
            return
        client = await self._storage.client()
        with contextlib.suppress(ClientError, OSError):
            await client.abort_multipart_upload(
                Bucket=self._storage.location.bucket, Key=self.key, UploadId=self._upload_id
            )


class S3BlobStorage:
    """The ``BlobStorage`` protocol over one bucket and prefix.

    One aiobotocore client per storage object, opened on first use and closed by
    :meth:`aclose` (the app's lifespan; a worker job uses ``async with``).
    """

    def __init__(
        self,
        location: S3Location,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        presign_seconds: int = 0,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.location = location
        self.presign_seconds = presign_seconds
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url or None,
            "region_name": region or "us-east-1",
            "aws_access_key_id": access_key_id or None,
            "aws_secret_access_key": secret_access_key or None,
            "config": AioConfig(
                connect_timeout=timeout_seconds,
                read_timeout=timeout_seconds,
                retries={"max_attempts": 3, "mode": "standard"},
                # Path-style works with MinIO, Ceph and moto alike; AWS accepts it too.
                s3={"addressing_style": "path"},
            ),
        }
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    # --- the client --------------------------------------------------------------------------

    async def client(self) -> Any:
        if self._client is None:
            stack = contextlib.AsyncExitStack()
            self._client = await stack.enter_async_context(
                get_session().create_client("s3", **self._options)
            )
            self._stack = stack
        return self._client

    async def aclose(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._client = None

    async def __aenter__(self) -> S3BlobStorage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @contextlib.asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
        """An unreachable or refusing store becomes ``StorageUnavailable`` (503/507), logged
        without credentials (botocore's messages name the operation and code only)."""
        try:
            yield
        except ClientError as exc:
            if _not_found(exc):
                raise
            code = exc.response.get("Error", {}).get("Code", "?")
            logger.error("object storage refused the %s: %s", what, code)
            raise StorageUnavailable(f"object storage refused the {what} ({code})") from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            logger.error("object storage unreachable during the %s: %s", what, type(exc).__name__)
            raise StorageUnavailable(f"object storage unreachable ({what})") from None

    def key(self, *parts: str) -> str:
        return self.location.prefix + "/".join(parts)

    def blob_key(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.key("blobs", sha256[:2], sha256[2:4], sha256)

    def _staged_key(self, staged: StagedBlob) -> str:
        if not _TOKEN.match(staged.handle):
            raise ValueError("not a staging handle")
        return self.key("staging", staged.handle)

    # --- uploads -----------------------------------------------------------------------------

    def writer(self) -> _S3Writer:
        return _S3Writer(self)

    async def drop(self, staged: StagedBlob) -> None:
        client = await self.client()
        with contextlib.suppress(ClientError, OSError):
            await client.delete_object(Bucket=self.location.bucket, Key=self._staged_key(staged))

    async def save(self, staged: StagedBlob) -> StoredBlob:
        client = await self.client()
        bucket = self.location.bucket
        final = self.blob_key(staged.sha256)
        source = self._staged_key(staged)
        existed = await self.size(staged.sha256) is not None
        marker = self._marker(staged.sha256, time.time())
        async with self.guard("save"):
            # The marker first: whatever happens next, the sweep will look at this blob.
            await client.put_object(Bucket=bucket, Key=marker, Body=b"")
            # Always copied, even when the content is there: a fresh LastModified tells
            # the sweep that the content is in use again.
            await client.copy_object(
                Bucket=bucket,
                Key=final,
                CopySource={"Bucket": bucket, "Key": source},
                MetadataDirective="REPLACE",
            )
        with contextlib.suppress(ClientError, OSError):
            await client.delete_object(Bucket=bucket, Key=source)
        return StoredBlob(staged.sha256, staged.size, created=not existed, receipt=marker)

    async def discard(self, blob: StoredBlob) -> bool:
        """Left to the sweep (see the module's docstring): S3 cannot delete "only my copy"."""
        return False

    def _marker(self, sha256: str, at: float) -> str:
        bucket = time.strftime("%Y%m%d%H", time.gmtime(at))
        return self.key("journal", bucket, f"{sha256}.{secrets.token_hex(8)}")

    # --- downloads ---------------------------------------------------------------------------

    async def _head(self, sha256: str) -> dict[str, Any] | None:
        client = await self.client()
        try:
            async with self.guard("read"):
                head: dict[str, Any] = await client.head_object(
                    Bucket=self.location.bucket, Key=self.blob_key(sha256)
                )
                return head
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise

    async def size(self, sha256: str) -> int | None:
        head = await self._head(sha256)
        return None if head is None else int(head["ContentLength"])

    async def read(
        self, sha256: str, start: int = 0, stop: int | None = None
    ) -> AsyncIterator[bytes]:
        client = await self.client()
        options: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self.blob_key(sha256)}
        if start or stop is not None:
            if stop is not None and stop <= start:
                return
            options["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        async with self.guard("read"):
            answer = await client.get_object(**options)
        async with answer["Body"] as body:
            while chunk := await body.read(CHUNK_BYTES):
                yield chunk

    async def download_url(self, sha256: str, *, filename: str, content_type: str) -> str | None:
        """A presigned GET for the blob (when the setting asks for redirects), else None.

        The answer headers the API would send are signed into the URL, so the store
        serves the file as the API does: as a download, under its name and type.
        """
        if self.presign_seconds <= 0:
            return None
        client = await self.client()
        url: str = await client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.location.bucket,
                "Key": self.blob_key(sha256),
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "ResponseContentType": content_type,
            },
            ExpiresIn=self.presign_seconds,
        )
        return url

    async def check(self) -> None:
        """Readiness: the bucket answers (raises ``StorageUnavailable`` otherwise)."""
        client = await self.client()
        async with self.guard("check"):
            await client.head_bucket(Bucket=self.location.bucket)

    # --- the sweep ---------------------------------------------------------------------------

    async def _keys(self, prefix: str, *, delimiter: str | None = None) -> AsyncIterator[str]:
        client = await self.client()
        paginator = client.get_paginator("list_objects_v2")
        options: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = delimiter
        async for page in paginator.paginate(**options):
            for common in page.get("CommonPrefixes", []):
                yield str(common["Prefix"])
            for item in page.get("Contents", []):
                yield str(item["Key"])

    async def sweep(
        self,
        referenced: ReferencedFn,
        *,
        grace: float = GRACE_SECONDS,
        now: float | None = None,
    ) -> int:
        """Settle the journal hours past the grace, as the local backend does; also clear
        stale staging objects and multipart uploads a crashed request left open."""
        now = time.time() if now is None else now
        cutoff = now - grace
        client = await self.client()
        bucket = self.location.bucket
        deleted = 0
        async with self.guard("sweep"):
            await self._clear_staging(cutoff)
            journal = self.key("journal") + "/"
            hours = [p async for p in self._keys(journal, delimiter="/")]
            for hour_prefix in sorted(hours):
                name = hour_prefix[len(journal) :].rstrip("/")
                try:
                    start = calendar.timegm(time.strptime(name, "%Y%m%d%H"))
                except ValueError:
                    continue
                if start + 3600 > cutoff:
                    continue
                markers = [k async for k in self._keys(hour_prefix)]
                for first in range(0, len(markers), 500):
                    batch = markers[first : first + 500]
                    names = [m.rsplit("/", 1)[1] for m in batch]
                    hashes = sorted({n[:64] for n in names if _SHA256.match(n[:64])})
                    used = await referenced(hashes)
                    for marker, marker_name in zip(batch, names, strict=True):
                        sha = marker_name[:64]
                        if _SHA256.match(sha) and sha not in used:
                            head = await self._head(sha)
                            if head is not None and head["LastModified"].timestamp() >= cutoff:
                                continue  # saved again within the grace: a later sweep
                            if head is not None:
                                await client.delete_object(Bucket=bucket, Key=self.blob_key(sha))
                                deleted += 1
                                logger.info("removed unreferenced blob %s", sha)
                        await client.delete_object(Bucket=bucket, Key=marker)
        return deleted

    async def _clear_staging(self, cutoff: float) -> None:
        client = await self.client()
        bucket = self.location.bucket
        staging = self.key("staging") + "/"

        def stale(key: str) -> bool:
            match = _TOKEN.match(key[len(staging) :])
            return match is None or int(match.group(1)) < cutoff

        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket, Prefix=staging):
            for item in page.get("Contents", []):
                if stale(item["Key"]):
                    await client.delete_object(Bucket=bucket, Key=item["Key"])
        uploads = await client.list_multipart_uploads(Bucket=bucket, Prefix=staging)
        for upload in uploads.get("Uploads", []):
            if stale(upload["Key"]):
                with contextlib.suppress(ClientError):
                    await client.abort_multipart_upload(
                        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
