"""Webhooks (admins): hooks, their deliveries, redelivery, secret rotation."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from app.api.deps import CurrentActor, Cursor, Id, Limit, SessionDep, SettingsDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.webhooks import (
    DeliveryRead,
    EventKind,
    EventKinds,
    SecretRotation,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.domain.access import require_admin
from app.domain.events import EVENT_KINDS
from app.domain.webhooks import DeliveryStatus
from app.services import webhooks as webhook_service

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get(
    "/event-kinds",
    response_model=EventKinds,
    operation_id="list_webhook_event_kinds",
    responses=responses(401, 403),
)
async def list_event_kinds(actor: CurrentActor) -> EventKinds:
    """The timeline's event kinds a hook may ask for (`*` asks for all, those added later
    included)."""
    require_admin(actor)
    return EventKinds(items=[EventKind(kind=k, description=d) for k, d in EVENT_KINDS.items()])


@router.post(
    "",
    response_model=WebhookWithSecret,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_webhook",
    responses=responses(400, 401, 403, 422),
)
async def create_webhook(
    body: WebhookCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> WebhookWithSecret | Response:
    """Register an endpoint; the answer shows its signing `secret`, once."""

    async def make() -> WebhookWithSecret:
        hook = await webhook_service.create(
            session,
            actor,
            webhook_service.HookFields(**body.model_dump()),
            webhook_service.reach_of(settings),
        )
        response.headers["Location"] = f"/api/v1/webhooks/{hook.id}"
        return WebhookWithSecret.of(hook)

    return await idempotent(
        request, response, session, actor, idempotency_key, body.model_dump(mode="json"), make, 201
    )


@router.get(
    "",
    response_model=Page[WebhookRead],
    operation_id="list_webhooks",
    responses=responses(400, 401, 403, 422),
)
async def list_webhooks(
    session: SessionDep, actor: CurrentActor, limit: Limit = 25, cursor: Cursor = None
) -> Page[WebhookRead]:
    items, next_cursor = await webhook_service.list_page(session, actor, limit=limit, cursor=cursor)
    return Page(items=[WebhookRead.of(h) for h in items], next_cursor=next_cursor)


@router.get(
    "/{webhook_id}",
    response_model=WebhookRead,
    operation_id="get_webhook",
    responses=responses(401, 403, 404, 422),
)
async def get_webhook(webhook_id: Id, session: SessionDep, actor: CurrentActor) -> WebhookRead:
    return WebhookRead.of(await webhook_service.get(session, actor, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookRead,
    operation_id="update_webhook",
    responses=responses(400, 401, 403, 404, 422),
)
async def update_webhook(
    webhook_id: Id,
    body: WebhookUpdate,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
) -> WebhookRead:
    """Change what is given; `"enabled": true` turns a disabled hook back on (its waiting
    deliveries go out, in order)."""
    hook = await webhook_service.update(
        session,
        actor,
        webhook_id,
        body.model_dump(exclude_unset=True, mode="python"),
        webhook_service.reach_of(settings),
    )
    return WebhookRead.of(hook)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_webhook",
    responses=responses(401, 403, 404, 422),
)
async def delete_webhook(webhook_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove the hook and its deliveries."""
    await webhook_service.delete(session, actor, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    operation_id="rotate_webhook_secret",
    responses=responses(400, 401, 403, 404, 422),
)
async def rotate_webhook_secret(
    webhook_id: Id, body: SecretRotation, session: SessionDep, actor: CurrentActor
) -> WebhookWithSecret:
    """A new secret; the previous one also signs (a second `v1,` signature) until
    `previous_secret_expires_at`."""
    hook = await webhook_service.rotate_secret(
        session, actor, webhook_id, timedelta(hours=body.overlap_hours)
    )
    return WebhookWithSecret.of(hook)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[DeliveryRead],
    operation_id="list_webhook_deliveries",
    responses=responses(400, 401, 403, 404, 422),
)
async def list_webhook_deliveries(
    webhook_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    status: DeliveryStatus | None = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[DeliveryRead]:
    """Newest first, with status, attempts, the last response code, error and time."""
    rows, next_cursor = await webhook_service.deliveries(
        session, actor, webhook_id, status=status, limit=limit, cursor=cursor
    )
    return Page(items=[DeliveryRead.of(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="redeliver_webhook_delivery",
    responses=responses(401, 403, 404, 409, 422),
)
async def redeliver(
    webhook_id: Id, delivery_id: Id, session: SessionDep, actor: CurrentActor
) -> DeliveryRead:
    """Queue a delivered or failed delivery again (same `webhook-id`, same body); 409 while it
    is still pending or being sent."""
    row = await webhook_service.redeliver(session, actor, webhook_id, delivery_id)
    return DeliveryRead.of(row)
