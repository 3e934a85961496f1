"""A real IMAP server for the tests: Dovecot from Debian's packages, on a loopback port.

Its configuration, mail and logs live in a throwaway directory; users come from
a passwd-file (no system accounts, no systemd). When run as root the mail is
kept as the ``dovecot`` user, which Dovecot accepts (it refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.config import Settings
from app.db.session import make_sessionmaker
from app.services import mailbox
from tests.mailcorpus import clear_inbox
from tests.smtp import free_port

if TYPE_CHECKING:
    from tests.conftest import Database

USER = "support@sportello.test"
PASSWORD = "imap-password"


def available() -> bool:
    return shutil.which("dovecot") is not None


class Dovecot:
    def __init__(self, tls: bool = False) -> None:
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        # Directly under /tmp, readable by the dovecot user when run as root (pytest's
        # own temporary directories are private to their owner).
        self.base = Path(tempfile.mkdtemp(prefix="sportello-imap-"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _owner(self) -> tuple[int, int, str]:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("dovecot")
            return entry.pw_uid, entry.pw_gid, "dovecot"
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_uid, entry.pw_gid, entry.pw_name

    def start(self) -> None:
        uid, gid, name = self._owner()
        run = self.base / "run"
        mail = self.base / "mail"
        for d in (run, mail):
            d.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(mail, uid, gid)
        passwd = self.base / "passwd"
        passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{mail}/%u::\n")
        ssl_conf = "ssl = no"
        if self.tls:
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-keyout",
                    str(self.base / "key.pem"),
                    "-out",
                    str(self.base / "cert.pem"),
                ],
                check=True,
                capture_output=True,
            )
            ssl_conf = (
                f"ssl = yes\nssl_cert = <{self.base}/cert.pem\nssl_key = <{self.base}/key.pem"
            )
        conf = self.base / "dovecot.conf"
        conf.write_text(
            f"""
base_dir = {run}
state_dir = {run}
log_path = {self.base}/dovecot.log
info_log_path = {self.base}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_conf}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {name}
default_internal_group = {name}
default_login_user = {name}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.base / "dovecot.log"
                log = log_file.read_text() if log_file.exists() else ""
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot did not start: {err}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not listen in time")

    @property
    def ca_file(self) -> str:
        return str(self.base / "cert.pem")

    def tls_url(self, starttls: bool) -> str:
        user = f"{USER.replace('@', '%40')}:{PASSWORD}"
        if starttls:
            return f"imap://{user}@127.0.0.1:{self.port}/INBOX?starttls=true"
        return f"imaps://{user}@127.0.0.1:{self.tls_port}/INBOX"

    @property
    def url(self) -> str:
        return f"imap://{USER.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.skip("dovecot is not installed (.ci/run installs dovecot-imapd)")
    server = Dovecot()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inbox(dovecot: Dovecot) -> Dovecot:
    clear_inbox("127.0.0.1", dovecot.port, USER, PASSWORD)
    return dovecot


def imap_settings(db: Database, server: Dovecot) -> Settings:
    return db.settings.model_copy(update={"inbox_imap_url": server.url, "inbox_batch_size": 50})


def poll(db: Database, settings: Settings) -> int:
    return db.run(mailbox.poll(make_sessionmaker(db.engine, settings), settings))
