"""Where attachments are stored, as the configuration names it: ``s3://bucket/prefix``.

A value, parsed the same way when the settings are read (a wrong URL stops the
start with a clear message) and when the store is made (``infra/blob_stores.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class S3Location:
    """``s3://bucket/prefix`` split; the prefix is '' or ends with '/'."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith("s3://"):
            raise ValueError("an S3 storage URL looks like s3://bucket/prefix")
        bucket, _, prefix = url[5:].partition("/")
        if not _BUCKET.match(bucket):
            raise ValueError(f"{bucket!r} is not an S3 bucket name")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")
