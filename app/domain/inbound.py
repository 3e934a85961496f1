"""Incoming e-mail: which ticket a mail answers, whether it is noise, and whom to trust.

Pure rules over the facts a parser read from a message (``MailFacts``), so every
case of threading, loop protection and sender trust is tested without a mail
server or a database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from enum import StrEnum

from app.domain.access import Actor, Role, Scope
from app.domain.errors import Forbidden


class Channel(StrEnum):
    """How a ticket or a reply came in."""

    EMAIL = "email"
    API = "api"
    PORTAL = "portal"


def channel_of(actor: Actor) -> Channel:
    """An actor's channel: what it says (the e-mail channel), else an API key's or a login's."""
    if actor.channel is not None:
        return Channel(actor.channel)
    return Channel.API if actor.is_api_key else Channel.PORTAL


class InboundSource(StrEnum):
    API = "api"
    MAILGATE = "mailgate"
    IMAP = "imap"


class InboundOutcome(StrEnum):
    TICKET = "ticket"
    """A new ticket was opened (a follow-up, when it answered a closed one)."""
    REPLY = "reply"
    """A public reply on an existing ticket."""
    REFUSED = "refused"
    """Not acted on, for a reason told to the sender when that is safe (unknown sender)."""
    HELD = "held"
    """Not acted on until an admin retries it (a staff address without passing checks)."""
    IGNORED = "ignored"
    """Noise: an auto-reply, a bounce, bulk mail, our own mail; nobody is told."""


class UnknownSenderPolicy(StrEnum):
    BOUNCE = "bounce"
    """Refuse with a polite, localized answer."""
    DOMAIN = "domain"
    """Open the ticket for the customer whose mail domains include the sender's."""


NUMBER = re.compile(r"\[(T-\d{4}-\d{6})\]")
"""A ticket number in a subject, as our mails write it: ``[T-2026-000123]``."""

THREAD_ID = re.compile(r"<ticket-(T-\d{4}-\d{6})@([^>\s]+)>")
"""The Message-ID every mail of a ticket refers to (``References``), one per ticket."""

NOTIFICATION_ID = re.compile(r"<(?:notification|answer)-\d+\.\d+@([^>\s]+)>")
"""The Message-ID of one of our notifications (``infra/mail.py: message_id``) or answers."""

TOKEN_LENGTH = 20


def thread_id(number: str, domain: str) -> str:
    return f"<ticket-{number}@{domain}>"


def reply_token(secret: str, number: str) -> str:
    """The token of a ticket's reply address: unguessable without the secret, stable."""
    digest = hmac.new(secret.encode(), number.encode(), hashlib.sha256).hexdigest()
    return f"{number.lower()}.{digest[:TOKEN_LENGTH]}"


def reply_address(address: str, secret: str, number: str) -> str:
    """``support+<token>@host`` for the desk's ``support@host`` (plain without a secret)."""
    if not secret or "@" not in address:
        return address
    local, _, host = address.rpartition("@")
    return f"{local}+{reply_token(secret, number)}@{host}"


