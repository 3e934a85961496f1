"""A worker killed (SIGKILL) in the middle of a mail batch: no mail lost, at most one sent twice.

Each mail is recorded as sent as soon as the SMTP server accepts it, so the only
mail a crash can leave unrecorded is the one in flight; it goes again (same
``Message-ID``) when its lease ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from app.config import Settings
from tests.conftest import Database
from tests.factories import Desk
from tests.infra.test_outbox import delivered_ids, rows, statuses
from tests.smtp import SmtpSink, dispatch, make_due

MAILS = 50


def test_a_worker_killed_mid_batch_loses_none_and_repeats_at_most_one(
    desk: Desk, mailbox: SmtpSink, db: Database, settings: Settings, tmp_path: Path
) -> None:
    admin = desk.admin()
    customer = desk.customer(email="info@cliente.example")
    for i in range(MAILS // 2):  # each ticket: the confirmation and the desk's copy
        desk.ticket(admin, customer, subject=f"Guasto numero {i}")
    assert db.scalar("SELECT count(*) FROM notification") == MAILS
    mailbox.delay = 0.05  # the server takes its time: the worker is caught mid-batch
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(
        SPORTELLO_DATABASE_URL=settings.database_url,
        SPORTELLO_AUTO_MIGRATE="false",
        SPORTELLO_MAIL_SERVER="127.0.0.1",
        SPORTELLO_MAIL_PORT=str(mailbox.port),
        SPORTELLO_MAIL_FROM=settings.mail_from,
        SPORTELLO_SUPPORT_EMAIL=settings.support_email,
        SPORTELLO_MAIL_BATCH_SIZE=str(MAILS),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(mailbox.messages) < MAILS // 2 and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker stopped by itself"
            time.sleep(0.01)
        assert len(mailbox.messages) >= MAILS // 2, "the worker sent too little"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    before_restart = len(mailbox.messages)
    assert before_restart < MAILS, "the worker finished before it could be killed"
    # What was accepted is recorded, but for the mail in flight at most.
    sent = Counter(r.status for r in rows(db, "SELECT status FROM notification"))["sent"]
    assert before_restart - 1 <= sent <= before_restart
    mailbox.delay = 0.0
    make_due(db)  # the dead worker's lease runs out
    dispatch(db)
    ids = delivered_ids(mailbox)
    every = {r.id for r in rows(db, "SELECT id FROM notification")}
    assert set(ids) == every, "no mail lost"
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    assert len(repeated) <= 1, f"mails sent twice: {repeated}"
    assert len(ids) - len(every) <= 1
    assert statuses(db) == Counter({"sent": MAILS})
