"""The key that signs short-lived links: ``SIGNING_KEY``, else one kept beside the files.

Every process serving the API must sign with the same key, or a link made by one is
refused by another. With no ``SIGNING_KEY`` set, a random key is made once and kept
in ``STORAGE_DIR/.signing-key`` (mode 600), which processes sharing the storage share.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

from app.config import Settings

KEY_FILE = ".signing-key"


def signing_key(settings: Settings) -> bytes:
    if settings.signing_key:
        return settings.signing_key.encode()
    return _stored_key(Path(settings.storage_dir))


def _stored_key(directory: Path) -> bytes:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    with contextlib.suppress(FileExistsError):
        # O_EXCL: of several processes starting at once, one writes the key, all read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):
        key = path.read_text().strip()
        if len(key) == 64:
            return key.encode()
        time.sleep(0.01)  # another process is writing it right now
    raise RuntimeError(f"the signing key in {path} is not readable")
