"""Failed logins counted in Redis (``SPORTELLO_REDIS_URL``), shared by every API process
and machine that names the same Redis.

One sorted set per counted key (the pair, the address, the account), scored by the Unix time
of each failure: a sliding window like the database's table, trimmed at every failure to the
window and to the newest entries a limit can need, so memory stays bounded under a flood.
Accounts are keyed by a digest of the e-mail: no address in clear sits in Redis. Keys expire
with the window.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from app.domain.login_throttle import ThrottleLimits, seconds_to_wait

PREFIX = "sportello:login:"


def _scores(entries: Any) -> list[float]:
    """The scores of a ``WITHSCORES`` answer: (member, score) pairs."""
    return [float(pair[1]) for pair in entries]


class RedisLoginFailures:
    def __init__(self, url: str, limits: ThrottleLimits, prefix: str = PREFIX) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._limits = limits
        self._prefix = prefix

    def _keys(self, email: str, address: str) -> tuple[str, str, str]:
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        address = address[:64]
        return (
            f"{self._prefix}pair:{account}:{address}",
            f"{self._prefix}address:{address}",
            f"{self._prefix}account:{account}",
        )

    async def _newest(self, key: str, count: int, now: float) -> list[float]:
        entries = await self._redis.zrevrangebyscore(
            key, "+inf", now - self._limits.window_seconds, start=0, num=count, withscores=True
        )
        return _scores(entries)

    async def pair_wait(self, email: str, address: str) -> int | None:
        pair, _, _ = self._keys(email, address)
        now = time.time()
        limit = self._limits.per_pair
        newest = await self._newest(pair, limit, now)
        return seconds_to_wait(newest, limit, self._limits.window_seconds, now)

    async def record(self, email: str, address: str) -> int | None:
        limits = self._limits
        now = time.time()
        member = f"{now:.6f}:{secrets.token_hex(6)}"
        # This failure included: the one past the limit is the first answered 429.
        pair, by_address, by_account = self._keys(email, address)
        counted = (
            (pair, limits.per_pair),
            (by_address, limits.per_address + 1),
            (by_account, limits.per_account + 1),
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, keep in counted:
                pipe.zadd(key, {member: now})
                pipe.zremrangebyscore(key, "-inf", now - limits.window_seconds)
                pipe.zremrangebyrank(key, 0, -(keep + 1))  # keep the newest `keep`
                pipe.expire(key, limits.window_seconds + 1)
            for key, keep in counted[1:]:
                pipe.zrevrange(key, 0, keep - 1, withscores=True)
            results = await pipe.execute()
        for (_, keep), entries in zip(counted[1:], results[-2:], strict=True):
            wait = seconds_to_wait(_scores(entries), keep, limits.window_seconds, now)
            if wait is not None:
                return wait
        return None

    async def clear(self, email: str, address: str) -> None:
        await self._redis.delete(self._keys(email, address)[0])

    async def close(self) -> None:
        await self._redis.aclose()
