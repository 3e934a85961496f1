"""Login, logout, one's own profile and API keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from app.api.deps import (
    BearerToken,
    CurrentActor,
    Id,
    SessionDep,
    SessionmakerDep,
    SettingsDep,
    client_address,
)
from app.api.problems import responses
from app.api.ratelimit import limit_by_address
from app.api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    MeUpdate,
    MyCustomerRead,
    OrdersSummary,
    TokenRead,
    UserRead,
)
from app.api.schemas.customers import CustomerRead
from app.services import auth as auth_service
from app.services import customers as customer_service
from app.services import users as user_service

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/login",
    response_model=TokenRead,
    operation_id="login",
    responses=responses(400, 401, 422, 429),
    dependencies=[Depends(limit_by_address)],
)
async def login(
    body: LoginRequest,
    request: Request,
    sessions: SessionmakerDep,
    settings: SettingsDep,
) -> TokenRead:
    """Exchange an e-mail and password for a bearer token.

    Repeated failures for one account or from one address are answered 429 with Retry-After.
    """
    issued = await auth_service.login(
        sessions,
        settings,
        email=body.email,
        password=body.password,
        address=client_address(request),
        failures=request.app.state.login_failures,
    )
    return TokenRead(access_token=issued.access_token, expires_at=issued.expires_at)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="logout",
    responses=responses(401, 403),
)
async def logout(session: SessionDep, token: BearerToken, actor: CurrentActor) -> Response:
    """Revoke the token of this request at once."""
    await auth_service.logout(session, actor, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserRead, operation_id="get_me", responses=responses(401, 403))
async def get_me(session: SessionDep, actor: CurrentActor) -> UserRead:
    return UserRead.model_validate(await user_service.me(session, actor))


@router.patch(
    "/me",
    response_model=UserRead,
    operation_id="update_me",
    responses=responses(400, 401, 403, 409, 422),
)
async def update_me(
    body: MeUpdate,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    token: BearerToken,
) -> UserRead:
    """Change name, phone, locale, time zone; a new password or e-mail needs `current_password`.

    Changing the password ends every other session of the user, and cancels an e-mail
    change asked before it (its link stops working). A new `email` is
    not applied here: a link is mailed to it, and opening it (within 24 hours)
    makes it the user's address; until then the old one stays (409 if taken).
    """
    user = await user_service.update_me(
        session, settings, actor, body.model_dump(exclude_unset=True), current_token=token
    )
    return UserRead.model_validate(user)


@router.get(
    "/me/customer",
    response_model=MyCustomerRead,
    operation_id="get_my_customer",
    responses=responses(401, 403, 404),
)
async def get_my_customer(session: SessionDep, actor: CurrentActor) -> MyCustomerRead:
    """A customer user's company, with its plan and a summary of its orders."""
    customer, summary = await customer_service.own_customer(session, actor)
    base = CustomerRead.model_validate(customer).model_dump()
    return MyCustomerRead(**base, orders_summary=OrdersSummary(**summary))


keys = APIRouter(prefix="/api-keys", tags=["api-keys"])


@keys.post(
    "",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_api_key",
    responses=responses(400, 401, 403, 422),
)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, actor: CurrentActor
) -> ApiKeyCreated:
    """Create a key for an integrator (admin). The secret `key` is shown only here."""
    issued = await auth_service.create_api_key(session, actor, name=body.name, scopes=body.scopes)
    return ApiKeyCreated(**ApiKeyRead.model_validate(issued.key).model_dump(), key=issued.secret)


@keys.get(
    "", response_model=list[ApiKeyRead], operation_id="list_api_keys", responses=responses(401, 403)
)
async def list_api_keys(session: SessionDep, actor: CurrentActor) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in await auth_service.list_api_keys(session, actor)]


@keys.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revoke_api_key",
    responses=responses(401, 403, 404, 422),
)
async def revoke_api_key(key_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Revoke a key (admin): calls with it are 401 from now on."""
    await auth_service.revoke_api_key(session, actor, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
