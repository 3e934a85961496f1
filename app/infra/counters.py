"""Counters in fixed time windows, shared by the processes that share a backend.

The rate limits (``api/ratelimit.py``) count requests here. ``MemoryCounters``
is the embedded default: exact within one process, so with several API
processes each keeps its own budget. ``RedisCounters`` (``SPORTELLO_REDIS_URL``)
keeps one budget for all of them: one ``INCRBY`` and one ``EXPIRE`` per hit, in
one round trip.

A window is ``[k * seconds, (k + 1) * seconds)`` of the Unix clock, so every
process agrees on where it starts without talking to the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger("sportello.counters")


@dataclass(frozen=True, slots=True)
class Count:
    """The count of a key in the current window, and the seconds until that window ends."""

    value: int
    reset_in: int


class Counters(Protocol):
    async def hit(self, key: str, window_seconds: int, cost: int = 1) -> Count:
        """Add ``cost`` to ``key`` in the current window and return the new count."""
        ...

    async def close(self) -> None: ...


def _window(window_seconds: int, now: float) -> tuple[int, int]:
    index = int(now // window_seconds)
    reset_in = max(1, int((index + 1) * window_seconds - now + 0.999))
    return index, reset_in


class MemoryCounters:
    """Counters of this process only (the default: nothing outside is needed)."""

    MAX_KEYS = 100_000
    """Past this many live keys the oldest windows are dropped: memory stays bounded."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}

    async def hit(self, key: str, window_seconds: int, cost: int = 1) -> Count:
        now = time.time()
        index, reset_in = _window(window_seconds, now)
        slot = (key, window_seconds, index)
        value = self._counts.get(slot, 0) + cost
        self._counts[slot] = value
        if len(self._counts) > self.MAX_KEYS:
            self._prune(now)
        return Count(value, reset_in)

    def _prune(self, now: float) -> None:
        live = {
            slot: count for slot, count in self._counts.items() if (slot[2] + 1) * slot[1] > now
        }
        if len(live) > self.MAX_KEYS:  # still too many: keep the newest half
            live = dict(list(live.items())[len(live) // 2 :])
        self._counts = live

    async def close(self) -> None:
        self._counts.clear()


class RedisCounters:
    """Counters in Redis: every API process that names the same Redis shares them."""

    def __init__(self, url: str, prefix: str = "sportello:rl:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    async def hit(self, key: str, window_seconds: int, cost: int = 1) -> Count:
        index, reset_in = _window(window_seconds, time.time())
        name = f"{self._prefix}{window_seconds}:{index}:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, cost)
            pipe.expire(name, window_seconds + 5)
            value, _ = await pipe.execute()
        return Count(int(value), reset_in)

    async def close(self) -> None:
        await self._redis.aclose()


def make_counters(redis_url: str) -> Counters:
    """Redis when a URL is given, else this process's memory."""
    if redis_url:
        return RedisCounters(redis_url)
    return MemoryCounters()
