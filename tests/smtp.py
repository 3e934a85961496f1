"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller

from app.config import Settings
from app.infra import outbox

if TYPE_CHECKING:
    from tests.conftest import Database


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # Unfolded as a mail reader shows it (a long header is folded onto a second line).
        return " ".join(str(self.message["Subject"]).split())

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        content: str = part.get_content()  # type: ignore[attr-defined]
        return content.replace("\r\n", "\n")

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        content: str = part.get_content()  # type: ignore[attr-defined]
        return content


class SmtpSink:
    """The server's handler and its controller; stop() and start() keep the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.rejected: set[str] = set()
        """Addresses refused with a 550, as senders or as recipients."""
        self.delay = 0.0
        """Seconds the server takes to accept each message (to kill a worker mid-batch)."""
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # --- the server ---------------------------------------------------------------------

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any
    ) -> str:
        if address.lower() in self.rejected:
            return "550 5.7.1 Sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.rejected:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    # --- what the tests read ------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
        self.rejected.clear()
        self.delay = 0.0

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.envelope_to]

    def one_to(self, address: str) -> Received:
        found = self.to(address)
        assert len(found) == 1, [(m.envelope_to, m.subject) for m in self.messages]
        return found[0]


def dispatch(db: Database, settings: Settings | None = None) -> int:
    """Run the dispatcher once, on the test's side, as a worker would."""
    return db.run(outbox.dispatch(db.sessions, settings or db.settings))


def make_due(db: Database) -> None:
    """Bring every waiting retry forward to now, as if its backoff had passed."""
    db.execute(
        "UPDATE notification SET next_attempt_at = :past WHERE status IN ('queued', 'sending')",
        past=_past(db),
    )


def _past(db: Database) -> Any:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(seconds=1)
    return past.replace(tzinfo=None) if db.dialect == "sqlite" else past
