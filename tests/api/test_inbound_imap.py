"""The IMAP inbox under crashes and concurrency: nothing lost, nothing imported twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db.session import make_sessionmaker
from app.infra.imap import ImapError
from app.services import mailbox
from tests import imapd
from tests.conftest import Database, repo_root
from tests.factories import Desk
from tests.imapd import imap_settings, poll
from tests.mailcorpus import append, unseen

HOST = "127.0.0.1"


def new_mail(n: int) -> bytes:
    return (
        "From: Mario Rossi <mario.rossi@rossi.example>\r\n"
        "To: support@sportello.test\r\n"
        f"Subject: Problema numero {n}\r\n"
        f"Message-ID: <crash-{n}@rossi.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Descrizione del problema {n}.\r\n"
    ).encode()


def _world(desk: Desk) -> None:
    rossi = desk.customer()
    desk.customer_user(rossi, email="mario.rossi@rossi.example")


def test_a_worker_killed_between_import_and_seen_loses_nothing_and_imports_nothing_twice(
    desk: Desk, db: Database, inbox: imapd.Dovecot
) -> None:
    _world(desk)
    append(HOST, inbox.port, imapd.USER, imapd.PASSWORD, [new_mail(n) for n in range(3)])
    settings = imap_settings(db, inbox)
    env = {
        **os.environ,
        "SPORTELLO_DATABASE_URL": settings.database_url,
        "SPORTELLO_INBOX_IMAP_URL": settings.inbox_imap_url,
        "SPORTELLO_STORAGE_DIR": str(settings.storage_dir),
        "SPORTELLO_MAIL_FROM": settings.mail_from,
        "SPORTELLO_SUPPORT_EMAIL": settings.support_email,
        "SPORTELLO_AUTO_MIGRATE": "false",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "tests.imap_crash_worker"],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-2000:]
    # Killed after the first import was committed, before it was marked seen.
    assert db.scalar("SELECT count(*) FROM inbound_mail") == 1
    assert db.scalar("SELECT count(*) FROM ticket") == 1
    assert unseen(HOST, inbox.port, imapd.USER, imapd.PASSWORD) == 3

    # The next round takes all three again, imports the two others, and marks all seen.
    assert poll(db, settings) == 3
    assert unseen(HOST, inbox.port, imapd.USER, imapd.PASSWORD) == 0
    assert db.scalar("SELECT count(*) FROM inbound_mail") == 3
    assert db.scalar("SELECT count(*) FROM ticket") == 3
    assert db.scalar("SELECT count(DISTINCT subject) FROM ticket") == 3


def test_two_workers_polling_one_inbox_import_each_mail_once(
    desk: Desk, db: Database, inbox: imapd.Dovecot
) -> None:
    _world(desk)
    append(HOST, inbox.port, imapd.USER, imapd.PASSWORD, [new_mail(n) for n in range(5)])
    settings = imap_settings(db, inbox)

    async def both() -> list[int]:
        sessions = make_sessionmaker(db.engine, settings)
        return list(
            await asyncio.gather(mailbox.poll(sessions, settings), mailbox.poll(sessions, settings))
        )

    taken = db.run(both())
    assert sum(taken) >= 5
    assert db.scalar("SELECT count(*) FROM inbound_mail") == 5
    assert db.scalar("SELECT count(*) FROM ticket") == 5
    assert unseen(HOST, inbox.port, imapd.USER, imapd.PASSWORD) == 0


def test_the_inbox_over_tls_and_starttls(desk: Desk, db: Database) -> None:
    """Dovecot with a certificate of its own: imaps:// and imap://...?starttls=true both
    verify it (INBOX_IMAP_CA_FILE) and take the mail; a certificate not trusted is refused."""
    server = imapd.Dovecot(tls=True)
    server.start()
    try:
        _world(desk)
        for n, starttls in enumerate((False, True)):
            append(HOST, server.port, imapd.USER, imapd.PASSWORD, [new_mail(10 + n)])
            settings = db.settings.model_copy(
                update={
                    "inbox_imap_url": server.tls_url(starttls),
                    "inbox_imap_ca_file": server.ca_file,
                }
            )
            assert poll(db, settings) == 1
        assert db.scalar("SELECT count(*) FROM ticket") == 2
        append(HOST, server.port, imapd.USER, imapd.PASSWORD, [new_mail(20)])
        untrusted = db.settings.model_copy(update={"inbox_imap_url": server.tls_url(False)})
        with pytest.raises(ImapError):
            poll(db, untrusted)
        assert unseen(HOST, server.port, imapd.USER, imapd.PASSWORD) == 1
    finally:
        server.stop()


def mail_with_a_file(n: int) -> bytes:
    log = "riga di log della stampante\r\n" * 8_000  # 232 KB: more than the store has room for
    return (
        "From: Mario Rossi <mario.rossi@rossi.example>\r\n"
        "To: support@sportello.test\r\n"
        f"Subject: Con allegato {n}\r\n"
        f"Message-ID: <file-{n}@rossi.example>\r\n"
        "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVedi allegato.\r\n"
        "--B\r\nContent-Type: text/plain; name=stampa.log\r\n"
        f'Content-Disposition: attachment; filename="stampa.log"\r\n\r\n{log}\r\n'
        "--B--\r\n"
    ).encode()


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Path]:
    """A store of 128 KiB (a tmpfs of the test's own: root only): a big mail does not fit."""
    root = tmp_path / "store"
    root.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a small store needs a tmpfs, which needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(root)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("running as root without the right to mount a tmpfs")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_messages_that_keep_failing_do_not_keep_new_mail_waiting(
    desk: Desk, db: Database, inbox: imapd.Dovecot, small_store: Path
) -> None:
    """A batch's worth of messages that cannot be taken now (their original does not fit in
    the store) stays unseen and is tried again, but after the mail that came since: the small
    mail behind them is taken on the next round, not when the store has room again."""
    _world(desk)
    append(
        HOST,
        inbox.port,
        imapd.USER,
        imapd.PASSWORD,
        [mail_with_a_file(n) for n in range(3)] + [new_mail(99)],
    )
    settings = imap_settings(db, inbox).model_copy(
        update={"inbox_batch_size": 2, "storage_dir": small_store}
    )
    assert poll(db, settings) == 0  # the first two do not fit
    assert poll(db, settings) == 1  # nor the third; the small mail behind it is taken
    assert db.scalar("SELECT subject FROM ticket") == "Problema numero 99"
    assert db.scalar("SELECT count(*) FROM inbound_mail") == 1  # none of the big ones refused
    assert unseen(HOST, inbox.port, imapd.USER, imapd.PASSWORD) == 3
