"""Rate limits: per user, per API key, per client address on the anonymous endpoints; the IETF
RateLimit headers; one budget shared through Redis by several API processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import Database, LiveServer
from tests.factories import PASSWORD, SSL_CONTEXT, Desk
from tests.smtp import free_port

REDIS_URL = os.environ.get("SPORTELLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture
def limited(settings: Settings, db: Database) -> Iterator[str]:
    """A server of its own with small budgets, on the suite's database."""
    server = LiveServer(
        settings.model_copy(
            update={
                "rate_limit_per_user": 4,
                "rate_limit_per_api_key": 3,
                "rate_limit_per_address": 5,
                "rate_limit_window_seconds": 600,
            }
        )
    )
    base = server.start()
    yield f"{base}/api/v1"
    server.stop()


def _client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, timeout=30, verify=SSL_CONTEXT, headers=headers)


def _refused(r: httpx.Response, policy: str, quota: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert 0 < int(r.headers["retry-after"]) <= 600
    assert r.headers["ratelimit-policy"] == f'"{policy}";q={quota};w=600'
    assert r.headers["ratelimit"].startswith(f'"{policy}";r=0;t=')


def test_each_user_has_a_budget_of_their_own(desk: Desk, limited: str) -> None:
    customer = desk.customer()
    one = desk.customer_user(customer).headers["Authorization"].split()[1]
    other = desk.customer_user(customer).headers["Authorization"].split()[1]
    with _client(limited, one) as c:
        for remaining in (3, 2, 1, 0):
            r = c.get("/me")
            assert r.status_code == 200
            assert r.headers["ratelimit-policy"] == '"user";q=4;w=600'
            assert r.headers["ratelimit"].startswith(f'"user";r={remaining};t=')
        _refused(c.get("/me"), "user", 4)
        _refused(c.get("/tickets"), "user", 4)
    with _client(limited, other) as c:
        assert c.get("/me").status_code == 200


def test_each_api_key_has_a_budget_of_its_own(desk: Desk, limited: str) -> None:
    key = desk.api_key("tickets:read").headers["Authorization"].split()[1]
    with _client(limited, key) as c:
        for _ in range(3):
            r = c.get("/tickets")
            assert r.status_code == 200
            assert r.headers["ratelimit-policy"] == '"api_key";q=3;w=600'
        _refused(c.get("/tickets"), "api_key", 3)


def test_anonymous_endpoints_are_limited_per_client_address(desk: Desk, limited: str) -> None:
    _, user = desk.user("agent")
    with _client(limited) as c:
        for i in range(3):
            r = c.post("/auth/login", json={"email": f"x{i}@example.com", "password": "p" * 9})
            assert r.status_code == 401
            assert r.headers["ratelimit-policy"] == '"address";q=5;w=600'
        assert c.get("/public/tickets/not-a-token").status_code == 404
        assert (
            c.post("/auth/login", json={"email": user["email"], "password": PASSWORD}).status_code
            == 200
        )
        _refused(
            c.post("/auth/login", json={"email": user["email"], "password": PASSWORD}), "address", 5
        )
        _refused(c.get("/public/tickets/not-a-token"), "address", 5)


def test_every_anonymous_link_is_limited_per_client_address(desk: Desk, limited: str) -> None:
    """The satisfaction links (whose answers write the timeline and mail the desk on each
    change to bad) and the e-mail confirmation links take no login either: they share the
    address's budget with login and the status link."""
    answer = {"rating": "bad", "comment": "x"}
    with _client(limited) as c:
        assert c.get("/public/satisfaction/not-a-token").status_code == 404
        assert c.post("/public/satisfaction/not-a-token", json=answer).status_code == 404
        r = c.post("/public/tickets/not-a-token/satisfaction", json=answer)
        assert r.status_code == 404
        assert r.headers["ratelimit-policy"] == '"address";q=5;w=600'
        assert c.get("/public/tickets/not-a-token/satisfaction").status_code == 404
        assert c.get("/auth/email-confirmations/not-a-token").status_code == 404
        _refused(c.post("/public/satisfaction/not-a-token", json=answer), "address", 5)
        _refused(c.post("/public/tickets/not-a-token/satisfaction", json=answer), "address", 5)
        _refused(c.get("/public/satisfaction/not-a-token"), "address", 5)
        _refused(c.post("/auth/email-confirmations", json={"token": "not-a-token"}), "address", 5)


def test_trusted_proxies_tell_the_client_address(settings: Settings, desk: Desk) -> None:
    server = LiveServer(
        settings.model_copy(
            update={
                "rate_limit_per_address": 2,
                "trusted_proxies": ["127.0.0.0/8"],
                # A long window: counts start again at each window's edge (fixed windows).
                "rate_limit_window_seconds": 600,
            }
        )
    )
    base = server.start()
    _, user = desk.user("agent")
    try:
        with _client(f"{base}/api/v1") as c:

            def login(forwarded: str) -> int:
                return c.post(
                    "/auth/login",
                    json={"email": user["email"], "password": PASSWORD},
                    headers={"X-Forwarded-For": forwarded},
                ).status_code

            assert [login("203.0.113.7") for _ in range(3)] == [200, 200, 429]
            # Another client behind the same proxy has a budget of its own.
            assert login("203.0.113.8") == 200
            # What a client puts in front of the proxy's entry is not believed.
            assert login("198.51.100.1, 203.0.113.7") == 429
    finally:
        server.stop()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(desk: Desk, limited: str) -> None:
    with _client(limited) as c:
        codes = [
            c.post(
                "/auth/login",
                json={"email": "x@example.com", "password": "p" * 9},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(6)
        ]
    assert codes[-1] == 429


def _redis_ready() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        for key in client.scan_iter("sportello:rl:*"):
            client.delete(key)
        client.close()
        return True
    except redis.RedisError:
        return False


def _serve(settings: Settings, tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(
        SPORTELLO_DATABASE_URL=settings.database_url,
        SPORTELLO_AUTO_MIGRATE="false",
        SPORTELLO_RUN_WORKER="false",
        SPORTELLO_STORAGE_DIR=str(tmp_path / "attachments"),
        SPORTELLO_REDIS_URL=REDIS_URL,
        SPORTELLO_RATE_LIMIT_PER_ADDRESS="6",
        SPORTELLO_RATE_LIMIT_WINDOW_SECONDS="600",
        SPORTELLO_ARGON2_TIME_COST="1",
        SPORTELLO_ARGON2_MEMORY_KIB="8",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_two_api_processes_share_one_budget_through_redis(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    if not _redis_ready():
        pytest.fail(f"Redis is needed at {REDIS_URL} (.ci/run starts it)")
    ports = [free_port(), free_port()]
    processes = [_serve(settings, tmp_path, port) for port in ports]
    try:
        clients = [_client(f"http://127.0.0.1:{port}/api/v1") for port in ports]
        deadline = time.monotonic() + 180  # a loaded two-core machine imports slowly
        for port, process in zip(ports, processes, strict=True):
            while True:
                assert process.poll() is None, "an API process stopped"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "an API process did not start"
                time.sleep(0.1)
        answers = []
        for i in range(8):
            r = clients[i % 2].post(
                "/auth/login", json={"email": f"x{i}@example.com", "password": "p" * 9}
            )
            answers.append((r.status_code, r.headers.get("ratelimit", "")))
        # Six in all, across both processes; in memory each would have allowed six.
        assert [code for code, _ in answers] == [401] * 6 + [429] * 2
        assert [h.split(";")[1] for _, h in answers[:6]] == [f"r={n}" for n in (5, 4, 3, 2, 1, 0)]
        for client in clients:
            client.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
