"""The e-mail channel's bodies: received mails, mail domains, CC lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.api.schemas.common import Email, Input, Output
from app.db.models import InboundMail
from app.domain.inbound import MAX_CC, MAX_DOMAINS, InboundOutcome, InboundSource


class InboundMailRead(Output):
    """A received mail and what became of it (never its content)."""

    id: int
    message_id: str
    source: InboundSource
    sender: str
    subject: str
    outcome: InboundOutcome
    reason: str | None
    ticket_id: int | None
    ticket_number: str | None
    reply_id: int | None
    size: int
    answer: str | None = Field(description="The mail sent back to the sender, if any")
    answer_status: str | None
    received_at: datetime
    duplicate: bool = Field(
        default=False, description="True when this Message-ID had been received before"
    )

    @classmethod
    def of(
        cls, mail: InboundMail, ticket_number: str | None, *, duplicate: bool = False
    ) -> InboundMailRead:
        return cls(
            id=mail.id,
            message_id=mail.message_id,
            source=mail.source,
            sender=mail.sender,
            subject=mail.subject,
            outcome=mail.outcome,
            reason=mail.reason,
            ticket_id=mail.ticket_id,
            ticket_number=ticket_number,
            reply_id=mail.reply_id,
            size=mail.size,
            answer=mail.answer_kind,
            answer_status=mail.answer_status,
            received_at=mail.received_at,
            duplicate=duplicate,
        )


Domain = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class MailDomains(Input):
    domains: Annotated[list[Domain], Field(max_length=MAX_DOMAINS)]


class MailDomainsRead(Output):
    domains: list[str]


class CcList(Input):
    emails: Annotated[list[Email], Field(max_length=MAX_CC)]


class CcListRead(Output):
    emails: list[str]
