"""Where attachment bytes live: a small ``BlobStorage`` protocol and its local-disk backend.

Blobs are content-addressed: a file is named by its SHA-256 (``blobs/ab/cd/<sha256>``),
never by anything the client sent, and identical content is stored once. An
upload is first *staged* (written to a temporary file while it is hashed), then
*saved* (linked into place atomically) by the use case that accepts it.

Files and database rows cannot share a transaction, so the storage keeps a
journal: every save leaves a marker (``journal/<sha256>.<token>``) that the
periodic sweep settles an hour later, deleting the blob if no attachment row
points to it by then. A request that fails discards the blobs it created at
once; the journal catches whatever a crash or a lost race leaves behind.

Two requests may save the same content at the same moment, and one of them may
fail. So that the failing one never deletes what the other one committed, a
blob is only deleted while it is still the very file its creator linked (same
inode and timestamp); every later save replaces it with a fresh copy, which
marks it as in use for another hour.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar

from app.domain.errors import InsufficientStorage

logger = logging.getLogger("sportello.storage")

CHUNK_BYTES = 64 * 1024
"""Read size of downloads."""

FLUSH_BYTES = 256 * 1024
"""An upload is written to disk each time this much has arrived: memory per upload stays flat."""

GRACE_SECONDS = 3600.0
"""How long an unreferenced blob may live: longer than any upload request takes."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class StorageUnavailable(Exception):
    """The store cannot be reached or refuses to work now (an outage, not a bad request)."""


T = TypeVar("T")


def _writing(action: Callable[[], T]) -> T:
    """Run a blocking write; a store that is full, read-only or refuses us is a 507 to the client.

    The request then fails as a whole: its staged files are dropped and the blobs it
    created are discarded (``services/attachments.Uploads.close``), so nothing is kept.
    """
    try:
        return action()
    except (FileExistsError, FileNotFoundError):
        raise
    except OSError as exc:
        logger.error(
            "the attachment store cannot be written: %s", exc.strerror or type(exc).__name__
        )
        raise InsufficientStorage(
            "The attachment store cannot take files right now; nothing was stored."
        ) from None


@dataclass(frozen=True, slots=True)
class StagedBlob:
    """An upload written in full but not yet saved; ``handle`` names it inside the backend."""

    handle: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob saved by one request. ``receipt`` lets that request undo the save safely."""

    sha256: str
    size: int
    created: bool
    receipt: str


class BlobWriter(Protocol):
    """Receives one upload chunk by chunk; hashes and counts it on the way."""

    @property
    def size(self) -> int: ...

    async def write(self, chunk: bytes) -> None: ...

    async def finish(self) -> StagedBlob: ...

    async def abort(self) -> None: ...


ReferencedFn = Callable[[list[str]], Awaitable[set[str]]]
"""Given SHA-256s, the ones some attachment row points to (the sweep asks the database)."""


class BlobStorage(Protocol):
    def writer(self) -> BlobWriter:
        """A new staged upload."""
        ...

    async def drop(self, staged: StagedBlob) -> None:
        """Forget a staged upload that will not be saved."""
        ...

    async def save(self, staged: StagedBlob) -> StoredBlob:
        """Move a staged upload into the store (at once visible to readers)."""
        ...

    async def discard(self, blob: StoredBlob) -> bool:
        """Undo a save of a request that failed; True if the blob was deleted.

        Only a blob the request created is deleted, and only if nobody saved the
        same content since.
        """
        ...

    async def size(self, sha256: str) -> int | None:
        """The stored size, or None when there is no such blob."""
        ...

    def read(self, sha256: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, stop)`` of a blob, in chunks."""
        ...

    async def sweep(
        self, referenced: ReferencedFn, *, grace: float = GRACE_SECONDS, now: float | None = None
    ) -> int:
        """Delete the blobs no row points to (journal markers older than ``grace``)."""
        ...

    async def download_url(self, sha256: str, *, filename: str, content_type: str) -> str | None:
        """A URL the client may fetch the blob from directly, or None to stream it."""
        ...

    async def check(self) -> None:
        """Raise ``InsufficientStorage`` or ``StorageUnavailable`` unless a file can be
        written now (for ``/readyz``)."""
        ...

    async def aclose(self) -> None:
        """Release connections (the app's shutdown, the end of a worker job)."""
        ...


