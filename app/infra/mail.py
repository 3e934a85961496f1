"""Mail: rendering a notification with its templates, and sending it.

``Mailer`` is the one seam to the outside world. ``SmtpMailer`` sends through
fastapi-mail's connection (its ``ConnectionConfig`` carries the ``MAIL_*``
settings: STARTTLS or TLS, credentials, timeout); ``LogMailer`` writes each mail
to the log when no mail server is configured, so the first run needs nothing
but Python.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import aiosmtplib
from fastapi_mail import ConnectionConfig
from fastapi_mail.connection import Connection
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from app.config import Settings
from app.db.base import utcnow
from app.domain.tickets import TicketStatus, label
from app.infra.blob_stores import make_storage
from app.infra.storage import StorageUnavailable

logger = logging.getLogger("sportello.mail")

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_SUBJECT = 250
MAX_ERROR = 500
LOCALES = ("it", "es", "en")


# --- rendering -----------------------------------------------------------------------------


# HTML templates escape everything they are given; plain-text ones need no escaping.
_TEMPLATES = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str, limit: int = MAX_SUBJECT) -> str:
    """A header-safe line: control characters (CR/LF above all) become spaces, then cut."""
    cleaned = " ".join(_CONTROL.sub(" ", value).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def render(
    kind: str,
    locale: str,
    context: dict[str, Any],
    link: str | None = None,
    portal_link: str | None = None,
) -> Rendered:
    """The subject and both bodies of a mail, in ``locale``.

    The subject is ``[number] phrase: ticket subject``; the phrase is the ``subject``
    block of the kind's text template. The HTML template escapes everything it is
    given; the text template needs no escaping.
    """
    if locale not in LOCALES:
        locale = "en"
    values = {
        **context,
        "link": link,
        "portal_link": portal_link,
        "label": lambda status: label(TicketStatus(status), locale),
    }
    text_template = _TEMPLATES.get_template(f"{locale}/{kind}.txt")
    phrase = _block(text_template, "subject", values)
    if "number" in context:
        subject = one_line(f"[{context['number']}] {phrase}: {context['subject']}")
    else:  # a mail about an account, not a ticket
        subject = one_line(phrase)
    text = text_template.render(values)
    if "number" not in context:
        text = text.lstrip("\n")
    body_html = _TEMPLATES.get_template(f"{locale}/{kind}.html").render(values)
    return Rendered(subject=subject, text=text, html=body_html)


def _block(template: Template, name: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(values))).strip()


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    message_id: str
    recipient: str
    subject: str
    text: str
    html: str
    secrets: tuple[str, ...] = ()
    """Strings of the body that must not reach a log (the public link's token)."""
    reply_to: str | None = None
    """The ticket's reply address: what the recipient writes back becomes a reply."""
    thread: str | None = None
    """The Message-ID every mail of the ticket refers to, so mail clients thread them."""
    files: tuple[dict[str, Any], ...] = ()
    """A public reply's files (``filename``, ``content_type``, ``size``, ``sha256``, ``url``):
    attached when together within ``MAIL_ATTACHMENTS_MAX_BYTES``; the text links them anyway."""


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    error: str | None = None
    server_unavailable: bool = False
    """The server could not be reached or used at all: nothing was learnt about the mail."""


DELIVERED = Outcome(delivered=True)


Accepted = Callable[[int], Awaitable[None]]
T = TypeVar("T")
"""Told the index of each mail as soon as the server has accepted it (to record it at once)."""


class Mailer(Protocol):
    async def deliver(
        self, mails: Sequence[OutgoingMail], on_accepted: Accepted | None = None
    ) -> list[Outcome]:
        """Try to send every mail; one outcome per mail, in order. Never raises.

        ``on_accepted(i)`` is awaited right after the server accepts mail ``i``, before
        the next one is sent, so that a crash mid-batch re-sends at most the mail in
        flight.
        """
        ...


def message_id(notification_id: int, created_at_epoch: int, mail_from: str) -> str:
    """Stable for a notification, so a retry after a crash is recognisable as the same mail."""
    domain = mail_from.rsplit("@", 1)[-1].strip("<> ") or "localhost"
    return f"<notification-{notification_id}.{created_at_epoch}@{domain}>"


def attachable(mail: OutgoingMail, settings: Settings) -> bool:
    total = sum(int(f.get("size", 0)) for f in mail.files)
    return bool(mail.files) and total <= settings.mail_attachments_max_bytes


async def load_files(mail: OutgoingMail, settings: Settings) -> dict[str, bytes]:
    """The bytes of a mail's files when they travel with it (none when too large together)."""
    if not attachable(mail, settings):
        return {}
    storage = make_storage(settings)
    out: dict[str, bytes] = {}
    try:
        for f in mail.files:
            sha = str(f["sha256"])
            if sha not in out:
                out[sha] = b"".join([chunk async for chunk in storage.read(sha)])
    except (OSError, ValueError, StorageUnavailable):
        logger.warning("files of %s could not be read: sent as links only", mail.message_id)
        return {}
    finally:
        await storage.aclose()
    return out


def build_message(
    mail: OutgoingMail, settings: Settings, files: dict[str, bytes] | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = one_line(mail.subject)
    msg["From"] = formataddr((one_line(settings.mail_from_name, 100), settings.mail_from))
    msg["To"] = mail.recipient
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = mail.message_id
    if mail.reply_to:
        msg["Reply-To"] = one_line(mail.reply_to, 320)
    if mail.thread:
        msg["In-Reply-To"] = one_line(mail.thread, 300)
        msg["References"] = one_line(mail.thread, 300)
    # RFC 3834: out-of-office replies must not answer an automatic message.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    for f in mail.files:
        data = (files or {}).get(str(f["sha256"]))
        if data is None:
            continue
        maintype, _, subtype = str(f["content_type"]).partition("/")
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=str(f["filename"])
        )
    return msg


def describe(exc: BaseException, settings: Settings) -> str:
    """A bounded, single-line account of a failure, with no secret in it."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        text = f"SMTP {first.code} {first.message}"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"SMTP {exc.code} {exc.message}"
    else:
        detail = getattr(exc, "expression", None) or str(exc)
        text = f"{type(exc).__name__}: {detail}"
    for secret in (settings.mail_password, settings.mail_username):
        if secret:
            text = text.replace(secret, "***")
    return one_line(text, MAX_ERROR)


def _unavailable_code(code: int) -> bool:
    # 421: the service is closing the channel; it says nothing about this mail.
    return code == 421


class SmtpMailer:
    """Sends over one SMTP connection per batch, through fastapi-mail's ``Connection``.

    The message is built here with the standard library rather than by
    ``FastMail.send_message``, which adds a random ``Message-ID`` of its own next
    to a given one (two such headers); ours must be the only one, since it is how
    a retried mail is recognised.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = ConnectionConfig(
            MAIL_USERNAME=settings.mail_username,
            MAIL_PASSWORD=settings.mail_password,
            MAIL_PORT=settings.mail_port,
            MAIL_SERVER=settings.mail_server,
            MAIL_STARTTLS=settings.mail_starttls,
            MAIL_SSL_TLS=settings.mail_ssl_tls,
            MAIL_FROM=settings.mail_from,
            MAIL_FROM_NAME=settings.mail_from_name,
            USE_CREDENTIALS=bool(settings.mail_username),
            TIMEOUT=settings.mail_timeout_seconds,
        )

    async def deliver(
        self, mails: Sequence[OutgoingMail], on_accepted: Accepted | None = None
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(mails)
        try:
            async with Connection(self.config) as connection:
                await self._send_all(connection.session, mails, outcomes, on_accepted)
        except Exception as exc:
            # Connecting or logging in failed, or the connection broke: every mail not yet
            # settled waits for the server to come back.
            error = describe(exc, self.settings)
            outcomes = [
                o if o is not None else Outcome(False, error, server_unavailable=True)
                for o in outcomes
            ]
        return [
            o if o is not None else Outcome(False, "not attempted", server_unavailable=True)
            for o in outcomes
        ]

    async def _send_all(
        self,
        smtp: aiosmtplib.SMTP,
        mails: Sequence[OutgoingMail],
        outcomes: list[Outcome | None],
        on_accepted: Accepted | None,
    ) -> None:
        for i, mail in enumerate(mails):
            try:
                files = await load_files(mail, self.settings)
                await smtp.send_message(build_message(mail, self.settings, files))
                outcomes[i] = DELIVERED
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                unavailable = bool(codes) and all(_unavailable_code(c) for c in codes)
                outcomes[i] = Outcome(False, describe(exc, self.settings), unavailable)
                if unavailable:
                    return
            except aiosmtplib.SMTPResponseException as exc:
                # A refused sender is the configuration's fault, the same for every mail.
                unavailable = _unavailable_code(exc.code) or isinstance(
                    exc, aiosmtplib.SMTPSenderRefused
                )
                outcomes[i] = Outcome(False, describe(exc, self.settings), unavailable)
                if unavailable:
                    return
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError):
                raise  # the connection is gone: deliver() settles this mail and the rest
            except Exception as exc:
                # A message the server cannot take (e.g. a malformed address): this mail only.
                outcomes[i] = Outcome(False, describe(exc, self.settings))
            if outcomes[i] is DELIVERED and on_accepted is not None:
                await on_accepted(i)


class LogMailer:
    """No mail server: each mail goes to the log (tokens masked) and counts as delivered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def deliver(
        self, mails: Sequence[OutgoingMail], on_accepted: Accepted | None = None
    ) -> list[Outcome]:
        for i, mail in enumerate(mails):
            text = mail.text
            for secret in mail.secrets:
                text = text.replace(secret, "[token hidden in the log]")
            logger.info(
                "mail not sent (no SPORTELLO_MAIL_SERVER): Message-ID %s To %s Subject %s\n%s",
                mail.message_id,
                mail.recipient,
                mail.subject,
                text,
            )
            if on_accepted is not None:
                await on_accepted(i)
        return [DELIVERED for _ in mails]


def mailer_for(settings: Settings) -> Mailer:
    if settings.mail_enabled:
        return SmtpMailer(settings)
    return LogMailer(settings)


async def send_each(
    items: Sequence[T],
    render: Callable[[T], OutgoingMail],
    mailer: Mailer,
    settings: Settings,
    on_accepted: Callable[[T], Awaitable[None]] | None = None,
    label: Callable[[T], str] = lambda _item: "a mail",
) -> list[Outcome]:
    """Render every item and send the mails in one batch; one outcome per item, in order.

    An item that cannot be rendered fails alone (logged by its ``label``).
    ``on_accepted(item)`` (record it as sent) is awaited as soon as the server accepts
    its mail, before the next is sent;
    if that fails (the database is away), it is logged and the caller's settling after
    the batch records it. A mailer must not raise; if one does, nothing was learnt and
    every mail waits for the server as if it were away. The outbox of notifications
    and the answers to received mails deliver through this one loop.
    """
    outcomes: list[Outcome | None] = [None] * len(items)
    ready: list[tuple[int, OutgoingMail]] = []
    for i, item in enumerate(items):
        try:
            ready.append((i, render(item)))
        except Exception as exc:
            logger.error("%s could not be rendered: %s", label(item), type(exc).__name__)
            outcomes[i] = Outcome(False, "could not render: " + describe(exc, settings))

    async def accepted(index: int) -> None:
        if on_accepted is None:
            return
        try:
            await on_accepted(items[ready[index][0]])
        except Exception as exc:  # the settling after the batch tries again
            logger.warning("a sent mail could not be recorded at once: %s", type(exc).__name__)

    if ready:
        try:
            results = await mailer.deliver([mail for _, mail in ready], accepted)
        except Exception as exc:
            logger.error("the mailer failed: %s", type(exc).__name__)
            results = [Outcome(False, describe(exc, settings), True) for _ in ready]
        for (i, _), result in zip(ready, results, strict=True):
            outcomes[i] = result
    return [o if o is not None else Outcome(False, "not attempted", True) for o in outcomes]


def satisfaction_link(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/api/v1/public/satisfaction/{token}"


def public_link(settings: Settings, token: str) -> str:
    """The public status link: ``PUBLIC_STATUS_URL`` with the token, else the API's own page."""
    if settings.public_status_url:
        return settings.public_status_url.replace("{token}", token)
    return f"{settings.public_base_url}/api/v1/public/tickets/{token}"


def email_confirmation_link(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/api/v1/auth/email-confirmations/{token}"


def link_for(kind: str, settings: Settings, token: str) -> str:
    """The link a mail's secret token opens: a new address's confirmation, else a status page."""
    if kind == "email_change":
        return email_confirmation_link(settings, token)
    return public_link(settings, token)


def portal_link(settings: Settings, context: dict[str, Any]) -> str | None:
    """The ticket's page in the portal (``PORTAL_TICKET_URL``), if one is configured."""
    ticket_id = context.get("ticket_id")
    if not settings.portal_ticket_url or not isinstance(ticket_id, int):
        return None
    return settings.portal_ticket_url.replace("{id}", str(ticket_id)).replace(
        "{number}", quote(str(context.get("number", "")), safe="")
    )
