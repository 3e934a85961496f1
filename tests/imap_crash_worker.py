"""A worker that polls the IMAP inbox and is killed (SIGKILL) right after its first import
is committed, before the message is marked seen. Settings come from the environment."""

from __future__ import annotations

import asyncio
import os
import signal

from app.config import Settings
from app.db.session import make_engine, make_sessionmaker
from app.services import mailbox


def die(uid: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    settings = Settings()
    engine = make_engine(settings)
    await mailbox.poll(make_sessionmaker(engine, settings), settings, after_import=die)


if __name__ == "__main__":
    asyncio.run(main())
