"""A newcomer's first ten minutes: settings errors, the command line, the start log, the demo.

Commands run for real in a subprocess on a SQLite file of their own, whatever
database the suite uses; the server ones through the real app on loopback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.config import SettingsError, load_settings, mask_url, unknown_variables
from app.logs import JsonFormatter, RequestIdFilter
from tests.conftest import LiveServer
from tests.factories import SSL_CONTEXT
from tests.test_cli import ADMIN_PASSWORD, login, rows, run, serving, sqlite_settings

# --- settings ------------------------------------------------------------------------------


def bad(**env: str) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, _env_file=None, **{k.lower()[10:]: v for k, v in env.items()})
    return caught.value.lines


def test_a_bad_number_is_one_line_naming_the_variable_and_the_fix() -> None:
    [line] = bad(SPORTELLO_MAIL_PORT="twenty-five")
    assert line.startswith("SPORTELLO_MAIL_PORT='twenty-five': expected a whole number")
    assert "default (25)" in line and "\n" not in line


def test_the_variable_is_named_as_the_user_wrote_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"sportello_mail_port": "x"}, _env_file=None, mail_port="x")
    assert caught.value.lines[0].startswith("sportello_mail_port='x'")


def test_a_database_url_of_another_driver_suggests_the_async_one_with_the_password_masked() -> None:
    [line] = bad(SPORTELLO_DATABASE_URL="postgresql+psycopg://app:s3cret@db:5432/desk")
    assert "s3cret" not in line
    assert "use postgresql+asyncpg://app:***@db:5432/desk" in line
    [other] = bad(SPORTELLO_DATABASE_URL="mysql://app:s3cret@db/desk")
    assert "s3cret" not in other and "postgresql+asyncpg://" in other


def test_plain_postgresql_and_sqlite_urls_are_mapped_to_the_async_drivers() -> None:
    pg = load_settings({}, _env_file=None, database_url="postgresql://app:pw@db:5432/desk")
    assert pg.database_url == "postgresql+asyncpg://app:pw@db:5432/desk"
    assert load_settings({}, _env_file=None, database_url="postgres://db/desk").database_url == (
        "postgresql+asyncpg://db/desk"
    )
    lite = load_settings({}, _env_file=None, database_url="sqlite:///var/x.db")
    assert lite.database_url == "sqlite+aiosqlite:///var/x.db" and lite.is_sqlite


def test_passwords_are_masked_and_admin_rules_are_those_of_post_users() -> None:
    [short] = bad(SPORTELLO_ADMIN_PASSWORD="short")
    assert short.startswith("SPORTELLO_ADMIN_PASSWORD='***'") and "8 characters" in short
    [address] = bad(SPORTELLO_ADMIN_EMAIL="not-an-address")
    assert address.startswith("SPORTELLO_ADMIN_EMAIL='not-an-address': expected an e-mail")
    assert mask_url("postgresql+asyncpg://u:p@h/d") == "postgresql+asyncpg://u:***@h/d"


def test_an_unknown_variable_is_a_warning_naming_the_closest_one() -> None:
    warnings = unknown_variables(
        {
            "SPORTELLO_MAIL_SEVER": "smtp",
            "SPORTELLO_LOG_LEVEL": "INFO",
            "PATH": "/bin",
            # read by `sportello mailgate` and the tests, not by Settings: known all the same
            "SPORTELLO_MAILGATE_KEY": "key",
            "SPORTELLO_MAILGATE_URL": "http://127.0.0.1:8000",
            "SPORTELLO_TEST_REDIS_URL": "redis://127.0.0.1:6379/9",
        }
    )
    assert warnings == [
        "unknown setting SPORTELLO_MAIL_SEVER is ignored; did you mean SPORTELLO_MAIL_SERVER?"
    ]


# --- the command line ----------------------------------------------------------------------


def test_version_and_help_with_defaults(tmp_path: Path) -> None:
    db_file = tmp_path / "cli.db"
    version = run(tmp_path, db_file, "--version")
    assert version.returncode == 0 and version.stdout.startswith("sportello ")
    from app.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for command, default in (
        ("serve", "(default: 8000)"),
        ("migrate", "(default: head)"),
        ("create-admin", "(default: Administrator)"),
        ("openapi", "(default: openapi.json)"),
    ):
        shown = commands[command].format_help()  # type: ignore[index]
        assert default in shown, shown


def test_every_option_has_help() -> None:
    from app.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_a_bad_setting_stops_a_command_with_one_line(tmp_path: Path) -> None:
    db_file = tmp_path / "cli.db"
    done = run(tmp_path, db_file, "migrate", env={"SPORTELLO_MAIL_PORT": "abc"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sportello: SPORTELLO_MAIL_PORT='abc': expected a whole number; fix: set "
        "SPORTELLO_MAIL_PORT to a whole number, or remove it to use the default (25)"
    ]


def test_an_unknown_variable_warns_and_a_bad_revision_is_one_line(tmp_path: Path) -> None:
    db_file = tmp_path / "cli.db"
    done = run(tmp_path, db_file, "migrate", "nonsense", env={"SPORTELLO_DATABSE_URL": "x"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].endswith("did you mean SPORTELLO_DATABASE_URL?")
    assert lines[1].startswith("sportello migrate: unknown revision 'nonsense': expected head")
    assert len(lines) == 2
    # The revisions are numbers: a number that names none is unknown too, not a traceback.
    done = run(tmp_path, db_file, "migrate", "9999")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("sportello migrate: unknown revision '9999': expected head")


def test_create_admin_applies_the_rules_of_post_users(tmp_path: Path) -> None:
    db_file = tmp_path / "cli.db"
    bad_address = run(
        tmp_path, db_file, "create-admin", "boss@", "--password-stdin", stdin=ADMIN_PASSWORD
    )
    assert bad_address.returncode == 2
    assert "not a valid e-mail address" in bad_address.stderr.lower()
    assert len(bad_address.stderr.strip().splitlines()) == 1


# --- start-up ------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def serving_with_logs(settings: object) -> Iterator[tuple[httpx.Client, Records]]:
    server = LiveServer(settings)  # type: ignore[arg-type]
    records = Records()
    logger = logging.getLogger("sportello")
    logger.addHandler(records)
    try:
        base_url = server.start()
        with httpx.Client(base_url=base_url, timeout=30, verify=SSL_CONTEXT) as client:
            yield client, records
    finally:
        server.stop()
        logger.removeHandler(records)


def test_the_start_log_names_database_revision_mail_and_cors(
    tmp_path: Path, settings: object
) -> None:
    db_file = tmp_path / "start.db"
    configured = sqlite_settings(settings, db_file, cors_origins=["https://help.example.com"])  # type: ignore[arg-type]
    with serving_with_logs(configured) as (_, records):
        pass
    [start] = [line for line in records.lines if "starting:" in line]
    assert f"database sqlite+aiosqlite:///{db_file}" in start
    latest = rows(db_file, "SELECT version_num FROM alembic_version")[0][0]
    assert f"schema revision {latest}" in start
    assert "mail SMTP 127.0.0.1:" in start
    assert "CORS origins https://help.example.com" in start


def test_an_existing_admin_is_why_the_first_admin_is_not_created(
    tmp_path: Path, settings: object
) -> None:
    db_file = tmp_path / "admins.db"
    first = sqlite_settings(
        settings,  # type: ignore[arg-type]
        db_file,
        admin_email="first@example.com",
        admin_password=ADMIN_PASSWORD,
    )
    with serving_with_logs(first) as (_, records):
        pass
    assert "created the first admin first@example.com" in records.lines
    second = sqlite_settings(
        settings,  # type: ignore[arg-type]
        db_file,
        admin_email="second@example.com",
        admin_password=ADMIN_PASSWORD,
    )
    with serving_with_logs(second) as (_, records):
        pass
    [why] = [line for line in records.lines if line.startswith("first admin not created")]
    assert "already has 1 admin" in why and "create-admin" in why


def test_json_logs_are_one_line_per_record_with_the_request_id() -> None:
    handler_filter = RequestIdFilter()
    record = logging.LogRecord(
        "sportello.mail", logging.INFO, __file__, 1, "mail:\n%s", ("line one\nline two",), None
    )
    handler_filter.filter(record)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "mail:\nline one\nline two"
    assert entry["level"] == "INFO" and entry["logger"] == "sportello.mail"
    assert entry["request_id"] == "-"


def test_the_docs_load_their_assets_from_this_server(root_client: httpx.Client) -> None:
    page = root_client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        r = root_client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000


# --- the demo ------------------------------------------------------------------------------


def test_demo_data_on_top_of_the_quickstart_admin_makes_a_desk_to_click_through(
    tmp_path: Path, settings: object
) -> None:
    db_file = tmp_path / "var" / "demo.db"
    quickstart = sqlite_settings(
        settings,  # type: ignore[arg-type]
        db_file,
        admin_email="admin@example.com",
        admin_password="change-me-now",
        storage_dir=tmp_path / "attachments",
    )
    with serving(quickstart) as client:
        assert login(client, "admin@example.com", "change-me-now").status_code == 200

    done = run(
        tmp_path,
        db_file,
        "demo-data",
        env={"SPORTELLO_STORAGE_DIR": str(tmp_path / "attachments")},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for login_name in (
        "mario.rossi@agricolabianchi.example",
        "anna.verdi@sportello.example",
        "admin@sportello.example",
    ):
        assert login_name in out
    assert "'demo-password'" in out

    with serving(quickstart) as client:
        # The quickstart admin is still there, and sees every status.
        admin = login(client, "admin@example.com", "change-me-now").json()["access_token"]
        staff = {"Authorization": f"Bearer {admin}"}
        items = client.get("/tickets", params={"limit": 100}, headers=staff).json()["items"]
        assert {t["status"] for t in items} == {
            "open",
            "in_progress",
            "waiting_customer",
            "waiting_third_party",
            "improvement",
            "resolved",
            "closed",
        }
        assert any(t.get("parent_id") for t in items) or any(
            "backup" in t["subject"] and t["status"] == "open" for t in items
        )
        busy = next(t for t in items if t["status"] == "in_progress")
        replies = client.get(f"/tickets/{busy['id']}/replies", headers=staff).json()
        replies = replies["items"] if isinstance(replies, dict) else replies
        assert {r["visibility"] for r in replies} == {"public", "internal"}
        files = client.get(f"/tickets/{busy['id']}/attachments", headers=staff).json()["items"]
        assert files and files[0]["content_type"] == "text/plain"

        # A customer finds the solved problems before asking again.
        mario = login(client, "mario.rossi@agricolabianchi.example", "demo-password")
        customer = {"Authorization": f"Bearer {mario.json()['access_token']}"}
        found = client.get("/solutions", params={"q": "fatture"}, headers=customer).json()
        assert found["items"][0]["solution"].startswith("Il certificato di firma")
        suggested = client.post(
            "/kb/suggest",
            json={"subject": "Le fatture non partono", "description": "errore di firma"},
            headers=customer,
        ).json()
        assert suggested["tickets"] and "fatture" in suggested["tickets"][0]["subject"].lower()
        assert suggested["articles"]
        own = client.get("/tickets", params={"limit": 100}, headers=customer).json()["items"]
        assert own and all(t["customer_id"] == own[0]["customer_id"] for t in own)
    assert rows(db_file, "SELECT count(*) FROM notification WHERE status = 'queued'") == [(0,)]


def test_sportello_serve_with_json_logs_writes_one_json_object_per_line(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(
        SPORTELLO_LOG_FORMAT="json",
        SPORTELLO_DATABASE_URL=f"sqlite:///{tmp_path / 'json.db'}",  # the plain form, mapped
        SPORTELLO_STORAGE_DIR=str(tmp_path / "files"),
        SPORTELLO_ARGON2_MEMORY_KIB="8",
        SPORTELLO_ARGON2_TIME_COST="1",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.2)
        r = httpx.get(f"{base}/api/v1/me", headers={"X-Request-ID": "trace-me-42"}, timeout=10)
        assert r.status_code == 401
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    lines = [line for line in err.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any("starting: database sqlite+aiosqlite:///" in e["message"] for e in entries)
    assert any(e["logger"] == "uvicorn.error" for e in entries)
    [access] = [
        e for e in entries if e["logger"] == "sportello.access" and "/api/v1/me" in e["message"]
    ]
    assert access["request_id"] == "trace-me-42"
