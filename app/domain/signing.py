"""Short-lived signed links: an HMAC over what the link opens and until when.

A link to an attachment's bytes that needs no bearer header (so an ``<img>`` can show
it) is bound to the attachment and its content (id and SHA-256) and to an expiry
time; changing any of them, or waiting past the expiry, breaks it.
"""

from __future__ import annotations

import hashlib
import hmac


def attachment_signature(key: bytes, attachment_id: int, sha256: str, expires: int) -> str:
    message = f"attachment:{attachment_id}:{sha256}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def valid_attachment_signature(
    key: bytes, attachment_id: int, sha256: str, expires: int, signature: str, now: float
) -> bool:
    if expires < now:
        return False
    expected = attachment_signature(key, attachment_id, sha256, expires)
    return hmac.compare_digest(expected, signature)
