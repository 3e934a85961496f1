"""Users (staff only; agents manage customer users, admins everyone)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.deps import CurrentActor, Cursor, Id, IdFilter, Limit, SessionDep, SettingsDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.auth import UserCreate, UserRead, UserUpdate
from app.api.schemas.common import Page
from app.domain.access import Role
from app.services import users as user_service

router = APIRouter(prefix="/users", tags=["users"])


@router.post(
    "",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_user",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_user(
    body: UserCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> UserRead | Response:
    """Create a user. With an `Idempotency-Key`, the password is not part of what identifies
    the request (no hash of it is kept)."""

    async def make() -> UserRead:
        user = await user_service.create(
            session,
            settings,
            actor,
            email=body.email,
            name=body.name,
            password=body.password,
            role=body.role,
            customer_id=body.customer_id,
            phone=body.phone,
            locale=body.locale,
        )
        response.headers["Location"] = f"/api/v1/users/{user.id}"
        return UserRead.model_validate(user)

    identity = body.model_dump(mode="json", exclude={"password"})
    return await idempotent(request, response, session, actor, idempotency_key, identity, make, 201)


@router.get(
    "",
    response_model=Page[UserRead],
    operation_id="list_users",
    responses=responses(400, 401, 403, 422),
)
async def list_users(
    session: SessionDep,
    actor: CurrentActor,
    role: Role | None = None,
    customer_id: IdFilter = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[UserRead]:
    items, next_cursor = await user_service.list_page(
        session, actor, role=role, customer_id=customer_id, limit=limit, cursor=cursor
    )
    return Page(items=[UserRead.model_validate(u) for u in items], next_cursor=next_cursor)


@router.get(
    "/{user_id}",
    response_model=UserRead,
    operation_id="get_user",
    responses=responses(401, 403, 404, 422),
)
async def get_user(user_id: Id, session: SessionDep, actor: CurrentActor) -> UserRead:
    return UserRead.model_validate(await user_service.get(session, actor, user_id))


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    operation_id="update_user",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def update_user(
    user_id: Id,
    body: UserUpdate,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
) -> UserRead:
    """Edit a user; a new password or a deactivation ends the user's sessions. Either, or a
    new `email`, cancels the user's pending e-mail change (from `PATCH /me`). The last
    active administrator cannot be demoted or deactivated (409)."""
    user = await user_service.update(session, settings, actor, user_id, body.changes())
    return UserRead.model_validate(user)
