"""Logging in and out, bearer tokens, API keys, and the throttling of failed logins."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.base import utcnow
from app.db.models import ApiKey, AuthToken, LoginFailure, User
from app.domain.access import Actor, Role, Scope, require_admin
from app.domain.errors import Forbidden, NotFound, TooManyRequests, Unauthenticated
from app.domain.login_throttle import LoginFailures, ThrottleLimits, seconds_to_wait
from app.services import passwords

API_KEY_PREFIX = "spk_"
MAX_TOKEN_LENGTH = 256
CALLER_KEY = "sportello.caller"

logger = logging.getLogger("sportello.auth")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: datetime


def throttle_limits(settings: Settings) -> ThrottleLimits:
    return ThrottleLimits.of(
        settings.login_max_failures,
        settings.login_max_failures_per_address,
        settings.login_window_seconds,
    )


class DatabaseLoginFailures:
    """Failed logins in the ``login_failure`` table: the embedded default, shared by every
    process on the database. Each call is a short transaction of its own: a failure must be
    recorded although the login's answer is an error."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], limits: ThrottleLimits) -> None:
        self._sessions = sessions
        self._limits = limits

    async def _wait(
        self, session: AsyncSession, limit: int, *conditions: ColumnElement[bool]
    ) -> int | None:
        now = utcnow()
        window = self._limits.window_seconds
        recent = (
            await session.scalars(
                select(LoginFailure.created_at)
                .where(*conditions, LoginFailure.created_at > now - timedelta(seconds=window))
                .order_by(LoginFailure.created_at.desc())
                .limit(limit)
            )
        ).all()
        return seconds_to_wait(
            [moment.timestamp() for moment in recent], limit, window, now.timestamp()
        )

    async def pair_wait(self, email: str, address: str) -> int | None:
        async with self._sessions.begin() as session:
            return await self._wait(
                session,
                self._limits.per_pair,
                LoginFailure.email == email,
                LoginFailure.address == address[:64],
            )

    async def record(self, email: str, address: str) -> int | None:
        async with self._sessions.begin() as session:
            session.add(LoginFailure(email=email[:320], address=address[:64]))
            await session.flush()
            for limit, condition in (
                # This failure included: the one past the limit is the first answered 429.
                (self._limits.per_address + 1, LoginFailure.address == address[:64]),
                (self._limits.per_account + 1, LoginFailure.email == email),
            ):
                wait = await self._wait(session, limit, condition)
                if wait is not None:
                    return wait
        return None

    async def clear(self, email: str, address: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(LoginFailure).where(
                    LoginFailure.email == email, LoginFailure.address == address[:64]
                )
            )


class FallbackLoginFailures:
    """A shared store (Redis) that falls back to the database while it cannot be reached:
    throttling never stops because Redis is down, and logins never fail because of it."""

    def __init__(self, primary: LoginFailures, fallback: LoginFailures) -> None:
        self._primary = primary
        self._fallback = fallback
        self._down = False

    async def _call(self, name: str, email: str, address: str) -> int | None:
        try:
            result: int | None = await getattr(self._primary, name)(email, address)
        except Exception as exc:  # the store is down or refuses: count in the database
            if not self._down:
                self._down = True
                logger.warning(
                    "login throttling store unavailable (%s); counting in the database",
                    type(exc).__name__,
                )
            fallback: int | None = await getattr(self._fallback, name)(email, address)
            return fallback
        if self._down:
            self._down = False
            logger.warning("login throttling store available again")
        return result

    async def pair_wait(self, email: str, address: str) -> int | None:
        return await self._call("pair_wait", email, address)

    async def record(self, email: str, address: str) -> int | None:
        return await self._call("record", email, address)

    async def clear(self, email: str, address: str) -> None:
        await self._call("clear", email, address)


