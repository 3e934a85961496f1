"""The API behind a real PgBouncer in transaction mode (``SPORTELLO_DATABASE_PGBOUNCER``):
many requests over few server connections, prepared statements and all."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from tests.conftest import PG_URL, Database, LiveServer
from tests.factories import Desk
from tests.smtp import free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

pytestmark = pytest.mark.skipif(not PG_URL, reason="PgBouncer fronts PostgreSQL")


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[int]:
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed (.ci/run installs it)")
    url = make_url(PG_URL)
    # Readable by the user PgBouncer switches to (pytest's own folders are root's alone).
    folder = Path(tempfile.mkdtemp(prefix="sportello-pgbouncer-"))
    folder.chmod(0o755)
    port = free_port()
    (folder / "users.txt").write_text(f'"{url.username}" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={url.host or '127.0.0.1'} port={url.port or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 3\n"
        "max_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for f in folder.iterdir():
        f.chmod(0o644)
    command = [PGBOUNCER, str(ini)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]  # PgBouncer refuses to run as root
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pgbouncer did not start") from None
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def behind_pgbouncer(settings: Settings, pgbouncer: int) -> Iterator[str]:
    url = make_url(PG_URL).set(host="127.0.0.1", port=pgbouncer)
    changed = settings.model_copy(
        update={
            "database_url": url.render_as_string(hide_password=False),
            "database_pgbouncer": True,
            "database_pool_size": 8,
            "auto_migrate": False,  # migrations take a session lock: run them on PostgreSQL
        }
    )
    server = LiveServer(changed)
    try:
        yield server.start()
    finally:
        server.stop()


def test_the_api_works_through_pgbouncer_in_transaction_mode(
    behind_pgbouncer: str, db: Database, settings: Settings
) -> None:
    desk = Desk(f"{behind_pgbouncer}/api/v1", db, settings)
    try:
        customer = desk.customer()
        user = desk.customer_user(customer)
        agent = desk.agent()

        def work(i: int) -> int:
            ticket = desk.ticket(user, customer, subject=f"Richiesta numero {i}")
            assert user.get(f"/tickets/{ticket['id']}").status_code == 200
            assert agent.get("/tickets", params={"status": "open"}).status_code == 200
            r = user.post(f"/tickets/{ticket['id']}/replies", json={"body": f"Aggiungo {i}"})
            assert r.status_code == 201, r.text
            return int(ticket["id"])

        # More concurrent clients than PgBouncer has server connections, each statement
        # prepared by asyncpg: a cached statement would be missing on another connection.
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(work, range(24)))
        assert len(set(ids)) == 24
        listed = user.get("/tickets", params={"limit": 100}).json()
        assert {t["id"] for t in listed["items"]} == set(ids)
    finally:
        desk.close()
    with httpx.Client(timeout=10) as c:
        assert c.get(f"{behind_pgbouncer}/readyz").status_code == 200
