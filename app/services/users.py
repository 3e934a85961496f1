"""Users: customers' people, agents and admins; and one's own profile."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import AuthToken, Customer, User
from app.db.pagination import page_by_id
from app.db.session import flush_unique, take_turns
from app.domain.access import (
    Actor,
    Locale,
    Role,
    may_manage_user,
    password_problem,
    require_user,
)
from app.domain.dates import DEFAULT_TIME_ZONES
from app.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services import email_changes, passwords
from app.services.auth import normalise_email, token_digest


async def _check_customer(session: AsyncSession, role: Role, customer_id: int | None) -> None:
    if role is Role.CUSTOMER:
        if customer_id is None:
            raise InvalidInput("A customer user needs a customer_id.", ["body", "customer_id"])
        if await session.get(Customer, customer_id) is None:
            raise InvalidInput("No such customer.", ["body", "customer_id"])
    elif customer_id is not None:
        raise InvalidInput("Only customer users belong to a customer.", ["body", "customer_id"])


async def _ensure_email_free(session: AsyncSession, email: str, exclude_id: int | None) -> None:
    stmt = select(User.id).where(User.email == email)
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    if await session.scalar(stmt) is not None:
        raise Conflict(f"A user with e-mail {email!r} already exists.")


def check_credentials(email: str, password: str) -> None:
    """The rules of ``POST /users`` for an address and a new password, for every way in
    (the API, ``sportello create-admin``, the first admin from the environment)."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"Not a valid e-mail address: {exc}", ["body", "email"]) from None
    problem = password_problem(password)
    if problem is not None:
        raise InvalidInput(f"The password must be one that {problem}.", ["body", "password"])


async def create(
    session: AsyncSession,
    settings: Settings,
    actor: Actor | None,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    customer_id: int | None,
    phone: str | None,
    locale: Locale,
) -> User:
    """Create a user. ``actor`` None is the command line (``create-admin``, demo data)."""
    if actor is not None:
        may_manage_user(actor, role)
    check_credentials(email, password)
    await _check_customer(session, role, customer_id)
    email = normalise_email(email)
    await _ensure_email_free(session, email, None)
    user = User(
        email=email,
        name=name,
        password_hash=await passwords.hash_password(settings, password),
        role=role,
        customer_id=customer_id,
        phone=phone,
        locale=locale,
        time_zone=DEFAULT_TIME_ZONES[locale],
    )
    session.add(user)
    await flush_unique(session, f"A user with e-mail {email!r} already exists.")
    return user


async def _visible_user(session: AsyncSession, actor: Actor, user_id: int) -> User:
    if actor.is_api_key or not actor.is_staff:
        raise Forbidden("Only staff users may read users.")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def get(session: AsyncSession, actor: Actor, user_id: int) -> User:
    return await _visible_user(session, actor, user_id)


async def list_page(
    session: AsyncSession,
    actor: Actor,
    *,
    role: Role | None,
    customer_id: int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[User], str | None]:
    if actor.is_api_key or not actor.is_staff:
        raise Forbidden("Only staff users may read users.")
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if customer_id is not None:
        stmt = stmt.where(User.customer_id == customer_id)
    return await page_by_id(session, stmt, User.id, limit=limit, cursor=cursor)


async def update(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    user_id: int,
    changes: dict[str, Any],
) -> User:
    """Staff edit users: agents only customer users (and cannot change a role), admins all.

    A new password or a deactivation ends the user's sessions; with an address set here,
    they also end the user's pending e-mail change."""
    user = await _visible_user(session, actor, user_id)
    may_manage_user(actor, user.role)
    new_role = changes.get("role", user.role)
    if new_role is not user.role:
        may_manage_user(actor, new_role)
    if "role" in changes or "customer_id" in changes:
        new_customer = changes.get("customer_id", user.customer_id)
        await _check_customer(session, new_role, new_customer)
    demoted = new_role is not Role.ADMIN or changes.get("is_active") is False
    if actor.user_id == user.id and demoted:
        raise Forbidden("An administrator cannot demote or deactivate their own account.")
    if user.role is Role.ADMIN and user.is_active and demoted:
        await _keep_an_admin(session, user.id)
    if "email" in changes:
        changes["email"] = normalise_email(changes["email"])
        await _ensure_email_free(session, changes["email"], user.id)
    password = changes.pop("password", None)
    if password is not None:
        user.password_hash = await passwords.hash_password(settings, password)
    for field, value in changes.items():
        setattr(user, field, value)
    if password is not None or changes.get("is_active") is False:
        # A new password or a deactivation ends every open session of the user.
        await session.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
    if password is not None or changes.get("is_active") is False or "email" in changes:
        # ... and the e-mail change they may have asked for: its link would otherwise take
        # the login afterwards (or undo the address staff just set).
        await email_changes.cancel(session, user.id)
    await flush_unique(session, f"A user with e-mail {user.email!r} already exists.")
    return user


async def _keep_an_admin(session: AsyncSession, leaving_id: int) -> None:
    """The desk keeps an active administrator: two admins demoting (or deactivating) each
    other at once both passed the rule on oneself and left none (no one to manage users,
    categories or keys). Demotions take turns until commit, and the one that would leave no
    other active admin is a 409."""
    await take_turns(session, "sportello.admins")
    others = await session.scalar(
        select(User.id)
        .where(User.role == Role.ADMIN, User.is_active.is_(True), User.id != leaving_id)
        .limit(1)
    )
    if others is None:
        raise Conflict("The last active administrator cannot be demoted or deactivated.")


async def me(session: AsyncSession, actor: Actor) -> User:
    user = await session.get(User, require_user(actor))
    if user is None:
        raise NotFound("No such user.")
    return user


async def update_me(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    changes: dict[str, Any],
    *,
    current_token: str,
) -> User:
    """Change one's own profile; a new password needs the current one and ends other sessions
    and any e-mail change asked before it.

    A new e-mail address needs the current password too, and takes effect only when
    the link mailed to it is opened (``services/email_changes.py``).
    """
    user = await me(session, actor)
    password = changes.pop("password", None)
    current = changes.pop("current_password", None)
    new_email = changes.pop("email", None)
    if (password is not None or new_email is not None) and (
        current is None
        or not await passwords.verify_password(settings, user.password_hash, current)
    ):
        raise InvalidInput(
            "The current password is missing or wrong.", ["body", "current_password"]
        )
    if password is not None:
        # A new password ends a change asked before it (by whoever held the old one); one
        # asked in this same request is made below and stays.
        await email_changes.cancel(session, user.id)
    if new_email is not None:
        await email_changes.request(session, user, new_email)
    if password is not None:
        user.password_hash = await passwords.hash_password(settings, password)
        await session.execute(
            delete(AuthToken).where(
                AuthToken.user_id == user.id, AuthToken.token_hash != token_digest(current_token)
            )
        )
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    return user
