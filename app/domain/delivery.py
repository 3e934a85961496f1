"""Retrying deliveries to the outside world: exponential backoff with jitter, pure.

Shared by every outbox that talks to a remote system and must not hammer it while it is
down (webhooks today). The random part is passed in, so the schedule is tested exactly.
"""

from __future__ import annotations

from datetime import timedelta


def backoff(attempts: int, base_seconds: float, cap_seconds: float) -> float:
    """``base * 2**(attempts-1)`` seconds, never more than ``cap``."""
    exponent = min(max(attempts - 1, 0), 32)
    return float(min(base_seconds * 2**exponent, cap_seconds))


def backoff_with_jitter(
    attempts: int, base_seconds: float, cap_seconds: float, random: float
) -> timedelta:
    """The backoff, spread over its upper half by ``random`` (in [0, 1)): "equal jitter".

    Half the delay is kept, so a retry never comes much sooner than planned; the other half
    is random, so the retries of many deliveries that failed together (a receiver's outage)
    do not all come back in the same second.
    """
    if not 0 <= random < 1:
        raise ValueError("random must be in [0, 1)")
    delay = backoff(attempts, base_seconds, cap_seconds)
    return timedelta(seconds=delay / 2 + delay / 2 * random)
