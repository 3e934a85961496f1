"""The schema comes only from the migrations: they must agree with the models, both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.db import migrate
from app.db.base import Base
from tests.conftest import PG_URL, Database


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": migrate.include_object}
    )
    return list(compare_metadata(ctx, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return {t for t in inspect(conn).get_table_names() if t != "alembic_version"}


async def _inspect(url: str) -> tuple[list[object], set[str]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            tables = await conn.run_sync(_tables)
        return diff, tables
    finally:
        await engine.dispose()


def test_the_migrated_schema_equals_the_models(database: Database) -> None:
    diff, tables = asyncio.run(_inspect(database.settings.database_url))
    assert diff == []
    assert set(Base.metadata.tables) <= tables


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own, so the test can go down and up without disturbing the others."""
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    url = make_url(PG_URL)
    name = f"{url.database}_scratch"
    admin = url.set(database="postgres")

    async def run(sql: str) -> None:
        engine = create_async_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_migrations_go_down_to_nothing_and_up_again(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    diff, tables = asyncio.run(_inspect(scratch_url))
    assert diff == [] and set(Base.metadata.tables) <= tables
    migrate.downgrade(scratch_url, "base")
    _, tables = asyncio.run(_inspect(scratch_url))
    assert tables == set()
    migrate.upgrade(scratch_url)
    diff, _ = asyncio.run(_inspect(scratch_url))
    assert diff == []


def test_the_facts_migration_backfills_existing_tickets(scratch_url: str) -> None:
    migrate.upgrade(scratch_url, "0013")
    sqlite = scratch_url.startswith("sqlite")

    def at(hours: int) -> object:
        stamp = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hours)
        return stamp.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else stamp

    async def go() -> tuple[object, ...]:
        engine = create_async_engine(scratch_url, poolclass=NullPool)
        async with engine.begin() as conn:

            async def run(sql: str, **params: object) -> None:
                await conn.execute(text(sql.replace(":T", ":t")), params)

            await run(
                "INSERT INTO customer (id, code, name, locale, created_at, updated_at) "
                "VALUES (1, 'C1', 'Uno', 'it', :T, :T)",
                t=at(0),
            )
            await run(
                "INSERT INTO ticket (id, number, customer_id, type, subject, description, "
                "severity, status, contact_channel, created_at, updated_at, status_changed_at, "
                "version) VALUES (1, 'T-1', 1, 'technical', 's', 'd', 'normal', 'open', 'email', "
                ":T, :T, :T, 1)",
                t=at(0),
            )
            replies = (
                (1, "customer", "public"),
                (2, "agent", "internal"),
                (3, "agent", "public"),
                (5, "agent", "public"),
            )
            for hours, role, visibility in replies:
                await run(
                    "INSERT INTO reply (ticket_id, author_name, author_role, body, visibility, "
                    "created_at) VALUES (1, 'x', :r, 'b', :v, :T)",
                    r=role,
                    v=visibility,
                    t=at(hours),
                )
            moves = ((10, "open", "resolved"), (12, "resolved", "open"), (30, "open", "resolved"))
            for hours, src, dst in moves:
                await run(
                    "INSERT INTO ticket_event (ticket_id, kind, from_status, to_status, internal,"
                    " created_at) VALUES (1, 'status_changed', :f, :s, false, :T)",
                    f=src,
                    s=dst,
                    t=at(hours),
                )
        await asyncio.to_thread(migrate.upgrade, scratch_url)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT first_response_seconds, resolution_seconds, reopen_count, "
                        "first_response_business_minutes FROM ticket_fact WHERE ticket_id = 1"
                    )
                )
            ).one()
        await engine.dispose()
        return tuple(row)

    frs, rs, reopens, business = asyncio.run(go())
    assert round(float(frs)) == 3 * 3600  # the first public staff reply
    assert round(float(rs)) == 10 * 3600  # the first resolution
    assert (reopens, business) == (1, None)
