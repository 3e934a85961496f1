"""Start-up chores: the first admin from the environment."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.domain.access import Locale, Role
from app.domain.errors import Conflict
from app.services import auth as auth_service
from app.services import users as user_service

logger = logging.getLogger("sportello.bootstrap")


async def ensure_first_admin(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> bool:
    """Create the admin of ``ADMIN_EMAIL``/``ADMIN_PASSWORD`` when there is no admin yet."""
    if not (settings.admin_email and settings.admin_password):
        return False
    try:
        async with sessions.begin() as session:
            if await auth_service.count_admins(session) > 0:
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
        logger.warning("first admin not created: %s is already a user", settings.admin_email)
        return False
    logger.info("created the first admin %s", settings.admin_email)
    return True
