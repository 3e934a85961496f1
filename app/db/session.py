"""The engine and its sessions.

SQLite: WAL, a busy timeout, foreign keys on, and every transaction opened with
``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing when a
reader upgrades to a writer (SQLITE_BUSY). That serialises transactions, which
is what an embedded single-file database does anyway; PostgreSQL is the choice
for concurrency.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings
from app.domain.errors import Conflict


def make_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        _ensure_sqlite_dir(settings.database_url)
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": 30},
            pool_size=settings.database_pool_size,
        )
        _configure_sqlite(engine)
        return engine
    url = make_url(settings.database_url)
    if settings.database_pgbouncer:
        # SQLAlchemy's own cache of prepared statements, per connection, off too.
        url = url.update_query_dict({"prepared_statement_cache_size": "0"})
    # No pre-ping: it cost a round trip (``BEGIN; ; ROLLBACK``) on every checkout. A connection
    # the server dropped is found by the first statement of a request instead, which is the
    # caller's authentication: it retries once on a fresh connection (see
    # :func:`retry_on_disconnect`), and SQLAlchemy invalidates the rest of the pool then.
    # Idle connections are also recycled before a server or proxy timeout could drop them.
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=_pgbouncer_args() if settings.database_pgbouncer else {},
    )


def _pgbouncer_args() -> dict[str, Any]:
    """Behind PgBouncer in transaction mode, consecutive transactions of one client
    connection may run on different server connections, so a statement prepared in one is
    unknown in the next: asyncpg keeps no statement cache, and names each prepared
    statement uniquely so two clients never collide on a server connection (SQLAlchemy's
    documented set-up for asyncpg with PgBouncer)."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4()}__",
    }


POOL_RECYCLE_SECONDS = 1800


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` is the driver finding its connection dead (SQLAlchemy has invalidated it)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def flush_unique(session: AsyncSession, conflict: str) -> None:
    """Flush; a unique index refusing the row (a race the service's check lost) is a 409."""
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None


_TURNS = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


async def take_turns(session: AsyncSession, key: str) -> None:
    """Transactions that call this with the same ``key`` run the rest of their work one at a
    time, until commit: a transaction-scoped advisory lock on PostgreSQL, for a check that no
    index can make (the name of a sibling, the last admin, an idempotency key's first use).
    SQLite's writers queue anyway (``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_TURNS, {"key": key})


def make_sessionmaker(
    engine: AsyncEngine, settings: Settings | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions; with ``settings`` in ``session.info``, for listeners that have only the session
    (the e-mail outbox needs the desk's address)."""
    # expire_on_commit=False: responses are built from objects after the commit.
    info = {"settings": settings} if settings is not None else None
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver, so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
