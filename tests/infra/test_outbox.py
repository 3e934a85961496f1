"""The dispatcher against a real SMTP server: outages, crashes, races, the log mode, the worker."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.infra import outbox
from tests.api.test_notifications import World, move, reply
from tests.conftest import PG_URL, Database, LiveServer
from tests.factories import SSL_CONTEXT, Desk
from tests.smtp import SmtpSink, dispatch, make_due

MESSAGE_ID = re.compile(r"<notification-(\d+)\.\d+@sportello\.example>")


def rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async def go() -> list[Any]:
        async with db.engine.begin() as conn:
            return list((await conn.execute(text(sql), params)).all())

    return db.run(go())


def statuses(db: Database) -> Counter[str]:
    return Counter(r.status for r in rows(db, "SELECT status FROM notification"))


def delivered_ids(mailbox: SmtpSink) -> list[int]:
    ids = []
    for mail in mailbox.messages:
        found = MESSAGE_ID.fullmatch(mail.message_id)
        assert found is not None, mail.message_id
        ids.append(int(found.group(1)))
    return ids


def some_changes(desk: Desk) -> World:
    """A ticket (2 mails), an agent's answer (1), a move (1), an internal note (0)."""
    world = World(desk)
    ticket = world.ticket()
    reply(world.agent, ticket, "Stiamo verificando, la aggiorniamo a breve.")
    move(world.agent, ticket, "waiting_customer")
    reply(world.agent, ticket, "Solo per noi: sentire il fornitore.", "internal")
    return world


