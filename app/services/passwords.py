"""Argon2id password hashing, off the event loop (a hash costs tens of milliseconds)."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import Settings


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher_for(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


async def hash_password(settings: Settings, password: str) -> str:
    return await asyncio.to_thread(hasher_for(settings).hash, password)


async def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return hasher_for(settings).verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


_DUMMY: dict[tuple[int, int], str] = {}


async def burn_verification(settings: Settings, password: str) -> None:
    """Spend the time of a real verification, so an unknown e-mail answers as slowly."""
    key = (settings.argon2_time_cost, settings.argon2_memory_kib)
    if key not in _DUMMY:
        _DUMMY[key] = await hash_password(settings, "not-a-real-password")
    await verify_password(settings, _DUMMY[key], password)
