"""The attachments' store the settings name: a folder of this machine, or S3.

Apart from ``infra/storage.py`` (the stores' contract and the local one) and
``infra/s3.py`` (which builds on that contract), so that neither imports the other
back: the S3 client (aioboto3) loads only when the settings name S3.
"""

from __future__ import annotations

from app.config import Settings
from app.domain.storage_url import S3Location
from app.infra.storage import BlobStorage, LocalBlobStorage


def make_storage(settings: Settings) -> BlobStorage:
    """The storage the settings name: S3-compatible object storage when
    ``SPORTELLO_STORAGE_URL`` is an ``s3://`` URL, else the local folder ``STORAGE_DIR``."""
    if settings.storage_url:
        try:
            from app.infra.s3 import S3BlobStorage  # the S3 client loads only if used
        except ImportError:
            raise RuntimeError(
                "SPORTELLO_STORAGE_URL names S3 storage, but the S3 client is not installed:"
                " pip install 'sportello[s3]'"
            ) from None

        return S3BlobStorage(
            S3Location.parse(settings.storage_url),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            presign_seconds=settings.s3_presign_seconds,
        )
    return LocalBlobStorage(settings.storage_dir)
