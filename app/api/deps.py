"""Dependencies: the request's session and settings, the caller, paging parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api import client, ratelimit
from app.config import Settings
from app.db.pagination import MAX_ID
from app.db.session import is_disconnect
from app.domain.access import Actor
from app.domain.errors import Unauthenticated
from app.infra.storage import BlobStorage
from app.services import auth as auth_service

# Every dependency is ``async def``: a plain ``def`` one is run in the thread pool, a hop
# (and a thread switch) per dependency per request.


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises.

    Declared with ``scope="function"`` below, so the commit happens before the
    response is sent: a client never sees a 201 for something not stored.
    """
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

bearer_scheme = HTTPBearer(auto_error=False, description="A login token or an API key.")


async def get_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Missing bearer credentials.")
    return credentials.credentials


BearerToken = Annotated[str, Depends(get_bearer_token)]


async def get_actor(request: Request, session: SessionDep, token: BearerToken) -> Actor:
    """The caller, charged against their rate limit. Authentication is a request's first
    statement: if the pooled connection turns out dead (the database restarted; the pool
    does not pre-ping), it is retried once on a fresh one, and SQLAlchemy has meanwhile
    invalidated the other stale connections."""
    try:
        actor = await auth_service.authenticate(session, token)
    except DBAPIError as exc:
        if not is_disconnect(exc):
            raise
        await session.rollback()
        actor = await auth_service.authenticate(session, token)
    await ratelimit.limiter(request).charge_actor(request, actor)
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1-100.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from a previous page's next_cursor."),
]

# Ids are bounded so that a number no row can have is a 422, not a database error (a 500).
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def get_storage(request: Request) -> BlobStorage:
    """The app's one blob storage (local folder or S3), built at start."""
    storage: BlobStorage = request.app.state.storage
    return storage


StorageDep = Annotated[BlobStorage, Depends(get_storage)]


client_address = client.client_address
