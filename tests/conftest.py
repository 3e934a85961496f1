"""The test harness: the real app served by uvicorn on loopback, a real database, real HTTP.

The suite runs on SQLite by default and on PostgreSQL when
``SPORTELLO_TEST_DATABASE_URL`` names one (``postgresql+asyncpg://...``). The
schema comes from the migrations; every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.db.base import Base
from app.db.session import make_engine, make_sessionmaker
from app.main import create_app
from app.services import embeddings as embedding_service
from tests.factories import SSL_CONTEXT, Desk
from tests.smtp import SmtpSink

T = TypeVar("T")

PG_URL = os.environ.get("SPORTELLO_TEST_DATABASE_URL", "")


class Database:
    """Test-side access to the database, on an event loop of its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.engine: AsyncEngine = make_engine(settings)
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(self.engine, settings)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.settings.is_sqlite else "postgresql"

    def truncate(self) -> None:
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]

        async def go() -> None:
            # DELETE, not TRUNCATE: on tables of a few rows it is some 20 times faster on
            # PostgreSQL (TRUNCATE costs ~70 ms per test there, whatever the tables hold).
            async with self.engine.begin() as conn:
                # ON DELETE RESTRICT acts row by row: cut self-references first.
                for table in Base.metadata.sorted_tables:
                    for fk in table.foreign_keys:
                        if fk.column.table is table:
                            await conn.execute(
                                text(f'UPDATE "{table.name}" SET "{fk.parent.name}" = NULL')  # noqa: S608
                            )
                for name in tables:
                    await conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608
                if self.dialect == "postgresql":
                    # Ids start again at 1, as after TRUNCATE ... RESTART IDENTITY.
                    await conn.execute(
                        text(
                            "SELECT setval(format('%I', sequencename)::regclass, 1, false)"
                            " FROM pg_sequences WHERE schemaname = 'public'"
                        )
                    )

        self.run(go())
        # Ids start again: vectors held in memory would be of another test's rows.
        embedding_service.forget()

    def scalar(self, sql: str, **params: Any) -> Any:
        async def go() -> Any:
            async with self.engine.begin() as conn:
                return (await conn.execute(text(sql), params)).scalar()

        return self.run(go())

    def execute(self, sql: str, **params: Any) -> None:
        async def go() -> None:
            async with self.engine.begin() as conn:
                await conn.execute(text(sql), params)

        self.run(go())

    def close(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()


def _reset_postgres(url: str) -> None:
    async def go() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(go())


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback; the app's MAIL_SERVER points at it."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Settings:
    base = tmp_path_factory.mktemp("sportello")
    if PG_URL:
        _reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite+aiosqlite:///{base / 'test.db'}"
    return Settings(
        database_url=url,
        auto_migrate=True,
        run_worker=False,
        storage_dir=base / "attachments",
        argon2_time_cost=1,
        argon2_memory_kib=8,
        admin_email="",
        admin_password="",
        public_base_url="http://sportello.test",
        support_email="desk@sportello.test",
        mail_server="127.0.0.1",
        mail_port=smtp.port,
        mail_from="sportello@sportello.example",
        _env_file=None,  # type: ignore[call-arg]
    )


class LiveServer:
    """uvicorn serving the app in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    server = LiveServer(settings)
    base_url = server.start()
    yield base_url
    server.stop()


@pytest.fixture(scope="session")
def database(settings: Settings, live_server: str) -> Iterator[Database]:
    db = Database(settings)
    yield db
    db.close()


@pytest.fixture
def db(database: Database) -> Database:
    """The database, emptied before the test."""
    database.truncate()
    return database


@pytest.fixture
def client(live_server: str, db: Database) -> Iterator[httpx.Client]:
    """An anonymous client of ``/api/v1``."""
    with httpx.Client(base_url=f"{live_server}/api/v1", timeout=30, verify=SSL_CONTEXT) as c:
        yield c


@pytest.fixture
def root_client(live_server: str, db: Database) -> Iterator[httpx.Client]:
    """An anonymous client of the server root (health, metrics, docs)."""
    with httpx.Client(base_url=live_server, timeout=30, verify=SSL_CONTEXT) as c:
        yield c


@pytest.fixture
def desk(live_server: str, db: Database, settings: Settings) -> Iterator[Desk]:
    """Factories of users, customers and orders, through the API."""
    d = Desk(f"{live_server}/api/v1", db, settings)
    yield d
    d.close()


@pytest.fixture
def mailbox(smtp: SmtpSink, db: Database) -> Iterator[SmtpSink]:
    """The SMTP server, running and emptied before the test (and running after it)."""
    smtp.start()
    smtp.clear()
    yield smtp
    smtp.start()


def pytest_report_header() -> str:
    return f"sportello database: {'postgresql' if PG_URL else 'sqlite'}"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
