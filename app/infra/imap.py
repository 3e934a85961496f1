"""The mailbox polled over IMAP (aioimaplib): fetch unseen mail, import it, then mark it seen.

One round (``services/mailbox.py: poll``): log in (password, or ``XOAUTH2`` with a token), select
the folder, search ``UNSEEN``, and for each message, oldest first: fetch it with
``BODY.PEEK[]`` (which leaves it unseen), import it in a transaction of its own
(``services/inbound/receiving.py: receive``) and commit, and only then set ``\\Seen``.

A worker killed between the commit and the flag leaves the message unseen: the
next round fetches it again, finds its Message-ID already imported, imports
nothing and marks it seen. Two workers polling the same mailbox import each
message once (the unique index on ``inbound_mail.message_id``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aioimaplib

logger = logging.getLogger("sportello.imap")

FETCH_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class ImapTarget:
    host: str
    port: int
    tls: bool
    starttls: bool
    user: str
    password: str
    folder: str


def parse_url(url: str) -> ImapTarget:
    """``imaps://user:password@host:993/INBOX`` or ``imap://...?starttls=true``."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("SPORTELLO_INBOX_IMAP_URL must be imap://... or imaps://...")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
    tls = parts.scheme == "imaps"
    return ImapTarget(
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        tls=tls,
        starttls=starttls and not tls,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


class ImapError(Exception):
    """The server said no, or could not be reached; the round ends, nothing is marked."""


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        raise ImapError(f"IMAP {what} failed: {response.result}")
    return response


async def _starttls(client: aioimaplib.IMAP4, host: str, context: ssl.SSLContext) -> None:
    """STARTTLS (RFC 3501 6.2.1), which aioimaplib lists but does not do: ask, then wrap
    the connection's transport in TLS before anything else is said."""
    protocol = client.protocol
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    _ok(await asyncio.wait_for(protocol.execute(command), client.timeout), "STARTTLS")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(protocol.transport, protocol, context, server_hostname=host)
    protocol.transport = transport
    await protocol.capability()


class Mailbox:
    """One connection to the inbox folder."""

    def __init__(
        self,
        target: ImapTarget,
        oauth2_token: str = "",
        timeout: float = 30.0,
        ca_file: str = "",
    ) -> None:
        self.target = target
        self.oauth2_token = oauth2_token
        self.ca_file = ca_file
        self.timeout = timeout
        self.client: aioimaplib.IMAP4 | None = None

    async def __aenter__(self) -> Mailbox:
        t = self.target
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if t.tls:
            self.client = aioimaplib.IMAP4_SSL(
                t.host, t.port, timeout=self.timeout, ssl_context=context
            )
        else:
            self.client = aioimaplib.IMAP4(t.host, t.port, timeout=self.timeout)
        try:
            await self.client.wait_hello_from_server()
            if t.starttls:
                await _starttls(self.client, t.host, context)
            if self.oauth2_token:
                _ok(await self.client.xoauth2(t.user, self.oauth2_token), "XOAUTH2")
            else:
                _ok(await self.client.login(t.user, t.password), "LOGIN")
            _ok(await self.client.select(t.folder), "SELECT")
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"IMAP {type(exc).__name__}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            try:
                await self.client.logout()
            except Exception:  # a connection already gone has nothing to log out of
                logger.debug("IMAP logout failed", exc_info=True)

    @property
    def _c(self) -> aioimaplib.IMAP4:
        assert self.client is not None
        return self.client

    async def unseen(self) -> list[int]:
        response = _ok(await self._c.uid_search("UNSEEN", charset=None), "SEARCH")
        uids: list[int] = []
        for line in response.lines:
            text = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
            if re.fullmatch(r"[\d ]+", text.strip()):
                uids += [int(u) for u in text.split()]
        return sorted(set(uids))

    async def fetch(self, uid: int) -> bytes | None:
        """The raw message, without setting ``\\Seen`` (``BODY.PEEK``); None if it is gone."""
        response = _ok(await self._c.uid("fetch", str(uid), "(BODY.PEEK[])"), "FETCH")
        # The literal is the line after "* n FETCH (... {size}".
        for i, line in enumerate(response.lines):
            literal = isinstance(line, bytes | bytearray) and re.search(rb"\{\d+\}$", bytes(line))
            if literal and i + 1 < len(response.lines):
                data = response.lines[i + 1]
                return bytes(data) if isinstance(data, bytes | bytearray) else None
        return None

    async def mark_seen(self, uid: int) -> None:
        _ok(await self._c.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)"), "STORE")