def test_an_smtp_outage_delays_mail_and_loses_none(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    # One attempt allowed: an outage must still not make any mail fail.
    one_try = settings.model_copy(update={"mail_max_attempts": 1})
    mailbox.stop()
    try:
        some_changes(desk)
        assert dispatch(db, one_try) == 0
        assert statuses(db) == Counter({"queued": 4})
        for row in rows(db, "SELECT attempts, last_error, next_attempt_at FROM notification"):
            assert row.attempts == 1
            assert row.last_error and "127.0.0.1" in row.last_error
        assert dispatch(db, one_try) == 0, "a retry waits for its backoff"
        make_due(db)
        assert dispatch(db, one_try) == 0, "still down"
    finally:
        mailbox.start()
    make_due(db)
    assert dispatch(db, one_try) == 4
    assert dispatch(db, one_try) == 0
    ids = delivered_ids(mailbox)
    assert sorted(ids) == sorted(r.id for r in rows(db, "SELECT id FROM notification"))
    assert len(set(ids)) == len(ids) == 4, "every mail exactly once"
    assert statuses(db) == Counter({"sent": 4})


def test_a_sender_the_server_refuses_is_a_configuration_fault_and_fails_no_mail(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    one_try = settings.model_copy(update={"mail_max_attempts": 1})
    some_changes(desk)
    mailbox.rejected.add(settings.mail_from)
    assert dispatch(db, one_try) == 0
    assert statuses(db) == Counter({"queued": 4})
    assert count(db, "last_error LIKE 'SMTP 550%'") == 1, "the batch stops at the first refusal"
    mailbox.rejected.clear()  # the configuration is fixed
    make_due(db)
    assert dispatch(db, one_try) == 4
    assert len(set(delivered_ids(mailbox))) == 4


def test_a_mail_sent_by_a_worker_that_died_before_recording_it_goes_again_with_its_message_id(
    desk: Desk, mailbox: SmtpSink, db: Database
) -> None:
    some_changes(desk)
    assert dispatch(db) == 4
    first = {m.message_id for m in mailbox.messages}
    # A worker claims the rows, sends, and dies before settling: the rows stay `sending`.
    lease_end = datetime.now(UTC) + timedelta(minutes=5)
    db.execute(
        "UPDATE notification SET status = 'sending', next_attempt_at = :at",
        at=lease_end.replace(tzinfo=None) if db.dialect == "sqlite" else lease_end,
    )
    assert dispatch(db) == 0, "a live lease is left alone"
    make_due(db)  # the lease expires
    assert dispatch(db) == 4
    again = Counter(m.message_id for m in mailbox.messages)
    assert set(again) == first and set(again.values()) == {2}
    assert statuses(db) == Counter({"sent": 4})


def test_two_dispatchers_racing_deliver_each_mail_once(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    small_batches = settings.model_copy(update={"mail_batch_size": 2})
    for _ in range(3):
        some_changes(desk)
    assert statuses(db) == Counter({"queued": 12})

    async def race() -> list[int]:
        return list(
            await asyncio.gather(
                outbox.dispatch(db.sessions, small_batches),
                outbox.dispatch(db.sessions, small_batches),
            )
        )

    counts = db.run(race())
    assert sum(counts) == 12
    ids = delivered_ids(mailbox)
    assert len(ids) == 12 and len(set(ids)) == 12
    assert statuses(db) == Counter({"sent": 12})


@pytest.mark.skipif(not PG_URL, reason="SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
def test_a_claim_skips_the_rows_another_worker_holds_instead_of_waiting(
    desk: Desk, db: Database, settings: Settings
) -> None:
    some_changes(desk)
    all_ids = sorted(r.id for r in rows(db, "SELECT id FROM notification"))

    async def scenario() -> tuple[list[int], list[int]]:
        async with db.engine.connect() as holder:
            await holder.begin()
            held = (
                await holder.execute(
                    text("SELECT id FROM notification ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED")
                )
            ).scalars()
            held_ids = list(held)
            claimed = await asyncio.wait_for(outbox.claim(db.sessions, settings, 10), timeout=5)
            await holder.rollback()
        return held_ids, [c.id for c in claimed]

    held, claimed = db.run(scenario())
    assert held == all_ids[:2]
    assert sorted(claimed) == all_ids[2:]


def test_without_a_mail_server_each_mail_is_logged_and_marked_sent(
    desk: Desk,
    mailbox: SmtpSink,
    db: Database,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    no_server = settings.model_copy(update={"mail_server": ""})
    world = World(desk)
    ticket = world.ticket()
    token = db.scalar("SELECT secret FROM notification WHERE kind = 'confirmation'")
    log = logging.getLogger("sportello.mail")
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="sportello.mail"):
            assert dispatch(db, no_server) == 2
    finally:
        log.removeHandler(caplog.handler)
    assert mailbox.messages == []
    assert statuses(db) == Counter({"sent": 2})
    logged = caplog.text
    assert f"To {world.email} Subject [{ticket['number']}] Ticket ricevuto" in logged
    assert "To desk@sportello.test" in logged
    assert "vi confermiamo l'avvenuta apertura del ticket" in logged
    assert token not in logged, "the link's token is a secret: not in the log"
    assert "/api/v1/public/tickets/[token hidden in the log]" in logged


def test_old_delivered_mail_is_purged_and_failed_mail_kept(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings
) -> None:
    some_changes(desk)
    dispatch(db)
    old = datetime.now(UTC) - timedelta(days=settings.mail_retention_days + 1)
    old_value = old.replace(tzinfo=None) if db.dialect == "sqlite" else old
    ids = sorted(r.id for r in rows(db, "SELECT id FROM notification"))
    db.execute("UPDATE notification SET created_at = :at WHERE id <= :id", at=old_value, id=ids[1])
    db.execute("UPDATE notification SET status = 'failed' WHERE id = :id", id=ids[0])

    async def purge() -> int:
        async with db.sessions.begin() as session:
            return await outbox.purge_sent(session, settings)

    assert db.run(purge()) == 1
    assert sorted(r.id for r in rows(db, "SELECT id FROM notification")) == [ids[0], *ids[2:]]


# --- end to end: the in-process worker (RUN_WORKER) ----------------------------------------


@pytest.fixture
def worker_server(settings: Settings, db: Database) -> Iterator[str]:
    """A second live app on the same database, running its worker (as by default)."""
    server = LiveServer(
        settings.model_copy(
            update={"run_worker": True, "worker_interval_seconds": 0.1, "mail_timeout_seconds": 20}
        )
    )
    base_url = server.start()
    yield f"{base_url}/api/v1"
    server.stop()


@pytest.fixture
def black_hole(mailbox: SmtpSink) -> Iterator[socket.socket]:
    """The SMTP port taken by a socket that lets clients connect and never says a word.

    Closing it resets the connections it kept waiting; the fixture then gives the
    port back to the SMTP server.
    """
    mailbox.stop()
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", mailbox.port))
    hole.listen(16)
    yield hole
    hole.close()
    mailbox.start()


def wait_for(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def count(db: Database, where: str) -> int:
    found: int = db.scalar(f"SELECT count(*) FROM notification WHERE {where}")  # noqa: S608
    return found


def test_the_api_answers_while_smtp_hangs_and_its_worker_delivers_when_smtp_is_back(
    desk: Desk,
    mailbox: SmtpSink,
    db: Database,
    worker_server: str,
    black_hole: socket.socket,
) -> None:
    world = World(desk)
    with httpx.Client(
        base_url=worker_server,
        headers={"Authorization": world.client.headers["Authorization"]},
        timeout=30,
        verify=SSL_CONTEXT,
    ) as client:
        started = time.monotonic()
        r = client.post(
            "/tickets",
            json={
                "customer_code": world.customer["code"],
                "type": "technical",
                "subject": "Il gestionale non si avvia",
                "description": "Dopo l'aggiornamento il gestionale non si avvia più.",
            },
        )
        assert r.status_code == 201, r.text
        # An SMTP exchange in the request would wait out the 20 s timeout.
        assert time.monotonic() - started < 5, "the request does not wait for SMTP"
        number = r.json()["number"]

        # The worker has claimed the mails and waits for a server that never answers;
        # meanwhile the API goes on answering.
        wait_for(lambda: count(db, "status = 'sending' AND attempts = 1") == 2)
        assert client.get(f"/tickets/{r.json()['id']}").status_code == 200
        assert client.get("/tickets").status_code == 200

    black_hole.close()  # the connection drops: the mails wait for a retry
    wait_for(lambda: count(db, "status = 'queued' AND last_error IS NOT NULL") == 2)
    assert mailbox.messages == []
    mailbox.start()  # the server is back
    make_due(db)
    wait_for(lambda: len(mailbox.messages) == 2)
    assert all(m.subject.startswith(f"[{number}] ") for m in mailbox.messages)
    wait_for(lambda: statuses(db) == Counter({"sent": 2}))


def test_a_sportello_worker_process_delivers_the_queued_mail(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings, tmp_path: Path
) -> None:
    some_changes(desk)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(
        SPORTELLO_DATABASE_URL=settings.database_url,
        SPORTELLO_AUTO_MIGRATE="false",
        SPORTELLO_MAIL_SERVER="127.0.0.1",
        SPORTELLO_MAIL_PORT=str(mailbox.port),
        SPORTELLO_MAIL_FROM=settings.mail_from,
        SPORTELLO_SUPPORT_EMAIL=settings.support_email,
    )
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(set(delivered_ids(mailbox))) == len(mailbox.messages) == 4
    assert statuses(db) == Counter({"sent": 4})
