"""The ``sportello`` command, run for real, and the first admin created at start-up.

These run on a fresh SQLite file of their own whatever database the suite uses.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import LiveServer, repo_root
from tests.factories import SSL_CONTEXT

ADMIN_PASSWORD = "a long admin secret"


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / "cli.db"


def run(
    tmp_path: Path,
    db_file: Path,
    *args: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    environ.update(
        SPORTELLO_DATABASE_URL=f"sqlite+aiosqlite:///{db_file}",
        SPORTELLO_ARGON2_MEMORY_KIB="8",
        SPORTELLO_ARGON2_TIME_COST="1",
        SPORTELLO_RUN_WORKER="false",
    )
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=tmp_path,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def rows(db_file: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_file)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def sqlite_settings(settings: Settings, db_file: Path, **overrides: object) -> Settings:
    return settings.model_copy(
        update={
            "database_url": f"sqlite+aiosqlite:///{db_file}",
            "storage_dir": db_file.parent / "attachments",
            **overrides,
        }
    )


@contextmanager
def serving(settings: Settings) -> Iterator[httpx.Client]:
    server = LiveServer(settings)
    base_url = server.start()
    try:
        with httpx.Client(base_url=f"{base_url}/api/v1", timeout=30, verify=SSL_CONTEXT) as c:
            yield c
    finally:
        server.stop()


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/auth/login", json={"email": email, "password": password})


def test_migrate_creates_the_schema(tmp_path: Path, db_file: Path) -> None:
    done = run(tmp_path, db_file, "migrate")
    assert done.returncode == 0, done.stderr
    tables = {name for (name,) in rows(db_file, "SELECT name FROM sqlite_master")}
    assert {"alembic_version", "customer", "user_account", "customer_order", "api_key"} <= tables
    assert rows(db_file, "SELECT count(*) FROM alembic_version") == [(1,)]
    # Running it again is harmless.
    assert run(tmp_path, db_file, "migrate").returncode == 0


def test_create_admin_makes_an_admin_who_can_log_in(
    tmp_path: Path, db_file: Path, settings: Settings
) -> None:
    done = run(
        tmp_path, db_file, "create-admin", "Boss@Example.com", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ADMIN_PASSWORD not in done.stdout + done.stderr
    [(email, role, is_active, pw_hash)] = rows(
        db_file, "SELECT email, role, is_active, password_hash FROM user_account"
    )
    assert (email, role, is_active) == ("boss@example.com", "admin", 1)
    assert str(pw_hash).startswith("$argon2id$") and ADMIN_PASSWORD not in str(pw_hash)
    with serving(sqlite_settings(settings, db_file)) as client:
        r = login(client, "boss@example.com", ADMIN_PASSWORD)
        assert r.status_code == 200, r.text
        me = client.get("/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert me.json()["role"] == "admin"


def test_create_admin_refuses_a_short_password_and_a_taken_email(
    tmp_path: Path, db_file: Path
) -> None:
    short = run(tmp_path, db_file, "create-admin", "a@example.com", "--password-stdin", stdin="x\n")
    assert short.returncode == 2
    assert "8 characters" in short.stderr
    first = run(
        tmp_path, db_file, "create-admin", "a@example.com", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    again = run(
        tmp_path, db_file, "create-admin", "A@EXAMPLE.COM", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert rows(db_file, "SELECT count(*) FROM user_account") == [(1,)]


def test_demo_data_loads_once(tmp_path: Path, db_file: Path) -> None:
    done = run(tmp_path, db_file, "demo-data")
    assert done.returncode == 0, done.stderr
    customers = rows(db_file, "SELECT id, locale FROM customer ORDER BY locale DESC")
    assert [locale for _, locale in customers] == ["it", "es"]
    for customer_id, _ in customers:
        [(users,)] = rows(
            db_file, "SELECT count(*) FROM user_account WHERE customer_id = ?", customer_id
        )
        [(orders,)] = rows(
            db_file, "SELECT count(*) FROM customer_order WHERE customer_id = ?", customer_id
        )
        assert users >= 1 and orders >= 1
    roles = dict(rows(db_file, "SELECT role, count(*) FROM user_account GROUP BY role"))
    assert roles["agent"] >= 1 and roles["admin"] >= 1 and roles["customer"] >= 2
    customer_users = rows(
        db_file,
        "SELECT u.locale, c.locale FROM user_account u JOIN customer c ON c.id = u.customer_id",
    )
    assert all(user == company for user, company in customer_users)
    before = rows(db_file, "SELECT count(*) FROM user_account")

    again = run(tmp_path, db_file, "demo-data")
    assert again.returncode == 1
    assert "already has 2 customers" in again.stderr
    assert rows(db_file, "SELECT count(*) FROM customer") == [(2,)]
    assert rows(db_file, "SELECT count(*) FROM user_account") == before


def test_demo_users_log_in_with_the_published_password(
    tmp_path: Path, db_file: Path, settings: Settings
) -> None:
    assert run(tmp_path, db_file, "demo-data").returncode == 0
    [(email,)] = rows(db_file, "SELECT email FROM user_account WHERE role = 'admin'")
    with serving(sqlite_settings(settings, db_file)) as client:
        assert login(client, str(email), "demo-password").status_code == 200


def test_openapi_writes_the_committed_schema(tmp_path: Path, db_file: Path) -> None:
    out = tmp_path / "spec.json"
    done = run(tmp_path, db_file, "openapi", "-o", str(out))
    assert done.returncode == 0, done.stderr
    committed = json.loads((repo_root() / "openapi.json").read_text(encoding="utf-8"))
    assert json.loads(out.read_text(encoding="utf-8")) == committed, (
        "run `sportello openapi` and commit openapi.json"
    )


def test_the_first_admin_is_created_at_start_only_once(
    tmp_path: Path, db_file: Path, settings: Settings
) -> None:
    first = sqlite_settings(
        settings, db_file, admin_email="First@Example.com", admin_password=ADMIN_PASSWORD
    )
    with serving(first) as client:
        r = login(client, "first@example.com", ADMIN_PASSWORD)
        assert r.status_code == 200, r.text
        me = client.get("/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert me.json()["role"] == "admin"
    # A restart, even with other credentials in the environment, adds no second admin.
    second = sqlite_settings(
        settings, db_file, admin_email="second@example.com", admin_password=ADMIN_PASSWORD
    )
    with serving(second) as client:
        assert login(client, "second@example.com", ADMIN_PASSWORD).status_code == 401
        assert login(client, "first@example.com", ADMIN_PASSWORD).status_code == 200
    assert rows(db_file, "SELECT email FROM user_account") == [("first@example.com",)]


def test_no_admin_is_created_without_both_variables(
    tmp_path: Path, db_file: Path, settings: Settings
) -> None:
    half = sqlite_settings(settings, db_file, admin_email="half@example.com", admin_password="")
    with serving(half) as client:
        assert login(client, "half@example.com", "anything at all").status_code == 401
    assert rows(db_file, "SELECT count(*) FROM user_account") == [(0,)]
