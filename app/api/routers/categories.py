"""Categories: the tree of areas and sub-areas of each ticket type."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.deps import CurrentActor, Id, SessionDep
from app.api.i18n import CallerLang
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.categories import CategoryCreate, CategoryRead, CategoryUpdate
from app.domain.access import Scope, require_scope
from app.services import categories as category_service
from app.services.categories import Node

router = APIRouter(prefix="/categories", tags=["categories"])


def _read(node: Node, lang: str) -> CategoryRead:
    return CategoryRead.of(node.category, lang, [_read(child, lang) for child in node.children])


@router.get(
    "",
    response_model=list[CategoryRead],
    operation_id="list_categories",
    responses=responses(401, 422),
)
async def list_categories(
    session: SessionDep, actor: CurrentActor, lang: CallerLang
) -> list[CategoryRead]:
    """Every area (by ticket `type`) with its sub-areas in `children`, named in the
    caller's language (`names` has every translation)."""
    require_scope(actor, Scope.TICKETS_READ)
    return [_read(node, lang) for node in await category_service.tree(session)]


@router.post(
    "",
    response_model=CategoryRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_category",
    responses=responses(400, 401, 403, 409, 422),
)
async def create_category(
    body: CategoryCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
    idempotency_key: IdempotencyKey = None,
) -> CategoryRead | Response:
    """Add an area (no parent) or a sub-area (admin), with its `names` in it, es, en."""

    async def make() -> CategoryRead:
        category = await category_service.create(
            session,
            actor,
            type_=body.type,
            name=body.name,
            parent_id=body.parent_id,
            names=body.names.model_dump(exclude_unset=True) if body.names else None,
        )
        response.headers["Location"] = f"/api/v1/categories/{category.id}"
        return CategoryRead.of(category, lang)

    return await idempotent(
        request, response, session, actor, idempotency_key, body.model_dump(mode="json"), make, 201
    )


@router.patch(
    "/{category_id}",
    response_model=CategoryRead,
    operation_id="update_category",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def update_category(
    category_id: Id,
    body: CategoryUpdate,
    session: SessionDep,
    actor: CurrentActor,
    lang: CallerLang,
) -> CategoryRead:
    """Rename a category or change its translations (admin)."""
    node = await category_service.rename(
        session,
        actor,
        category_id,
        body.name,
        body.names.model_dump(exclude_unset=True) if body.names else None,
    )
    return _read(node, lang)
