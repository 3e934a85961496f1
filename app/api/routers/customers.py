"""Customers (staff)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.deps import CurrentActor, Cursor, Id, Limit, SessionDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.customers import CustomerCreate, CustomerRead, CustomerUpdate
from app.services import customers as customer_service

router = APIRouter(prefix="/customers", tags=["customers"])


@router.post(
    "",
    response_model=CustomerRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_customer",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_customer(
    body: CustomerCreate,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CustomerRead | Response:
    """Create a customer; `code` is unique (compared upper-cased)."""

    async def make() -> CustomerRead:
        customer = await customer_service.create(session, actor, **body.model_dump())
        response.headers["Location"] = f"/api/v1/customers/{customer.id}"
        return CustomerRead.model_validate(customer)

    return await idempotent(
        request, response, session, actor, idempotency_key, body.model_dump(mode="json"), make, 201
    )


@router.get(
    "",
    response_model=Page[CustomerRead],
    operation_id="list_customers",
    responses=responses(400, 401, 403, 422),
)
async def list_customers(
    session: SessionDep,
    actor: CurrentActor,
    code: str | None = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[CustomerRead]:
    items, next_cursor = await customer_service.list_page(
        session, actor, code=code, limit=limit, cursor=cursor
    )
    return Page(items=[CustomerRead.model_validate(c) for c in items], next_cursor=next_cursor)


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    operation_id="get_customer",
    responses=responses(401, 403, 404, 422),
)
async def get_customer(customer_id: Id, session: SessionDep, actor: CurrentActor) -> CustomerRead:
    return CustomerRead.model_validate(await customer_service.get(session, actor, customer_id))


@router.patch(
    "/{customer_id}",
    response_model=CustomerRead,
    operation_id="update_customer",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def update_customer(
    customer_id: Id, body: CustomerUpdate, session: SessionDep, actor: CurrentActor
) -> CustomerRead:
    customer = await customer_service.update(session, actor, customer_id, body.changes())
    return CustomerRead.model_validate(customer)
