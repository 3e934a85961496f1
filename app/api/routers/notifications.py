"""The e-mail outbox, for admins: what was sent, what waits, what failed; retry a failed one."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentActor, Cursor, Id, IdFilter, Limit, SessionDep
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.notifications import NotificationRead
from app.domain.notifications import NotificationStatus
from app.services import notifications as notification_service

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get(
    "",
    response_model=Page[NotificationRead],
    operation_id="list_notifications",
    responses=responses(400, 401, 403, 422),
)
async def list_notifications(
    session: SessionDep,
    actor: CurrentActor,
    status: NotificationStatus | None = None,
    ticket_id: IdFilter = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[NotificationRead]:
    """Newest first; `status=failed` lists the mails given up after their last attempt."""
    items, next_cursor = await notification_service.list_page(
        session, actor, status=status, ticket_id=ticket_id, limit=limit, cursor=cursor
    )
    return Page(
        items=[NotificationRead.of(n, number) for n, number in items], next_cursor=next_cursor
    )


@router.post(
    "/{notification_id}/retry",
    response_model=NotificationRead,
    operation_id="retry_notification",
    responses=responses(401, 403, 404, 409, 422),
)
async def retry_notification(
    notification_id: Id, session: SessionDep, actor: CurrentActor
) -> NotificationRead:
    """Queue a failed notification again, due now, with a fresh set of attempts (409 unless
    it is `failed`)."""
    notification, number = await notification_service.retry(session, actor, notification_id)
    return NotificationRead.of(notification, number)
