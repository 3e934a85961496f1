"""Start-up chores: the first admin from the environment."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.domain.access import Locale, Role
from app.domain.errors import Conflict, InvalidInput
from app.services import auth as auth_service
from app.services import users as user_service

logger = logging.getLogger("sportello.bootstrap")


async def ensure_first_admin(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> bool:
    """Create the admin of ``ADMIN_EMAIL``/``ADMIN_PASSWORD`` when there is no admin yet.

    The address and the password follow the rules of ``POST /users`` (the settings
    check them at start too). Whenever the variables are set but no admin is made,
    the log says why, so that a login that fails afterwards is not a mystery.
    """
    if not (settings.admin_email or settings.admin_password):
        return False
    if not (settings.admin_email and settings.admin_password):
        missing = "SPORTELLO_ADMIN_PASSWORD" if settings.admin_email else "SPORTELLO_ADMIN_EMAIL"
        logger.warning("first admin not created: %s is not set", missing)
        return False
    try:
        async with sessions.begin() as session:
            admins = await auth_service.count_admins(session)
            if admins > 0:
                logger.info(
                    "first admin not created: the database already has %d admin%s, so "
                    "SPORTELLO_ADMIN_EMAIL and SPORTELLO_ADMIN_PASSWORD are ignored "
                    "(use `sportello create-admin` to add another)",
                    admins,
                    "" if admins == 1 else "s",
                )
                return False
            await user_service.create(
                session,
                settings,
                None,
                email=settings.admin_email,
                name="Administrator",
                password=settings.admin_password,
                role=Role.ADMIN,
                customer_id=None,
                phone=None,
                locale=Locale.EN,
            )
    except Conflict:
        # Another process created it at the same moment, or the address belongs to a
        # non-admin user: the service starts anyway; `sportello create-admin` remains.
        logger.warning(
            "first admin not created: %s is already a user (not an admin, or an admin "
            "that another process created at the same moment)",
            settings.admin_email,
        )
        return False
    except InvalidInput as exc:
        logger.error("first admin not created: %s", exc.detail)
        return False
    logger.info("created the first admin %s", settings.admin_email)
    return True
