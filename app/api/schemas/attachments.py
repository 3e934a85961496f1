"""Attachment bodies (``AttachmentRead`` itself lives with the tickets, which embed it)."""

from __future__ import annotations

from app.api.schemas.common import Output
from app.api.schemas.tickets import AttachmentRead


class AttachmentsAdded(Output):
    """The files a request added, in the order they were sent."""

    attachments: list[AttachmentRead]
