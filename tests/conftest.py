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
from tests.s3 import S3Server
from tests.smtp import SmtpSink
from tests.statements import StatementLog

T = TypeVar("T")

# The IMAP server fixtures (dovecot, inbox) of the e-mail channel's tests.
pytest_plugins = ["tests.imapd"]

PG_URL = os.environ.get("SPORTELLO_TEST_DATABASE_URL", "")
METRICS_TOKEN = "metrics-scraper-secret-for-tests"


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


async def _create_database_if_missing(url: str) -> None:
    """The README's PostgreSQL command works on a server where the database does not exist yet:
    it is created through the server's ``postgres`` database (the user needs CREATEDB)."""
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    admin = create_async_engine(
        f"{base}/postgres", poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


def _reset_postgres(url: str) -> None:
    async def go() -> None:
        await _create_database_if_missing(url)
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
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server on loopback, started for the tests that store files there."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


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
        # The suite calls from one address and a few users far faster than anyone would:
        # the limits are tested with servers of their own (tests/api/test_rate_limits.py).
        metrics_token=METRICS_TOKEN,
        rate_limit_per_user=1_000_000,
        rate_limit_per_api_key=1_000_000,
        rate_limit_per_address=1_000_000,
        inbox_secret="test-inbox-secret",
        inbox_trusted_hosts=["mx.sportello.test"],
        # The webhook receivers of the tests listen on loopback (the SSRF tests turn it off).
        webhook_allow_loopback=True,
        _env_file=None,  # type: ignore[call-arg]
    )


class LiveServer:
    """uvicorn serving the app in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # as `sportello serve`: TRUSTED_PROXIES decides
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base_url = ""

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
def server(settings: Settings) -> Iterator[LiveServer]:
    """The running app (its ``app.state`` holds the engine, for the statement counter)."""
    live = LiveServer(settings)
    live.base_url = live.start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def live_server(server: LiveServer) -> str:
    return server.base_url


@pytest.fixture
def statements(server: LiveServer, db: Database) -> Iterator[StatementLog]:
    """What the app sends to its database: statements, transactions, pool checkouts."""
    log = StatementLog(server.app.state.engine)
    yield log
    log.close()


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