async def login(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    email: str,
    password: str,
    address: str,
    failures: LoginFailures | None = None,
) -> IssuedToken:
    """Check the credentials and issue a token.

    The answer to an unknown e-mail, a wrong password and a deactivated account
    is the same 401, given after the same work.

    Throttling never refuses a correct password because of other people's
    failures (an office, or everyone behind one reverse proxy, shares an address):

    - the failing *pair* (account, address) is refused with 429 before the password
      is checked once it has ``LOGIN_MAX_FAILURES`` failures in the window, so
      guessing from one address stops being worth it;
    - past ``LOGIN_MAX_FAILURES_PER_ADDRESS`` failures from an address (unknown
      accounts, spraying) or 10 times ``LOGIN_MAX_FAILURES`` for one account from
      anywhere, a *wrong* answer is 429 instead of 401; a right one still logs in.
      Known and unknown accounts are answered alike, so the limits tell nobody
      which e-mails exist.

    Failures are counted in ``failures`` (Redis when configured), else in the database.
    Unlike other use cases this one runs its own transactions: a failed login
    must be recorded although the answer is an error (which rolls the request's
    transaction back), and the password is checked outside any transaction so
    that SQLite's write lock is not held while argon2 works.
    """
    email = normalise_email(email)
    if failures is None:
        failures = DatabaseLoginFailures(sessions, throttle_limits(settings))
    wait = await failures.pair_wait(email, address)
    if wait is not None:
        raise TooManyRequests("Too many failed logins; try again later.", retry_after=wait)
    async with sessions.begin() as session:
        user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        await passwords.burn_verification(settings, password)
        ok = False
    else:
        ok = user.is_active and await passwords.verify_password(
            settings, user.password_hash, password
        )
    if not ok or user is None:
        wait = await failures.record(email, address)
        if wait is not None:
            raise TooManyRequests("Too many failed logins; try again later.", retry_after=wait)
        raise Unauthenticated("Invalid e-mail or password.")
    await failures.clear(email, address)
    token = login_token()
    expires_at = utcnow() + timedelta(hours=settings.token_ttl_hours)
    async with sessions.begin() as session:
        session.add(
            AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires_at)
        )
    return IssuedToken(access_token=token, expires_at=expires_at)


async def logout(session: AsyncSession, actor: Actor, token: str) -> None:
    """End a login session. An API key is not a session: it is revoked with DELETE /api-keys."""
    if actor.is_api_key:
        raise Forbidden("API keys are revoked with DELETE /api-keys/{id}, not by logging out.")
    await session.execute(delete(AuthToken).where(AuthToken.token_hash == token_digest(token)))


# Built once: every request runs one of these, and building a statement and its cache key
# costs about as much CPU as running it. The values are bound at execution.
_USER_BY_TOKEN = (
    select(User)
    .join(AuthToken, AuthToken.user_id == User.id)
    .where(
        AuthToken.token_hash == bindparam("digest"),
        AuthToken.expires_at > bindparam("now", type_=AuthToken.expires_at.type),
        User.is_active.is_(True),
    )
)
_KEY_BY_DIGEST = select(ApiKey).where(
    ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None)
)


def login_token() -> str:
    """A new login token: 32 random bytes, never starting as an API key does (one token in
    16.7 million would, and be looked for among the keys, in vain, for its whole life)."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith(API_KEY_PREFIX):
            return token


async def authenticate(session: AsyncSession, token: str) -> Actor:
    """The actor behind a bearer token (a login token or an API key), or 401."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("Invalid or expired credentials.")
    digest = token_digest(token)
    if token.startswith(API_KEY_PREFIX):
        key = await session.scalar(_KEY_BY_DIGEST, {"digest": digest})
        if key is None:
            raise Unauthenticated("Invalid or expired credentials.")
        return Actor(
            role=Role.AGENT,
            user_id=None,
            customer_id=None,
            name=f"API key {key.name}",
            scopes=frozenset(Scope(s) for s in key.scopes),
            api_key_id=key.id,
        )
    user = await session.scalar(_USER_BY_TOKEN, {"digest": digest, "now": utcnow()})
    if user is None:
        raise Unauthenticated("Invalid or expired credentials.")
    # Held for the request: the identity map keeps objects only while referenced, and a later
    # step (a creation filling the contact) then gets the caller with session.get, no query.
    session.info[CALLER_KEY] = user
    return Actor(
        role=user.role,
        user_id=user.id,
        customer_id=user.customer_id,
        name=user.name,
        time_zone=user.time_zone,
        locale=user.locale.value,
    )


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


async def create_api_key(
    session: AsyncSession, actor: Actor, *, name: str, scopes: list[Scope]
) -> IssuedKey:
    require_admin(actor)
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[:12],
        key_hash=token_digest(secret),
        scopes=sorted({s.value for s in scopes}),
        created_by_id=actor.user_id,
    )
    session.add(key)
    await session.flush()
    return IssuedKey(key=key, secret=secret)


async def list_api_keys(session: AsyncSession, actor: Actor) -> list[ApiKey]:
    require_admin(actor)
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.id))).all())


async def revoke_api_key(session: AsyncSession, actor: Actor, key_id: int) -> None:
    require_admin(actor)
    key = await session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound("No such API key.")
    key.revoked_at = utcnow()


async def purge_expired(session: AsyncSession, settings: Settings) -> int:
    """Remove expired tokens and login failures older than the window (a periodic job)."""
    now = utcnow()
    tokens = await session.execute(delete(AuthToken).where(AuthToken.expires_at <= now))
    failures = await session.execute(
        delete(LoginFailure).where(
            LoginFailure.created_at <= now - timedelta(seconds=settings.login_window_seconds)
        )
    )
    return int(getattr(tokens, "rowcount", 0) or 0) + int(getattr(failures, "rowcount", 0) or 0)


async def count_admins(session: AsyncSession) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN))
        or 0
    )
