"""Orders and subscriptions (staff write; customers read their own)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.deps import CurrentActor, Cursor, Id, IdFilter, Limit, SessionDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.customers import OrderCreate, OrderRead, OrderUpdate
from app.domain.orders import OrderKind, OrderStatus
from app.services import orders as order_service

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post(
    "",
    response_model=OrderRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_order",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_order(
    body: OrderCreate,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderRead | Response:
    """Record an order of a customer; `number` is unique."""

    async def make() -> OrderRead:
        order = await order_service.create(session, actor, **body.model_dump())
        response.headers["Location"] = f"/api/v1/orders/{order.id}"
        return OrderRead.model_validate(order)

    return await idempotent(
        request, response, session, actor, idempotency_key, body.model_dump(mode="json"), make, 201
    )


@router.get(
    "",
    response_model=Page[OrderRead],
    operation_id="list_orders",
    responses=responses(400, 401, 403, 422),
)
async def list_orders(
    session: SessionDep,
    actor: CurrentActor,
    customer_id: IdFilter = None,
    status: OrderStatus | None = None,
    kind: OrderKind | None = None,
    number: str | None = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[OrderRead]:
    """Staff see all orders; a customer user sees their customer's only."""
    items, next_cursor = await order_service.list_page(
        session,
        actor,
        customer_id=customer_id,
        status=status,
        kind=kind,
        number=number,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[OrderRead.model_validate(o) for o in items], next_cursor=next_cursor)


@router.get(
    "/{order_id}",
    response_model=OrderRead,
    operation_id="get_order",
    responses=responses(401, 403, 404, 422),
)
async def get_order(order_id: Id, session: SessionDep, actor: CurrentActor) -> OrderRead:
    return OrderRead.model_validate(await order_service.get(session, actor, order_id))


@router.patch(
    "/{order_id}",
    response_model=OrderRead,
    operation_id="update_order",
    responses=responses(400, 401, 403, 404, 422),
)
async def update_order(
    order_id: Id, body: OrderUpdate, session: SessionDep, actor: CurrentActor
) -> OrderRead:
    return OrderRead.model_validate(
        await order_service.update(session, actor, order_id, body.changes())
    )