class _LocalWriter:
    def __init__(self, storage: LocalBlobStorage) -> None:
        self._storage = storage
        self._name = f"{secrets.token_hex(16)}.part"
        self._file: IO[bytes] | None = None
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def path(self) -> Path:
        return self._storage.staging_dir / self._name

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self._size += len(chunk)
        if len(self._buffer) >= FLUSH_BYTES:
            await asyncio.to_thread(_writing, self._flush)

    def _flush(self) -> None:
        if self._file is None:
            self._storage.prepare()
            self._file = open(self.path, "xb")  # noqa: SIM115 (closed in finish or abort)
        self._hash.update(self._buffer)
        self._file.write(self._buffer)
        self._buffer.clear()

    def _finish(self) -> None:
        self._flush()
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    async def finish(self) -> StagedBlob:
        await asyncio.to_thread(_writing, self._finish)
        return StagedBlob(handle=self._name, sha256=self._hash.hexdigest(), size=self._size)

    def _abort(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    async def abort(self) -> None:
        self._buffer.clear()
        if self._file is not None:
            await asyncio.to_thread(self._abort)


class LocalBlobStorage:
    """Blobs on a local (or mounted) file system, under ``root``.

    ``blobs/`` holds the content, ``staging/`` uploads in progress, ``journal/``
    the saves not yet settled by the sweep, ``trash/`` a blob for the instant it
    is being deleted. All four are on one file system, so every move is an
    atomic rename.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.staging_dir = self.root / "staging"
        self.journal_dir = self.root / "journal"
        self.trash_dir = self.root / "trash"
        self._ready = False

    def prepare(self) -> None:
        """Create the folders (blocking; on first use, so that importing the app writes nothing)."""
        if not self._ready:
            for directory in (self.blobs_dir, self.staging_dir, self.journal_dir, self.trash_dir):
                directory.mkdir(parents=True, exist_ok=True)
            self._ready = True

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.blobs_dir / sha256[:2] / sha256[2:4] / sha256

    # --- uploads -----------------------------------------------------------------------------

    def writer(self) -> _LocalWriter:
        return _LocalWriter(self)

    def _staged_path(self, staged: StagedBlob) -> Path:
        if "/" in staged.handle or "\\" in staged.handle or staged.handle.startswith("."):
            raise ValueError("not a staging handle")
        return self.staging_dir / staged.handle

    async def drop(self, staged: StagedBlob) -> None:
        await asyncio.to_thread(self._staged_path(staged).unlink, missing_ok=True)

    async def save(self, staged: StagedBlob) -> StoredBlob:
        return await asyncio.to_thread(_writing, lambda: self._save(staged))

    async def check(self) -> None:
        await asyncio.to_thread(_writing, self._probe)

    def _probe(self) -> None:
        self.prepare()
        probe = self.staging_dir / f".ready-{secrets.token_hex(8)}"
        with open(probe, "xb") as file:
            file.write(b"ok")
            file.flush()
            os.fsync(file.fileno())
        probe.unlink()

    def _save(self, staged: StagedBlob) -> StoredBlob:
        self.prepare()
        source = self._staged_path(staged)
        final = self.path(staged.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.time_ns()
        marker = self._marker(staged.sha256, stamp // 1_000_000_000)
        # The marker comes first: whatever happens next, the sweep will look at this blob.
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
        os.utime(source, ns=(stamp, stamp))
        inode = os.stat(source).st_ino
        receipt = f"{marker.parent.name}/{marker.name}:{inode}:{stamp}"
        try:
            os.link(source, final)  # atomic, and fails if the content is already stored
        except FileExistsError:
            # Stored already: replace it with this fresh copy (same bytes), which tells a
            # concurrent discard or the sweep that the content is in use again.
            os.replace(source, final)
            _fsync_dir(final.parent)
            return StoredBlob(staged.sha256, staged.size, created=False, receipt=receipt)
        source.unlink()
        _fsync_dir(final.parent)
        return StoredBlob(staged.sha256, staged.size, created=True, receipt=receipt)

    async def discard(self, blob: StoredBlob) -> bool:
        if not blob.created:
            return False
        return await asyncio.to_thread(self._discard, blob)

    def _marker(self, sha256: str, at: float) -> Path:
        """``journal/<hour>/<sha256>.<token>``: the sweep reads only the hours past the grace."""
        bucket = time.strftime("%Y%m%d%H", time.gmtime(at))
        return self.journal_dir / bucket / f"{sha256}.{secrets.token_hex(8)}"

    def _discard(self, blob: StoredBlob) -> bool:
        marker_name, inode, stamp = blob.receipt.split(":")
        marker = self.journal_dir / marker_name
        token = marker.name.partition(".")[2]
        if marker.parent.parent != self.journal_dir or not token:
            raise ValueError("not a receipt of this storage")

        def still_ours(st: os.stat_result) -> bool:
            return st.st_ino == int(inode) and st.st_mtime_ns == int(stamp)

        deleted = self._delete_if(blob.sha256, token, still_ours)
        if deleted is not False:
            marker.unlink(missing_ok=True)
        return deleted is True

    def _delete_if(
        self, sha256: str, token: str, condition: Callable[[os.stat_result], bool]
    ) -> bool | None:
        """Delete a blob if ``condition`` holds for it. True: deleted; None: it was not there;
        False: kept.

        The blob is first moved aside, so no save can touch it while it is judged;
        a save meanwhile simply stores the content anew.
        """
        final = self.path(sha256)
        trash = self.trash_dir / f"{sha256}.{token}"
        try:
            os.rename(final, trash)
            if condition(os.stat(trash)):
                trash.unlink()
                return True
        except FileNotFoundError:
            return None
        self._restore(trash, final)
        return False

    @staticmethod
    def _restore(trash: Path, final: Path) -> None:
        try:
            os.link(trash, final)
        except FileExistsError:
            pass  # saved again meanwhile: the same bytes are there
        except FileNotFoundError:
            return  # restored (or judged) by someone else already
        trash.unlink(missing_ok=True)

    # --- downloads ---------------------------------------------------------------------------

    async def size(self, sha256: str) -> int | None:
        try:
            return (await asyncio.to_thread(os.stat, self.path(sha256))).st_size
        except FileNotFoundError:
            return None

    async def read(
        self, sha256: str, start: int = 0, stop: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path(sha256)
        file = await asyncio.to_thread(open, path, "rb")
        try:
            if start:
                await asyncio.to_thread(file.seek, start)
            remaining = None if stop is None else stop - start
            while remaining is None or remaining > 0:
                size = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
                chunk = await asyncio.to_thread(file.read, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            file.close()

    async def download_url(self, sha256: str, *, filename: str, content_type: str) -> str | None:
        return None  # the API streams local files itself

    async def aclose(self) -> None:
        return None

    # --- the sweep ---------------------------------------------------------------------------

    async def sweep(
        self,
        referenced: ReferencedFn,
        *,
        grace: float = GRACE_SECONDS,
        now: float | None = None,
    ) -> int:
        """Settle the journal: the saves older than ``grace`` whose blob no row points to.

        Only the hourly journal folders past the grace are read, so the work is
        that of the uploads of an hour, whatever the size of the store. Stale
        staging files (a crashed upload) and trash (a crashed delete, put back)
        are cleared too. Safe in several workers at once.
        """
        now = time.time() if now is None else now
        cutoff = now - grace
        await asyncio.to_thread(self.prepare)
        await asyncio.to_thread(self._clear_staging_and_trash, cutoff, now - 60)
        deleted = 0
        for bucket in await asyncio.to_thread(self._old_buckets, cutoff):
            markers = await asyncio.to_thread(self._markers, bucket)
            for start in range(0, len(markers), 500):
                batch = markers[start : start + 500]
                used = await referenced(sorted({marker.name[:64] for marker in batch}))
                deleted += await asyncio.to_thread(self._settle, batch, used, cutoff)
            with contextlib.suppress(OSError):
                bucket.rmdir()  # empty once every save in it is settled
        return deleted

    def _old_buckets(self, cutoff: float) -> list[Path]:
        old = []
        for entry in os.scandir(self.journal_dir):
            try:
                start = calendar.timegm(time.strptime(entry.name, "%Y%m%d%H"))
            except ValueError:
                continue
            if start + 3600 <= cutoff:
                old.append(Path(entry.path))
        return sorted(old)

    @staticmethod
    def _markers(bucket: Path) -> list[Path]:
        with os.scandir(bucket) as entries:
            return [
                Path(e.path)
                for e in entries
                if _SHA256.match(e.name[:64]) and e.name[64:65] == "." and len(e.name) > 65
            ]

    def _settle(self, batch: Iterable[Path], used: set[str], cutoff: float) -> int:
        deleted = 0
        for marker in batch:
            sha = marker.name[:64]
            if sha in used:
                marker.unlink(missing_ok=True)
                continue
            token = marker.name[65:]
            outcome = self._delete_if(sha, token, lambda st: st.st_mtime < cutoff)
            if outcome is True:
                deleted += 1
                logger.info("removed unreferenced blob %s", sha)
            if outcome is not False:
                marker.unlink(missing_ok=True)
            # Kept (saved again within the grace): the marker stays for a later sweep.
        return deleted

    def _clear_staging_and_trash(self, cutoff: float, minute_ago: float) -> None:
        with os.scandir(self.staging_dir) as entries:
            for entry in entries:
                if _older(entry, cutoff):
                    Path(entry.path).unlink(missing_ok=True)
        # Trash is judged by ctime (the time it was moved there, unlike mtime): anything
        # still there after a minute was left by a crash mid-delete, and goes back.
        with os.scandir(self.trash_dir) as entries:
            for entry in entries:
                sha = entry.name.partition(".")[0]
                if _SHA256.match(sha) and _older(entry, minute_ago, ctime=True):
                    self._restore(Path(entry.path), self.path(sha))


def _older(entry: os.DirEntry[str], cutoff: float, *, ctime: bool = False) -> bool:
    try:
        st = entry.stat()
    except FileNotFoundError:
        return False
    return (st.st_ctime if ctime else st.st_mtime) < cutoff


def _fsync_dir(directory: Path) -> None:
    """Make a rename or link durable (the file's own bytes were synced when staged)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
