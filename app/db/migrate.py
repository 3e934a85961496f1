"""Applying the Alembic migrations (the only source of the schema) from code."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

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


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema. Blocking, and runs its own event loop: call it in a thread."""
    with _sqlite_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
