"""Attachment bodies (``AttachmentRead`` itself lives with the tickets, which embed it)."""

from __future__ import annotations

from datetime import datetime

from app.api.schemas.common import Output
from app.api.schemas.tickets import AttachmentRead


class AttachmentsAdded(Output):
    """The files a request added, in the order they were sent."""

    attachments: list[AttachmentRead]


class SignedLink(Output):
    """A link that opens a file without a bearer header, until ``expires_at``."""

    url: str
    expires_at: datetime
