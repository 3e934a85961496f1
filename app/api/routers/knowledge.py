"""Knowledge and self-service: articles, the search of solved tickets, suggestions."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel

from app.api.body import EXTRA_MODELS, MAX_JSON_BYTES, read_limited, validate_json
from app.api.conditional import json_response
from app.api.deps import CurrentActor, Cursor, Id, IdFilter, Limit, SessionDep, SettingsDep
from app.api.idempotency import IdempotencyKey, idempotent
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.knowledge import (
    ArticleCreate,
    ArticleRead,
    ArticleSuggestion,
    ArticleUpdate,
    Suggestions,
    SuggestRequest,
    TicketSuggestion,
)
from app.api.schemas.tickets import TicketRead, staff_view
from app.domain.access import Locale
from app.domain.errors import BadRequest, UnsupportedMediaType
from app.services import articles as article_service
from app.services import embeddings as embedding_service
from app.services import suggestions as suggestion_service

router = APIRouter(prefix="/kb", tags=["knowledge"])
solutions = APIRouter(prefix="/solutions", tags=["knowledge"])

M = TypeVar("M", bound=BaseModel)

ARTICLE_JSON_BYTES = 1024 * 1024
"""An article's body is up to 100,000 characters, which JSON may spell in up to 6 bytes each
(``\\uXXXX``): a body past a MiB is refused (413) as it streams in."""


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring the JSON body that the handler reads itself with :func:`read`."""
    if model not in EXTRA_MODELS:
        EXTRA_MODELS.append(model)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


async def read(request: Request, model: type[M], limit: int = MAX_JSON_BYTES) -> M:
    """The JSON body as ``model``, refused with 413 as soon as it passes ``limit`` bytes.

    FastAPI's own body parameters read a body of any size into memory before
    validating it; these endpoints take text from customers, so they bound it.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = await read_limited(request, limit)
    if not raw:
        raise BadRequest("The request body is empty.")
    return validate_json(model, raw)


Search = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="Full text: every word must match, in any of its forms; best first.",
    ),
]


@router.post(
    "/articles",
    response_model=ArticleRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_article",
    responses=responses(400, 401, 403, 413, 415, 422),
    openapi_extra=json_body(ArticleCreate),
)
async def create_article(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> ArticleRead | Response:
    """Write an article (agents, admins; an API key needs `kb:write`); a draft until published."""
    body = await read(request, ArticleCreate, ARTICLE_JSON_BYTES)

    async def make() -> ArticleRead:
        article = await article_service.create(session, actor, **body.model_dump())
        response.headers["Location"] = f"/api/v1/kb/articles/{article.id}"
        return ArticleRead.model_validate(article)

    return await idempotent(
        request, response, session, actor, idempotency_key, body.model_dump(mode="json"), make, 201
    )


@router.get(
    "/articles",
    response_model=Page[ArticleRead],
    operation_id="list_articles",
    responses=responses(400, 401, 403, 422),
)
async def list_articles(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    q: Search = None,
    category_id: Annotated[IdFilter, Query(description="Includes its sub-areas.")] = None,
    locale: Locale | None = None,
    published: Annotated[
        bool | None, Query(description="Staff: drafts (false) or published (true) only.")
    ] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[ArticleRead]:
    """The articles the caller may read (customers: the published ones).

    Without `q`, oldest first. With `q`, the best matches first; the next page
    continues after the last one's relevance (keyset on relevance and id). When no
    article has every word and the embedding model is installed, one page of the
    articles closest in meaning (another language, a typo), with no next page.
    """
    items, next_cursor = await article_service.list_page(
        session,
        actor,
        article_service.Filters(q=q, category_id=category_id, locale=locale, published=published),
        limit=limit,
        cursor=cursor,
        embedder=embedding_service.embedder_for(settings),
    )
    return Page(items=[ArticleRead.model_validate(a) for a in items], next_cursor=next_cursor)


@router.get(
    "/articles/{article_id}",
    response_model=ArticleRead,
    operation_id="get_article",
    responses=responses(401, 403, 404, 422),
)
async def get_article(article_id: Id, session: SessionDep, actor: CurrentActor) -> ArticleRead:
    """One article; a draft is 404 for customers."""
    return ArticleRead.model_validate(await article_service.get(session, actor, article_id))


@router.patch(
    "/articles/{article_id}",
    response_model=ArticleRead,
    operation_id="update_article",
    responses=responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=json_body(ArticleUpdate),
)
async def update_article(
    article_id: Id, request: Request, session: SessionDep, actor: CurrentActor
) -> ArticleRead:
    """Change an article (agents, admins); publish it with `"published": true`."""
    body = await read(request, ArticleUpdate, ARTICLE_JSON_BYTES)
    article = await article_service.update(session, actor, article_id, body.changes())
    return ArticleRead.model_validate(article)


@router.delete(
    "/articles/{article_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_article",
    responses=responses(401, 403, 404, 422),
)
async def delete_article(article_id: Id, session: SessionDep, actor: CurrentActor) -> None:
    """Remove an article (agents, admins)."""
    await article_service.delete(session, actor, article_id)


@router.post(
    "/suggest",
    response_model=Suggestions,
    operation_id="suggest_answers",
    responses=responses(400, 401, 403, 413, 415, 422),
    openapi_extra=json_body(SuggestRequest),
)
async def suggest_answers(
    request: Request, session: SessionDep, actor: CurrentActor, settings: SettingsDep
) -> Response:
    """Before a ticket is opened: up to 5 published articles and up to 5 solved tickets of the
    caller's customer most likely to answer it, best first.

    Staff (and API keys) name the customer with `customer_code` to get its solved
    tickets too. A draft that shares too few words with anything gets fewer
    suggestions, or none. An API key needs `kb:read` and `tickets:read`.
    """
    body = await read(request, SuggestRequest)
    found = await suggestion_service.suggest(
        session,
        actor,
        suggestion_service.Draft(
            subject=body.subject,
            description=body.description,
            type=body.type,
            customer_code=body.customer_code,
        ),
        embedding_service.embedder_for(settings),
    )
    return json_response(
        Suggestions(
            articles=[
                ArticleSuggestion.model_validate(
                    {**ArticleRead.model_validate(a).model_dump(), "score": score}
                )
                for a, score in found.articles
            ],
            tickets=[
                TicketSuggestion.model_validate(
                    {**staff_view(TicketRead.of(t), actor).model_dump(), "score": score}
                )
                for t, score in found.tickets
            ],
        )
    )


@solutions.get(
    "",
    response_model=Page[TicketRead],
    operation_id="search_solutions",
    responses=responses(400, 401, 403, 422),
)
async def search_solutions(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="Every word must match (subject, description, solution, public replies).",
        ),
    ],
    customer_id: Annotated[
        IdFilter, Query(description="Staff: one customer's (default: every customer's).")
    ] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[TicketRead]:
    """Resolved and closed tickets of the caller's customer (colleagues' included) matching `q`,
    with their solutions, best first; keyset-paged on relevance. When none has every word and
    the search is of one customer's tickets, one page of those closest in meaning (embedding
    model installed), with no next page. An API key needs `tickets:read`.
    """
    items, next_cursor = await suggestion_service.search_solutions(
        session,
        actor,
        q=q,
        customer_id=customer_id,
        limit=limit,
        cursor=cursor,
        embedder=embedding_service.embedder_for(settings),
    )
    return Page(items=[staff_view(TicketRead.of(t), actor) for t in items], next_cursor=next_cursor)