def number_of_token(secret: str, token: str) -> str | None:
    """The ticket number a reply token was made for, if the token is genuine."""
    number, dot, _ = token.partition(".")
    if not secret or not dot:
        return None
    candidate = number.upper()
    if not re.fullmatch(r"T-\d{4}-\d{6}", candidate):
        return None
    if hmac.compare_digest(reply_token(secret, candidate), token.lower()):
        return candidate
    return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def normalise_address(address: str) -> str:
    """``"Name" <Addr@Host>`` or ``addr@host`` -> ``addr@host``."""
    return (parseaddr(address)[1] or address).strip().strip("<>").lower()


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What the rules need from a message; the parser fills it."""

    message_id: str
    sender: str
    recipients: tuple[str, ...] = ()
    """To and Delivered-To addresses, where a reply token may be."""
    cc: tuple[str, ...] = ()
    subject: str = ""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    """Lower-cased names of the loop-relevant headers, with their values."""
    content_type: str = "text/plain"
    authentication_results: tuple[str, ...] = ()


# --- threading -------------------------------------------------------------------------------


def thread_numbers(facts: MailFacts, our_domain: str, secret: str) -> list[str]:
    """The ticket numbers this mail says it answers, strongest sign first.

    A reply token in an address we received it at; then our Message-IDs in
    ``In-Reply-To`` and ``References``; then ``[T-YYYY-NNNNNN]`` in the subject.
    Message-IDs count only with our own domain, so another system's ids that
    happen to look alike do not thread.
    """
    found: list[str] = []
    for address in facts.recipients:
        local = address.partition("@")[0]
        _, plus, token = local.partition("+")
        if plus:
            number = number_of_token(secret, token)
            if number is not None:
                found.append(number)
    for ref in (*facts.in_reply_to, *facts.references):
        match = THREAD_ID.search(ref)
        if match and match.group(2).lower() == our_domain.lower():
            found.append(match.group(1))
    match = NUMBER.search(facts.subject)
    if match:
        found.append(match.group(1))
    return list(dict.fromkeys(found))


# --- loops and noise --------------------------------------------------------------------------

_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESS = frozenset({"all", "oof", "autoreply"})
_DAEMON_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.I)


def noise_reason(facts: MailFacts, our_domain: str, our_addresses: frozenset[str]) -> str | None:
    """Why this mail must not be acted on (nor answered), or None for a person's mail.

    RFC 3834 ``Auto-Submitted`` other than ``no``; ``Precedence`` bulk/junk/list;
    ``X-Autoreply``/``X-Autorespond``; ``X-Auto-Response-Suppress`` asking for no
    auto-response (Exchange marks its own auto-replies so); delivery status
    notifications (``multipart/report``); mailer daemons; and our own mail,
    recognised by its Message-ID or its sender.
    """
    h = facts.headers
    if NOTIFICATION_ID.fullmatch(facts.message_id) or THREAD_ID.fullmatch(facts.message_id):
        match = NOTIFICATION_ID.fullmatch(facts.message_id) or THREAD_ID.fullmatch(facts.message_id)
        if match and match.groups()[-1].lower() == our_domain.lower():
            return "our own outgoing mail"
    if normalise_address(facts.sender) in our_addresses:
        return "our own outgoing mail"
    auto = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"automatic message (Auto-Submitted: {auto})"
    if h.get("precedence", "").strip().lower() in _BULK_PRECEDENCE:
        return "bulk or automatic message (Precedence)"
    if h.get("x-autoreply") or h.get("x-autorespond"):
        return "automatic reply (X-Autoreply)"
    suppress = {p.strip().lower() for p in h.get("x-auto-response-suppress", "").split(",")}
    if suppress & _SUPPRESS:
        return "automatic reply (X-Auto-Response-Suppress)"
    if h.get("list-id") or h.get("list-unsubscribe"):
        return "mailing-list message"
    ctype = facts.content_type.lower()
    if ctype == "multipart/report" or "delivery-status" in ctype:
        return "delivery status notification (bounce)"
    if _DAEMON_SENDERS.match(normalise_address(facts.sender)) or not facts.sender:
        return "mail from a mailer daemon or without a sender"
    return None


# --- sender trust -------------------------------------------------------------------------------


def authenticated(facts: MailFacts, trusted_hosts: frozenset[str]) -> bool:
    """Did a server we trust vouch for the sender (SPF or DKIM pass for the From domain)?

    Only ``Authentication-Results`` headers whose authserv-id is one of
    ``trusted_hosts`` count: anyone can write such a header into a message, only
    our own receiving server's are believed (RFC 8601 section 5).
    """
    sender_domain = domain_of(facts.sender)
    for header in facts.authentication_results:
        authserv, _, rest = header.partition(";")
        host = authserv.strip().split()[0].lower() if authserv.strip() else ""
        if host not in trusted_hosts:
            continue
        for result in rest.split(";"):
            words = result.strip().lower()
            dkim = re.match(r"dkim=pass\b.*?header\.(?:d|i)=@?([^\s;]+)", words)
            if dkim and dkim.group(1).rpartition("@")[2] == sender_domain:
                return True
            spf = re.match(r"spf=pass\b.*?smtp\.mailfrom=([^\s;]+)", words)
            if spf and domain_of(spf.group(1)) == sender_domain:
                return True
            dmarc = re.match(r"dmarc=pass\b.*?header\.from=([^\s;]+)", words)
            if dmarc and dmarc.group(1) == sender_domain:
                return True
    return False


MAX_ADDRESS = 254
"""The longest address mail can be delivered to (RFC 5321's path of 256 octets, brackets
included); a longer one is nobody's."""


def cc_within(cc: tuple[str, ...], domains: frozenset[str], exclude: frozenset[str]) -> list[str]:
    """The Cc addresses that may be put on a ticket: within the customer's mail domains, and
    no longer than an address can be."""
    out = []
    for address in cc:
        norm = normalise_address(address)
        if len(norm) > MAX_ADDRESS:
            continue
        if norm and norm not in exclude and domain_of(norm) in domains:
            out.append(norm)
    return list(dict.fromkeys(out))


def clean_subject(subject: str) -> str:
    """A new ticket's subject: reply and forward prefixes and our number taken off."""
    text = NUMBER.sub("", subject)
    prefixes = re.compile(r"^\s*((re|r|aw|sv|rif|fw|fwd|tr|rv|i|enc)\s*(\[\d+\])?\s*:\s*)+", re.I)
    text = prefixes.sub("", text)
    return " ".join(text.split())[:200]


LOCALES = ("it", "es", "en")


def language_of(facts: MailFacts, default: str) -> str:
    """The language to answer an unknown sender in: what their mail declares, else ours."""
    for name in ("content-language", "accept-language"):
        value = facts.headers.get(name, "").strip().lower()[:2]
        if value in LOCALES:
            return value
    return default


def may_ingest(actor: Actor) -> None:
    """Raw mail is posted by an API key with ``mail:ingest`` (the mailgate's), or an admin."""
    if actor.is_api_key:
        if actor.scopes is None or Scope.MAIL_INGEST not in actor.scopes:
            raise Forbidden(f"This API key lacks the scope {Scope.MAIL_INGEST.value!r}.")
        return
    if actor.role is not Role.ADMIN:
        raise Forbidden("Posting raw mail is for the mail gateway's API key or an admin.")


MAX_DOMAINS = 50
MAX_CC = 20
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def valid_domain(value: str) -> str | None:
    domain = value.strip().lower().lstrip("@")
    return domain if _DOMAIN.fullmatch(domain) else None
