"""Applying the Alembic migrations (the only source of the schema) from code."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine


class UnknownRevision(ValueError):
    """A revision that the migrations do not have: one line for the command line."""


# Objects the ORM does not model (full-text index tables and their triggers), made by migrations.
UNMODELLED_PREFIXES = ("ticket_fts", "kb_article_fts")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the unmodelled objects out of autogenerate's comparison."""
    return not (name is not None and name.startswith(UNMODELLED_PREFIXES))


def migrations_dir() -> Path:
    """``migrations/`` beside ``app/`` (source tree, editable install), else in the cwd."""
    beside = Path(__file__).resolve().parents[2] / "migrations"
    if beside.is_dir():
        return beside
    return Path.cwd() / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = database_url
    return cfg


@contextlib.contextmanager
def _sqlite_lock(database_url: str) -> Iterator[None]:
    """One migrating process at a time on a SQLite file, as the advisory lock does on
    PostgreSQL (migrations/env.py): ``sportello serve --workers N`` starts N processes that
    each apply the migrations at start."""
    url = make_url(database_url)
    if not url.get_backend_name().startswith("sqlite") or url.database in (None, "", ":memory:"):
        yield
        return
    lock_path = Path(f"{url.database}.migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def known_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(""))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def check_revision(revision: str) -> None:
    """Raise :class:`UnknownRevision` unless ``revision`` names one (or head/base/-N/+N)."""
    relative = revision[:1] in ("+", "-") and revision[1:].isdigit()
    if revision in ("head", "heads", "base") or relative:
        return
    script = ScriptDirectory.from_config(alembic_config(""))
    try:
        found = script.get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise UnknownRevision(
            f"unknown revision {revision!r}: expected head, base or one of "
            f"{', '.join(known_revisions())}"
        )


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema. Blocking, and runs its own event loop: call it in a thread."""
    check_revision(revision)
    with _sqlite_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    check_revision(revision)
    command.downgrade(alembic_config(database_url), revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except Exception:
        return None
    return ", ".join(sorted(r[0] for r in rows)) or None
