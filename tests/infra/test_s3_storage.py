"""The S3 backend against a real S3-compatible server: streaming multipart uploads, content
addressing, ranges, presigned downloads, the sweep of orphans, and an unreachable store."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from app.domain.storage_url import S3Location
from app.infra.s3 import PART_BYTES, S3BlobStorage
from app.infra.storage import StagedBlob, StorageUnavailable
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.smtp import free_port

T = TypeVar("T")
HOUR = 3600.0


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        return await make()

    return asyncio.run(go())


def make(server: S3Server, bucket: str, **options: Any) -> S3BlobStorage:
    return S3BlobStorage(
        S3Location.parse(f"s3://{bucket}/files"),
        endpoint_url=server.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        **options,
    )


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3_server.create_bucket(name)
    return name


def keys(server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    listing = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return sorted(item["Key"] for item in listing.get("Contents", []))


def open_uploads(server: S3Server, bucket: str) -> list[Any]:
    answer = server.client().list_multipart_uploads(Bucket=bucket)  # type: ignore[attr-defined]
    return list(answer.get("Uploads", []))


async def stage(storage: S3BlobStorage, data: bytes, chunk: int = 256 * 1024) -> StagedBlob:
    writer = storage.writer()
    for start in range(0, len(data), chunk):
        await writer.write(data[start : start + chunk])
    return await writer.finish()


async def read(storage: S3BlobStorage, sha: str, start: int = 0, stop: int | None = None) -> bytes:
    return b"".join([c async for c in storage.read(sha, start, stop)])


def test_a_large_upload_streams_in_parts_and_is_stored_under_its_hash(
    s3_server: S3Server, bucket: str
) -> None:
    data = os.urandom(2 * PART_BYTES + 12_345)  # three parts, the last one short
    digest = hashlib.sha256(data).hexdigest()

    async def go() -> None:
        async with make(s3_server, bucket) as storage:
            writer = storage.writer()
            high_water = 0
            for start in range(0, len(data), 300_000):
                await writer.write(data[start : start + 300_000])
                high_water = max(high_water, len(writer._buffer))
            # Never more than one part held in memory, whatever the file's size.
            assert high_water < PART_BYTES + 300_000
            staged = await writer.finish()
            assert (staged.sha256, staged.size) == (digest, len(data))
            blob = await storage.save(staged)
            assert blob.created
            assert await storage.size(digest) == len(data)
            assert await read(storage, digest) == data
            assert await read(storage, digest, 5_000_000, 5_300_001) == data[5_000_000:5_300_001]
            assert await storage.size("0" * 64) is None

    asyncio.run(go())
    stored = keys(s3_server, bucket, "files/blobs/")
    assert stored == [f"files/blobs/{digest[:2]}/{digest[2:4]}/{digest}"]
    assert keys(s3_server, bucket, "files/staging/") == []
    assert len(keys(s3_server, bucket, "files/journal/")) == 1
    assert open_uploads(s3_server, bucket) == []


def test_identical_content_is_stored_once(s3_server: S3Server, bucket: str) -> None:
    data = b"stesso contenuto " * 1000

    async def go() -> tuple[bool, bool]:
        async with make(s3_server, bucket) as storage:
            first = await storage.save(await stage(storage, data))
            second = await storage.save(await stage(storage, data))
            return first.created, second.created

    assert run(go) == (True, False)
    assert len(keys(s3_server, bucket, "files/blobs/")) == 1


def test_an_aborted_upload_leaves_nothing(s3_server: S3Server, bucket: str) -> None:
    async def go() -> None:
        async with make(s3_server, bucket) as storage:
            writer = storage.writer()
            await writer.write(os.urandom(PART_BYTES + 10))  # one part already sent
            assert len(open_uploads(s3_server, bucket)) == 1
            await writer.abort()
            small = storage.writer()
            await small.write(b"x" * 100)
            await small.abort()

    asyncio.run(go())
    assert open_uploads(s3_server, bucket) == []
    assert keys(s3_server, bucket) == []


def test_the_sweep_deletes_only_blobs_no_row_points_to_after_the_grace(
    s3_server: S3Server, bucket: str
) -> None:
    kept, orphan = b"referenced " * 50, b"orphan " * 50
    kept_sha, orphan_sha = (hashlib.sha256(d).hexdigest() for d in (kept, orphan))

    async def referenced(hashes: list[str]) -> set[str]:
        return {h for h in hashes if h == kept_sha}

    async def go() -> None:
        async with make(s3_server, bucket) as storage:
            for data in (kept, orphan):
                blob = await storage.save(await stage(storage, data))
                # A failed request does not delete (another may have saved it too): the
                # sweep settles it.
                assert await storage.discard(blob) is False
            # Within the grace nothing goes, referenced or not.
            assert await storage.sweep(referenced) == 0
            assert await storage.size(orphan_sha) is not None
            # Past the grace: the orphan goes, the referenced blob stays, markers settle.
            assert await storage.sweep(referenced, now=time.time() + 2 * HOUR + 60) == 1
            assert await storage.size(orphan_sha) is None
            assert await read(storage, kept_sha) == kept

    asyncio.run(go())
    assert keys(s3_server, bucket, "files/journal/") == []


def test_content_saved_again_within_the_grace_survives_the_sweep(
    s3_server: S3Server, bucket: str
) -> None:
    data = b"saved twice " * 40
    sha = hashlib.sha256(data).hexdigest()
    old_hour = time.strftime("%Y%m%d%H", time.gmtime(time.time() - 3 * HOUR))

    async def nothing(hashes: list[str]) -> set[str]:
        return set()

    async def go() -> None:
        async with make(s3_server, bucket) as storage:
            blob = await storage.save(await stage(storage, data))
            # The marker of a save three hours ago whose request failed, and the same
            # content saved again just now (a fresh LastModified): the old marker may
            # not delete the blob, although no row points to it yet.
            s3_server.client().put_object(  # type: ignore[attr-defined]
                Bucket=bucket, Key=f"files/journal/{old_hour}/{sha}.0123456789abcdef", Body=b""
            )
            assert await storage.sweep(nothing) == 0
            assert await storage.size(sha) == blob.size
            # Once that save too is past the grace, the blob goes.
            assert await storage.sweep(nothing, now=time.time() + 2 * HOUR + 60) == 1
            assert await storage.size(sha) is None

    asyncio.run(go())
    assert keys(s3_server, bucket, "files/journal/") == []


def test_stale_staging_objects_and_open_uploads_are_cleared(
    s3_server: S3Server, bucket: str
) -> None:
    async def go() -> None:
        async with make(s3_server, bucket) as storage:
            writer = storage.writer()
            await writer.write(os.urandom(PART_BYTES + 1))  # a crashed multipart upload
            crashed = storage.writer()
            await crashed.write(b"short")
            await crashed.finish()  # staged, never saved (the request died)
            assert await storage.sweep(lambda h: _none(h)) == 0
            assert len(open_uploads(s3_server, bucket)) == 1
            assert len(keys(s3_server, bucket, "files/staging/")) == 1
            await storage.sweep(lambda h: _none(h), now=time.time() + 2 * HOUR)

    asyncio.run(go())
    assert open_uploads(s3_server, bucket) == []
    assert keys(s3_server, bucket, "files/staging/") == []


async def _none(hashes: list[str]) -> set[str]:
    return set()


def test_a_presigned_url_serves_the_file_as_a_named_download(
    s3_server: S3Server, bucket: str
) -> None:
    data = b"%PDF-1.4 fattura " * 30
    sha = hashlib.sha256(data).hexdigest()

    async def go() -> str | None:
        async with make(s3_server, bucket, presign_seconds=60) as storage:
            await storage.save(await stage(storage, data))
            return await storage.download_url(
                sha, filename="Fattura ñ.pdf", content_type="application/pdf"
            )

    url = run(go)
    assert url is not None and "Signature" in url
    r = httpx.get(str(url))
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "application/pdf"
    assert "Fattura%20%C3%B1.pdf" in r.headers["content-disposition"]
    tampered = str(url).replace(sha[:8], "0" * 8)
    assert httpx.get(tampered).status_code in (403, 404)


def test_without_presigning_the_api_streams(s3_server: S3Server, bucket: str) -> None:
    async def go() -> str | None:
        async with make(s3_server, bucket) as storage:
            return await storage.download_url("a" * 64, filename="x", content_type="text/plain")

    assert run(go) is None


def test_an_unreachable_store_is_unavailable_not_a_crash() -> None:
    storage = S3BlobStorage(
        S3Location.parse("s3://nowhere/files"),
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        timeout_seconds=2,
    )

    async def go() -> None:
        async with storage:
            with pytest.raises(StorageUnavailable):
                await storage.check()
            writer = storage.writer()
            await writer.write(b"abc")
            with pytest.raises(StorageUnavailable):
                await writer.finish()

    asyncio.run(go())


@pytest.mark.parametrize(
    "url", ["s3://", "s3://UPPER/x", "http://bucket/x", "s3://a/x", "s3://bad_bucket/x"]
)
def test_a_bad_storage_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        S3Location.parse(url)


def test_the_prefix_is_optional() -> None:
    assert S3Location.parse("s3://sportello-files") == S3Location("sportello-files", "")
    assert S3Location.parse("s3://sportello-files/a/b/") == S3Location("sportello-files", "a/b/")
