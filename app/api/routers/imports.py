"""Bulk import of tickets from another help desk (admins; API keys with `tickets:import`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from app.api.body import EXTRA_MODELS, read_limited, validate_json
from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.api.problems import responses
from app.api.schemas.imports import (
    ImportOutcome,
    ImportRequest,
    ImportResults,
    ImportTicket,
    LooseImportRequest,
)
from app.domain.errors import UnsupportedMediaType
from app.services import imports as import_service

router = APIRouter(prefix="/imports", tags=["integrations"])

if ImportRequest not in EXTRA_MODELS:
    EXTRA_MODELS.append(ImportRequest)


def _service_item(t: ImportTicket) -> import_service.ImportedTicket:
    return import_service.ImportedTicket(
        external_id=t.external_id,
        customer_code=t.customer_code,
        type=t.type,
        subject=t.subject,
        description=t.description,
        created_at=t.created_at,
        status=t.status,
        severity=t.severity,
        category_id=t.category_id,
        order_id=t.order_id,
        solution=t.solution,
        assignee_id=t.assignee_id,
        contact_name=t.contact.name,
        contact_phone=t.contact.phone,
        contact_email=str(t.contact.email) if t.contact.email else None,
        contact_channel=t.contact.preferred_channel,
        updated_at=t.updated_at,
        resolved_at=t.resolved_at,
        closed_at=t.closed_at,
        replies=[
            import_service.ImportedReply(
                body=r.body,
                visibility=r.visibility,
                author_name=r.author_name,
                author_role=r.author_role,
                created_at=r.created_at,
            )
            for r in t.replies
        ],
    )


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_context=False, include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    text = f"{where}: {first['msg']}" if where else str(first["msg"])
    more = exc.error_count() - 1
    return (text + (f" (and {more} more)" if more else ""))[:300]


@router.post(
    "/tickets",
    response_model=ImportResults,
    operation_id="import_tickets",
    responses=responses(400, 401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ImportRequest"}}
            },
        }
    },
)
async def import_tickets(
    request: Request, session: SessionDep, settings: SettingsDep, actor: CurrentActor
) -> ImportResults:
    """Up to 1,000 tickets with their replies, history times, status and solution; no mail,
    no webhook. Each ticket is answered on its own: `created`, `already_imported` (its
    `external_id` was imported before) or `refused` with the `reason`."""
    import_service.require_importer(actor)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = await read_limited(request, settings.import_max_bytes)
    loose = validate_json(LooseImportRequest, raw)
    outcomes: list[ImportOutcome | None] = [None] * len(loose.tickets)
    valid: list[tuple[int, ImportTicket]] = []
    for i, item in enumerate(loose.tickets):
        try:
            valid.append((i, ImportTicket.model_validate(item)))
        except ValidationError as exc:
            external = item.get("external_id")
            outcomes[i] = ImportOutcome(
                index=i,
                external_id=external if isinstance(external, str) else None,
                result=import_service.Result.REFUSED,
                reason=_reason(exc),
            )
    done = await import_service.import_tickets(session, actor, [_service_item(t) for _, t in valid])
    for (i, _), outcome in zip(valid, done, strict=True):
        assert outcome is not None
        outcomes[i] = ImportOutcome(
            index=i,
            external_id=outcome.external_id,
            result=outcome.result,
            ticket_id=outcome.ticket_id,
            number=outcome.number,
            reason=outcome.reason,
        )
    items = [o for o in outcomes if o is not None]
    counts: dict[str, Any] = {r.value: 0 for r in import_service.Result}
    for o in items:
        counts[o.result.value] += 1
    return ImportResults(items=items, **counts)
