"""The blob storage on a real file system: staging, content addressing, undoing a failed
request's saves without ever losing another request's file, and the sweep of orphans."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from app.config import Settings
from app.infra.storage import LocalBlobStorage, StagedBlob, StoredBlob
from app.services import attachments as attachment_service
from app.services.attachments import IncomingFile, Uploads
from app.worker import JOBS
from tests import samples
from tests.conftest import Database
from tests.factories import Desk

HOUR = 3600.0


def stage(storage: LocalBlobStorage, data: bytes, chunk: int = 100_000) -> StagedBlob:
    async def go() -> StagedBlob:
        writer = storage.writer()
        for start in range(0, len(data), chunk):
            await writer.write(data[start : start + chunk])
        return await writer.finish()

    return asyncio.run(go())


def save(storage: LocalBlobStorage, data: bytes) -> StoredBlob:
    return asyncio.run(storage.save(stage(storage, data)))


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def uploads_of(storage: LocalBlobStorage, *contents: bytes) -> Uploads:
    uploads = Uploads(storage, max_files=5, max_bytes=10**8)
    for i, data in enumerate(contents):
        uploads.files.append(IncomingFile(f"{i}.png", "image/png", stage(storage, data)))
    return uploads


@pytest.fixture
def storage(tmp_path: Path) -> LocalBlobStorage:
    return LocalBlobStorage(tmp_path / "store")


def test_a_staged_upload_is_hashed_and_saved_under_its_hash(storage: LocalBlobStorage) -> None:
    data = os.urandom(700_001)  # several flushes of the writer, and a ragged end
    staged = stage(storage, data, chunk=33_333)
    digest = hashlib.sha256(data).hexdigest()
    assert (staged.sha256, staged.size) == (digest, len(data))
    assert files_in(storage.blobs_dir) == []
    blob = asyncio.run(storage.save(staged))
    assert blob.created
    assert files_in(storage.blobs_dir) == [storage.blobs_dir / digest[:2] / digest[2:4] / digest]
    assert files_in(storage.staging_dir) == []

    async def read(start: int, stop: int | None) -> bytes:
        return b"".join([c async for c in storage.read(digest, start, stop)])

    assert asyncio.run(read(0, None)) == data
    assert asyncio.run(read(65_530, 200_000)) == data[65_530:200_000]
    assert asyncio.run(storage.size(digest)) == len(data)
    assert asyncio.run(storage.size("0" * 64)) is None


def test_an_aborted_upload_leaves_nothing(storage: LocalBlobStorage) -> None:
    async def go() -> None:
        writer = storage.writer()
        await writer.write(os.urandom(600_000))
        await writer.abort()

    asyncio.run(go())
    assert files_in(storage.root) == []


def test_a_failed_request_removes_the_blobs_it_created(storage: LocalBlobStorage) -> None:
    uploads = uploads_of(storage, samples.png("fail-a"), samples.log("fail-b"))
    asyncio.run(uploads.store(uploads.files[0]))
    asyncio.run(uploads.close(failed=True))
    # The stored one is deleted, the staged one dropped, the journal settled.
    assert files_in(storage.root) == []


def test_a_request_that_succeeds_keeps_what_it_stored(storage: LocalBlobStorage) -> None:
    uploads = uploads_of(storage, samples.png("ok-a"), samples.png("ok-b"))
    blob = asyncio.run(uploads.store(uploads.files[0]))
    asyncio.run(uploads.close(failed=False))
    assert [p.name for p in files_in(storage.blobs_dir)] == [blob.sha256]
    assert files_in(storage.staging_dir) == []  # the file the use case did not take


def test_a_failure_never_deletes_content_someone_else_stored(storage: LocalBlobStorage) -> None:
    data = samples.png("shared")
    # Stored before: the failing request found it there.
    earlier = save(storage, data)
    late = uploads_of(storage, data)
    assert not asyncio.run(late.store(late.files[0])).created
    asyncio.run(late.close(failed=True))
    assert [p.name for p in files_in(storage.blobs_dir)] == [earlier.sha256]
    # Stored meanwhile: a second request saves the same bytes after the first created them.
    other = samples.png("race")
    first = uploads_of(storage, other)
    assert asyncio.run(first.store(first.files[0])).created
    save(storage, other)
    asyncio.run(first.close(failed=True))
    assert hashlib.sha256(other).hexdigest() in {p.name for p in files_in(storage.blobs_dir)}
    assert files_in(storage.trash_dir) == []


def test_the_sweep_deletes_only_old_blobs_no_row_points_to(storage: LocalBlobStorage) -> None:
    kept, orphan, touched = samples.png("kept"), samples.png("orphan"), samples.png("again")
    saved = {name: save(storage, data) for name, data in (("kept", kept), ("orphan", orphan))}
    saved["touched"] = save(storage, touched)
    stale_upload = storage.staging_dir / "crashed.part"
    stale_upload.write_bytes(b"half an upload")
    later = time.time() + 3 * HOUR
    # Saved again "two hours later" (within the grace at sweep time): still in use.
    path = storage.path(saved["touched"].sha256)
    os.utime(path, (later - 600, later - 600))
    asked: list[str] = []

    async def referenced(hashes: list[str]) -> set[str]:
        asked.extend(hashes)
        return {saved["kept"].sha256}

    # An hour has not passed: nothing is even looked at.
    assert asyncio.run(storage.sweep(referenced)) == 0 and asked == []
    assert asyncio.run(storage.sweep(referenced, now=later)) == 1
    assert sorted(asked) == sorted(b.sha256 for b in saved.values())
    assert {p.name for p in files_in(storage.blobs_dir)} == {
        saved["kept"].sha256,
        saved["touched"].sha256,
    }
    assert not stale_upload.exists()
    # Settled markers are gone; the touched blob's stays for a later sweep.
    assert [p.name[:64] for p in files_in(storage.journal_dir)] == [saved["touched"].sha256]
    asked.clear()
    assert asyncio.run(storage.sweep(referenced, now=later + 2 * HOUR)) == 1
    assert {p.name for p in files_in(storage.blobs_dir)} == {saved["kept"].sha256}
    assert files_in(storage.journal_dir) == []


def test_the_sweep_puts_back_a_blob_a_crash_left_in_the_trash(storage: LocalBlobStorage) -> None:
    blob = save(storage, samples.png("crash"))
    path = storage.path(blob.sha256)
    os.rename(path, storage.trash_dir / f"{blob.sha256}.dead")

    async def referenced(hashes: list[str]) -> set[str]:
        return set(hashes)

    asyncio.run(storage.sweep(referenced, now=time.time() + 120))
    assert path.exists() and files_in(storage.trash_dir) == []


def test_the_worker_job_removes_orphans_and_keeps_attached_files(
    desk: Desk, db: Database, settings: Settings
) -> None:
    """Through the real app and database: an attachment row keeps its blob, a crash's does not."""
    assert ("purge_orphan_attachments", attachment_service.purge_orphans) in JOBS
    customer = desk.customer()
    user = desk.customer_user(customer)
    payload = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Stampa del registro",
        "description": "Il PDF generato è vuoto.",
    }
    attached = samples.pdf("job-attached")
    r = user.post(
        "/tickets",
        data={"payload": json.dumps(payload)},
        files=[("files", ("registro.pdf", attached))],
    )
    assert r.status_code == 201, r.text
    storage = LocalBlobStorage(settings.storage_dir)
    orphan = save(storage, samples.pdf("job-orphan"))  # as if the request had crashed

    async def sweep(now: float | None) -> int:
        async with db.sessions.begin() as session:
            return await attachment_service.purge_orphans(session, settings, now=now)

    assert db.run(sweep(None)) == 0  # within the hour: uploads in flight are never touched
    assert storage.path(orphan.sha256).exists()
    assert db.run(sweep(time.time() + 3 * HOUR)) >= 1
    assert not storage.path(orphan.sha256).exists()
    file_id = r.json()["attachments"][0]["id"]
    assert user.get(f"/attachments/{file_id}/content").content == attached
