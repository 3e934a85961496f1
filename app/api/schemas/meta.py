"""What the API's codes mean: statuses and their moves, labels in each language."""

from __future__ import annotations

from pydantic import Field

from app.api.schemas.common import Output
from app.domain.tickets import TicketStatus


class StatusInfo(Output):
    value: TicketStatus
    label: str


class MoveInfo(Output):
    from_: TicketStatus = Field(serialization_alias="from")
    to: TicketStatus
    who: list[str]


class StatusMeta(Output):
    lang: str
    statuses: list[StatusInfo]
    moves: list[MoveInfo]
    reply_moves: list[MoveInfo]


class Label(Output):
    value: str
    label: str


class LabelMeta(Output):
    """Labels of the codes the API answers with, in one language."""

    lang: str
    statuses: list[Label]
    types: list[Label]
    severities: list[Label]
    event_kinds: list[Label]
    channels: list[Label]
