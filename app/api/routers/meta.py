"""What front ends need to render tickets: statuses, their labels, the moves."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from app.api.deps import CurrentActor
from app.api.problems import responses
from app.api.schemas.tickets import MoveInfo, StatusInfo, StatusMeta
from app.domain.tickets import MOVES, REPLY_MOVES, Mover, TicketStatus, label

router = APIRouter(prefix="/meta", tags=["meta"])


@router.get(
    "/statuses",
    response_model=StatusMeta,
    operation_id="get_status_meta",
    responses=responses(401, 422),
)
async def get_status_meta(
    actor: CurrentActor, lang: Literal["it", "es", "en"] = "en"
) -> StatusMeta:
    """Every status with its label in `lang`, the table of moves, and what a reply does."""
    return StatusMeta(
        lang=lang,
        statuses=[StatusInfo(value=s, label=label(s, lang)) for s in TicketStatus],
        moves=[
            MoveInfo.model_validate(
                {"from_": frm, "to": to, "who": sorted(m.value for m in movers)}
            )
            for (frm, to), movers in MOVES.items()
        ],
        reply_moves=[
            MoveInfo.model_validate({"from_": frm, "to": to, "who": [Mover.CUSTOMER.value]})
            for frm, to in REPLY_MOVES.items()
        ],
    )
