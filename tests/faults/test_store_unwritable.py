"""The attachment store full, then read-only: 507 problem+json, nothing stored, /readyz says so.

As root (CI) the store is a small tmpfs of the test's own, filled up and then
remounted read-only; otherwise its folders are made read-only with chmod.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests import samples
from tests.conftest import Database, LiveServer
from tests.factories import SSL_CONTEXT, Desk


def _mount(target: Path, *options: str) -> bool:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(target)],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "store"
    root.mkdir()
    mounted = os.geteuid() == 0 and _mount(root, "size=256k")
    if os.geteuid() == 0 and not mounted:
        pytest.skip("running as root without the right to mount a tmpfs")
    try:
        yield root
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)
        else:
            for folder in [root, *root.rglob("*")]:
                if folder.is_dir():
                    folder.chmod(0o755)


def _make_read_only(root: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
    else:
        for folder in [*root.rglob("*"), root]:
            if folder.is_dir():
                folder.chmod(0o555)


def _files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "journal" not in p.parts]


def test_a_full_or_read_only_store_is_507_and_keeps_nothing(
    desk: Desk, db: Database, settings: Settings, store: Path
) -> None:
    server = LiveServer(settings.model_copy(update={"storage_dir": store}))
    base = server.start()
    customer = desk.customer()
    token = desk.customer_user(customer).headers["Authorization"]
    payload = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Errore di stampa",
        "description": "Allego il log.",
    }
    try:
        with httpx.Client(
            base_url=f"{base}/api/v1",
            timeout=30,
            verify=SSL_CONTEXT,
            headers={"Authorization": token},
        ) as c:
            # A file that fits goes in; the store works.
            r = c.post(
                "/tickets",
                data={"payload": json.dumps(payload)},
                files=[("files", ("a.png", samples.png("fits"), "image/png"))],
            )
            assert r.status_code == 201, r.text
            kept = _files_in(store)
            ticket_rows = db.scalar("SELECT count(*) FROM ticket")
            attachment_rows = db.scalar("SELECT count(*) FROM attachment")
            if os.geteuid() == 0:
                # Full: a log bigger than what is left of the 256 KiB tmpfs.
                log = b"riga di log della stampante\n" * 20_000
                r = c.post(
                    "/tickets",
                    data={"payload": json.dumps(payload)},
                    files=[
                        ("files", ("b.png", samples.png("before-the-full-one"), "image/png")),
                        ("files", ("stampa.log", log, "text/plain")),
                    ],
                )
                assert r.status_code == 507, r.text
                assert r.headers["content-type"] == "application/problem+json"
                assert "nothing was stored" in r.json()["detail"]
                assert "/" not in r.json()["detail"], "no path in the answer"
                assert _files_in(store) == kept
            _make_read_only(store)
            r = c.post(
                "/tickets",
                data={"payload": json.dumps(payload)},
                files=[("files", ("c.png", samples.png("read-only"), "image/png"))],
            )
            assert r.status_code == 507, r.text
            assert db.scalar("SELECT count(*) FROM ticket") == ticket_rows
            assert db.scalar("SELECT count(*) FROM attachment") == attachment_rows
            assert _files_in(store) == kept
            ready = httpx.get(f"{base}/readyz", timeout=30)
            assert ready.status_code == 503
            assert ready.json()["storage"] == "unavailable"
            assert ready.json()["database"] == "ok"
            # What was stored before stays readable.
            listed = c.get("/tickets").json()["items"]
            first = c.get(f"/tickets/{listed[-1]['id']}").json()["attachments"][0]
            assert c.get(f"/attachments/{first['id']}/content").status_code == 200
    finally:
        server.stop()


def _make_writable(root: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,rw", str(root)], check=True)
    else:
        for folder in [root, *root.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)


def test_a_mail_that_comes_while_the_store_is_read_only_comes_again_later(
    desk: Desk, db: Database, settings: Settings, store: Path
) -> None:
    """The original of every mail is kept as a file: while the store cannot take it, the mail
    is not refused (refused, its content was lost and its Message-ID taken as seen, so that
    the MTA's next try was a duplicate) but not taken: 507, which the mail gate turns into
    "try again later", nothing recorded; once the store is back, the same mail opens its
    ticket."""
    server = LiveServer(settings.model_copy(update={"storage_dir": store}))
    base = server.start()
    customer = desk.customer()
    desk.customer_user(customer, email="mario.rossi@rossi.example")
    gate = {
        "Authorization": desk.api_key("mail:ingest").headers["Authorization"],
        "Content-Type": "message/rfc822",
    }
    mail = (
        b"From: Mario Rossi <mario.rossi@rossi.example>\r\nTo: support@sportello.test\r\n"
        b"Subject: La stampa non parte\r\nMessage-ID: <store-down@rossi.example>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nDal menu Vendite non stampa.\r\n"
    )
    try:
        with httpx.Client(base_url=f"{base}/api/v1", timeout=30, verify=SSL_CONTEXT) as c:
            (store / "blobs").mkdir(exist_ok=True)
            _make_read_only(store)
            r = c.post("/inbound/mail", content=mail, headers=gate)
            assert r.status_code == 507, r.text
            assert db.scalar("SELECT count(*) FROM inbound_mail") == 0
            assert db.scalar("SELECT count(*) FROM ticket") == 0
            _make_writable(store)
            r = c.post("/inbound/mail", content=mail, headers=gate)
            assert r.status_code == 201, r.text
            assert r.json()["outcome"] == "ticket"
            assert db.scalar("SELECT subject FROM ticket") == "La stampa non parte"
    finally:
        server.stop()
