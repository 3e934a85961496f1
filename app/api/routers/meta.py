"""What front ends need to render tickets: labels of every code, statuses, the moves."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentActor
from app.api.i18n import CallerLang
from app.api.problems import responses
from app.api.schemas.meta import Label, LabelMeta, MoveInfo, StatusInfo, StatusMeta
from app.domain import i18n
from app.domain.tickets import MOVES, REPLY_MOVES, Mover, TicketStatus, TicketType, label

router = APIRouter(prefix="/meta", tags=["meta"])


@router.get(
    "",
    response_model=LabelMeta,
    operation_id="get_meta",
    responses=responses(401, 422),
)
async def get_meta(actor: CurrentActor, lang: CallerLang) -> LabelMeta:
    """Labels for every code the API answers with (statuses, ticket types, severities,
    timeline event kinds, contact channels) in the caller's language: `?lang`, else the
    user's locale, else `Accept-Language`, else English."""
    return LabelMeta(
        lang=lang,
        statuses=[Label(value=s, label=label(s, lang)) for s in TicketStatus],
        types=[Label(value=t, label=i18n.TYPE_LABELS[lang][t]) for t in TicketType],
        severities=[Label(value=s, label=text) for s, text in i18n.SEVERITY_LABELS[lang].items()],
        event_kinds=[Label(value=k, label=i18n.EVENT_LABELS[lang][k]) for k in i18n.EVENT_KINDS],
        channels=[Label(value=c, label=text) for c, text in i18n.CHANNEL_LABELS[lang].items()],
    )


@router.get(
    "/statuses",
    response_model=StatusMeta,
    operation_id="get_status_meta",
    responses=responses(401, 422),
)
async def get_status_meta(actor: CurrentActor, lang: CallerLang) -> StatusMeta:
    """Every status with its label in the caller's language (as for `/meta`), the table of
    moves, and what a reply does."""
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
