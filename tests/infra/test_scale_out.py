"""Two API processes and two workers on one PostgreSQL, Redis and S3 server: tickets,
replies, uploads and mail driven through both API processes, one worker killed in the
middle of a mail batch. Nothing is lost, at most the one mail in flight is sent twice,
and every file is readable through either API process."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests import samples
from tests.conftest import PG_URL, Database
from tests.factories import Desk
from tests.s3 import S3Server
from tests.smtp import SmtpSink, free_port

SPORTELLO = str(Path(sys.executable).parent / "sportello")
REDIS_URL = os.environ.get("SPORTELLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/2")

pytestmark = pytest.mark.skipif(not PG_URL, reason="several processes share PostgreSQL")


class SlowSink(SmtpSink):
    """An SMTP server that takes 30 ms per mail, so a batch is still going when the
    worker delivering it is killed."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink() -> Iterator[SlowSink]:
    s = SlowSink()
    s.start()
    yield s
    s.stop()


def environment(
    settings: Settings, s3: S3Server, bucket: str, sink: SmtpSink, tmp_path: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SPORTELLO_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    update = s3.settings_update(bucket)
    env.update(
        SPORTELLO_DATABASE_URL=PG_URL,
        SPORTELLO_DATABASE_POOL_SIZE="4",
        SPORTELLO_AUTO_MIGRATE="false",
        SPORTELLO_RUN_WORKER="false",
        SPORTELLO_REDIS_URL=REDIS_URL,
        SPORTELLO_STORAGE_URL=str(update["storage_url"]),
        SPORTELLO_S3_ENDPOINT_URL=s3.endpoint,
        SPORTELLO_S3_REGION=str(update["s3_region"]),
        SPORTELLO_S3_ACCESS_KEY_ID=str(update["s3_access_key_id"]),
        SPORTELLO_S3_SECRET_ACCESS_KEY=update["s3_secret_access_key"].get_secret_value(),  # type: ignore[attr-defined]
        SPORTELLO_MAIL_SERVER="127.0.0.1",
        SPORTELLO_MAIL_PORT=str(sink.port),
        SPORTELLO_MAIL_FROM=settings.mail_from,
        SPORTELLO_SUPPORT_EMAIL=settings.support_email,
        SPORTELLO_PUBLIC_BASE_URL=settings.public_base_url,
        SPORTELLO_MAIL_BATCH_SIZE="20",
        SPORTELLO_MAIL_LEASE_SECONDS="3",
        SPORTELLO_WORKER_INTERVAL_SECONDS="0.2",
        SPORTELLO_ARGON2_TIME_COST="1",
        SPORTELLO_ARGON2_MEMORY_KIB="8",
        # The test drives more requests than a person would; limits have tests of their own.
        SPORTELLO_RATE_LIMIT_PER_USER="1000000",
        SPORTELLO_RATE_LIMIT_PER_ADDRESS="1000000",
        SPORTELLO_SEMANTIC_SEARCH="false",
    )
    return env


def start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("an API process did not start")
        time.sleep(0.2)


def test_two_apis_and_two_workers_lose_nothing_when_a_worker_dies_mid_batch(
    settings: Settings,
    s3_server: S3Server,
    sink: SlowSink,
    db: Database,
    tmp_path: Path,
) -> None:
    bucket = f"scale-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    env = environment(settings, s3_server, bucket, sink, tmp_path)
    ports = [free_port(), free_port()]
    apis = [start([SPORTELLO, "serve", "--port", str(p)], env, tmp_path) for p in ports]
    workers: list[subprocess.Popen[bytes]] = []
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    desks: list[Desk] = []
    try:
        for base, process in zip(bases, apis, strict=True):
            wait_ready(base, process)
        desks = [Desk(f"{base}/api/v1", db, settings) for base in bases]
        customer = desks[0].customer()
        users = [desks[i].customer_user(customer) for i in (0, 1)]
        agents = [desks[i].agent() for i in (0, 1)]

        files: dict[int, bytes] = {}
        for i in range(24):
            side = i % 2
            data = samples.png(f"scale-{i}")
            payload = {
                "customer_code": customer["code"],
                "type": "technical",
                "subject": f"Richiesta {i} tramite il processo {side}",
                "description": "Allego la schermata dell'errore.",
            }
            r = users[side].post(
                "/tickets",
                data={"payload": json.dumps(payload)},
                files=[("files", (f"s{i}.png", data, "image/png"))],
            )
            assert r.status_code == 201, r.text
            ticket = r.json()
            files[ticket["attachments"][0]["id"]] = data
            other = 1 - side
            r = agents[other].post(
                f"/tickets/{ticket['id']}/replies", json={"body": f"Risposta pubblica {i}"}
            )
            assert r.status_code == 201, r.text
        queued = db.scalar("SELECT count(*) FROM notification")
        assert queued >= 48

        # Two workers deliver; the first is killed in the middle of its batch.
        workers = [start([SPORTELLO, "worker"], env, tmp_path) for _ in range(2)]
        deadline = time.monotonic() + 60
        while len(sink.messages) < 8:
            assert time.monotonic() < deadline, "no mail delivered"
            time.sleep(0.01)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)

        deadline = time.monotonic() + 90
        while db.scalar("SELECT count(*) FROM notification WHERE status <> 'sent'"):
            assert workers[1].poll() is None, "the surviving worker died"
            assert time.monotonic() < deadline, "mail left undelivered"
            time.sleep(0.2)

        ids = [m.message_id for m in sink.messages]
        copies = Counter(ids)
        assert len(copies) == queued, "every mail arrived"
        duplicated = sum(n - 1 for n in copies.values())
        assert duplicated <= 1, f"{duplicated} mails sent twice"

        # Every file, through either API process, whole.
        for attachment, data in files.items():
            for user in users:
                r = user.get(f"/attachments/{attachment}/content")
                assert r.status_code == 200
                assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    finally:
        for d in desks:
            d.close()
        for process in [*workers, *apis]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
