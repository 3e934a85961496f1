"""Throttling failed logins: the limits, the rule that turns failures into a wait, and the
store the failures are kept in.

Three counts, each over a sliding window of ``window_seconds``:

- the failing *pair* (account, address): past ``per_pair`` failures even the right password
  waits, so guessing from one address stops paying off;
- one *address* across accounts (spraying) and one *account* from anywhere: past
  ``per_address`` / ``per_account`` failures a *wrong* answer is 429 instead of 401, while a
  right one still logs in (an office behind one proxy shares an address).

The store is the database by default (every process shares it) or Redis when configured
(``infra/login_failures.py``); both follow this module's rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    per_pair: int
    per_address: int
    per_account: int
    window_seconds: int

    @classmethod
    def of(cls, per_pair: int, per_address: int, window_seconds: int) -> ThrottleLimits:
        """The account limit is ten times the pair's: many addresses failing on one account."""
        return cls(per_pair, per_address, per_pair * 10, window_seconds)


def seconds_to_wait(
    newest_first: Sequence[float], limit: int, window_seconds: int, now: float
) -> int | None:
    """None while fewer than ``limit`` failures (Unix times, newest first) are in the window,
    else the whole seconds until the oldest of the newest ``limit`` leaves it (at least 1)."""
    recent = [t for t in newest_first[:limit] if t > now - window_seconds]
    if len(recent) < limit:
        return None
    return max(1, int(recent[-1] + window_seconds - now) + 1)


class LoginFailures(Protocol):
    """Where failed logins are counted. ``address`` is the client address (at most 64
    characters are kept); ``email`` is normalised by the caller."""

    async def pair_wait(self, email: str, address: str) -> int | None:
        """Seconds the pair must wait before its password is even checked, or None."""
        ...

    async def record(self, email: str, address: str) -> int | None:
        """Count one failure; the seconds to wait if this failure passed the address's or
        the account's limit (the answer is then 429 instead of 401), else None."""
        ...

    async def clear(self, email: str, address: str) -> None:
        """A success forgets the pair's failures."""
        ...
