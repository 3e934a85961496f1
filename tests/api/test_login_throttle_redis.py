"""Failed logins counted in Redis when ``SPORTELLO_REDIS_URL`` is set: one count for every API
process (two servers of their own here, each with its own memory), the same rules as the
database's count, bounded memory, no e-mail in clear, and the database taking over while
Redis cannot be reached."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import redis

from app.config import Settings
from tests.conftest import Database, LiveServer
from tests.factories import PASSWORD, SSL_CONTEXT, Desk
from tests.smtp import free_port

REDIS_URL = os.environ.get("SPORTELLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PAIR, ADDRESS, WINDOW = 3, 6, 600


def _limits(settings: Settings, redis_url: str) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "login_max_failures": PAIR,
            "login_max_failures_per_address": ADDRESS,
            "login_window_seconds": WINDOW,
        }
    )


@pytest.fixture
def store() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.fail(f"Redis is needed at {REDIS_URL} (.ci/run starts it)")
    for key in client.scan_iter("sportello:login:*"):
        client.delete(key)
    yield client
    for key in client.scan_iter("sportello:login:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def two_processes(settings: Settings, db: Database, store: redis.Redis) -> Iterator[list[str]]:
    """Two API servers sharing the suite's database and one Redis."""
    servers = [LiveServer(_limits(settings, REDIS_URL)) for _ in range(2)]
    bases = [f"{server.start()}/api/v1" for server in servers]
    yield bases
    for server in servers:
        server.stop()


def _login(base: str, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=30, verify=SSL_CONTEXT) as c:
        return c.post("/auth/login", json={"email": email, "password": password})


def test_failures_through_either_process_count_once(
    desk: Desk, db: Database, two_processes: list[str], store: redis.Redis
) -> None:
    _, user = desk.user("agent")
    codes = [
        _login(two_processes[i % 2], user["email"], "wrong-password").status_code
        for i in range(PAIR)
    ]
    assert codes == [401] * PAIR
    # The pair's count is shared: the other process refuses, even the right password.
    r = _login(two_processes[1], user["email"], PASSWORD)
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= WINDOW + 1
    assert r.headers["content-type"] == "application/problem+json"
    assert _login(two_processes[0], user["email"], PASSWORD).status_code == 429
    # Counted in Redis, not in the database.
    assert db.scalar("SELECT count(*) FROM login_failure") == 0
    keys = [key.decode() for key in store.scan_iter("sportello:login:*")]
    assert keys and not any(user["email"] in key for key in keys)
    assert all(0 < store.ttl(key) <= WINDOW + 1 for key in keys)
    # Another account from the same address is not affected by this pair's lock.
    _, other = desk.user("agent")
    assert _login(two_processes[0], other["email"], PASSWORD).status_code == 200


def test_spraying_from_one_address_is_slowed_but_never_a_right_password(
    desk: Desk, two_processes: list[str], store: redis.Redis
) -> None:
    _, user = desk.user("agent")
    codes = [
        _login(two_processes[i % 2], f"nobody{i}@example.com", "x" * 9).status_code
        for i in range(ADDRESS + 4)
    ]
    assert codes == [401] * ADDRESS + [429] * 4
    assert _login(two_processes[1], user["email"], PASSWORD).status_code == 200
    # Memory is bounded: the address keeps only the failures its limit can need.
    (address_key,) = list(store.scan_iter("sportello:login:address:*"))
    assert store.zcard(address_key) == ADDRESS + 1


def test_a_success_in_one_process_clears_the_pair_for_both(
    desk: Desk, two_processes: list[str]
) -> None:
    _, user = desk.user("agent")
    for _ in range(PAIR - 1):
        assert _login(two_processes[0], user["email"], "wrong-password").status_code == 401
    assert _login(two_processes[1], user["email"], PASSWORD).status_code == 200
    for _ in range(PAIR - 1):
        assert _login(two_processes[0], user["email"], "wrong-password").status_code == 401
    assert _login(two_processes[0], user["email"], PASSWORD).status_code == 200


def test_while_redis_is_unreachable_the_database_counts(
    settings: Settings, desk: Desk, db: Database
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    server = LiveServer(_limits(settings, dead))
    base = f"{server.start()}/api/v1"
    try:
        _, user = desk.user("agent")
        codes = [_login(base, user["email"], "wrong-password").status_code for _ in range(PAIR)]
        assert codes == [401] * PAIR
        assert _login(base, user["email"], PASSWORD).status_code == 429
        assert (
            db.scalar("SELECT count(*) FROM login_failure WHERE email = :e", e=user["email"])
            == PAIR
        )
        _, other = desk.user("agent")
        assert _login(base, other["email"], PASSWORD).status_code == 200
    finally:
        server.stop()
