"""Reading a raw RFC 5322 message: its headers, its text, its files.

The standard library's parser (``policy.default``) decodes RFC 2047 headers,
quoted-printable and base64, and the declared character sets; a part whose
declared charset lies (Windows-1252 declared as ISO-8859-1, undeclared 8-bit
text) is decoded by trying UTF-8 first, then Windows-1252, which maps every
byte. An HTML-only mail is made text with inscriptis (no script, no style, no
remote content survives: only the text is kept). The quoted history of a reply
and its signature are cut with mail-parser-reply (multilingual), plus the few
client phrasings it misses.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from mailparser_reply import EmailReplyParser

from app.domain.inbound import MailFacts, normalise_address

REPLY_MARKER = "##-"
"""Our mails put a line starting with this above their text: what a reply puts above it is
the answer (``reply above this line``)."""

MAX_BODY_CHARS = 20_000
MAX_BOUNDARY_LINES = 1_000
"""Reading a mail costs some 0.6 ms per MIME part: a mail with more lines that may be part
boundaries (``--...``) than this is read for its headers only (real mail has a few dozen)."""
MAX_HEADER_BYTES = 256 * 1024
"""The header section read at most (real mail has a few KiB, long Received chains some 20):
past it, the headers are cut at a line and the body is not read; and the most the headers of
all the parts may hold together, past which the body is not read either."""
MAX_HEADER_CHARS = 16 * 1024
"""One header's value read at most: the standard parser's cost grows faster than its length
(a 2 MiB Subject takes a minute)."""
MAX_ADDRESS_HEADERS = 100
"""Address headers (To, Cc, ...) of one name read at most."""
MAX_HTML_CHARS = 256 * 1024
"""Only the start of an HTML part is made text (some 4 s a MiB of tables otherwise); the text
kept is much shorter than this anyway."""
LOOP_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "content-language",
    "accept-language",
)

_LANGUAGES = ["en", "it", "es", "de", "fr"]
_REPLY_PARSER = EmailReplyParser(languages=_LANGUAGES)
_HTML_CONFIG = ParserConfig(display_links=False, display_images=False)

# Reply headers mail-parser-reply misses: Apple Mail's and Gmail's Spanish and Italian
# phrasings, which may wrap over two lines, and the mobile clients' signatures.
_QUOTE_HEADER = re.compile(
    r"^\s*(On\b.{0,200}?\bwrote:|El\b.{0,200}?\bescribi[oó]:|Il\b.{0,200}?\bha scritto:"
    r"|Le\b.{0,200}?\ba écrit\s*:|Am\b.{0,200}?\bschrieb\b.{0,100}?:)\s*$",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_MOBILE = re.compile(
    r"^\s*(Sent from my \w+|Enviado desde mi \w+|Inviato da(l mio)? \w+|Get Outlook for \w+"
    r"|Obtener Outlook para \w+|Scarica Outlook per \w+)\b.*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class MailFile:
    filename: str
    declared_type: str
    data: bytes
    inline: bool


@dataclass(slots=True)
class ParsedMail:
    facts: MailFacts
    from_name: str
    text: str
    """The answer, quoted history and signature cut."""
    full_text: str
    files: list[MailFile] = field(default_factory=list)
    language: str | None = None


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "").lower()
    candidates = [charset] if charset else []
    candidates += ["utf-8", "windows-1252"]
    for name in candidates:
        if name in ("iso-8859-1", "latin-1", "us-ascii", "ascii"):
            # Mail clients write Windows-1252 (the euro sign, curly quotes) and call it Latin-1.
            name = "windows-1252"
        try:
            return payload.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as written (unfolded; 8-bit bytes read as UTF-8), not through the
    policy's parser: the structured address parser raises on some malformed values
    (``To: "``)."""
    values = [str(v)[:MAX_HEADER_CHARS] for k, v in msg.raw_items() if k.lower() == name]
    return [
        _clean(" ".join(v.encode("utf-8", "surrogateescape").decode("utf-8", "replace").split()))
        for v in values[:MAX_ADDRESS_HEADERS]
    ]


def _addresses(msg: Message, *names: str) -> tuple[str, ...]:
    values = [v for name in names for v in _raw_values(msg, name)]
    out = [normalise_address(addr) for _, addr in getaddresses(values) if "@" in addr]
    return tuple(dict.fromkeys(out))


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(re.findall(r"<[^<>\s]+>", value or ""))


_C1 = re.compile("[\x80-\x9f]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""What the API refuses in every text (PostgreSQL cannot store NUL at all): a mail is not
refused for it, it is left out (tab and line breaks stay)."""


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)


_FORWARD = re.compile(r"^\s*(fwd?|tr|rv|i|enc|wg)\s*:", re.IGNORECASE)


def _cp1252(value: str) -> str:
    """An RFC 2047 word declared ISO-8859-1 that holds Windows-1252 (the euro sign, curly
    quotes) decodes to C1 control characters: read those bytes as Windows-1252."""
    if not _C1.search(value):
        return value
    try:
        return value.encode("latin-1").decode("windows-1252")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return _C1.sub("", value)


def html_to_text(html: str) -> str:
    """Only the text of an HTML part: scripts, styles and markup dropped, layout kept."""
    return str(get_text(html, _HTML_CONFIG)).strip()


def strip_reply(text: str) -> str:
    """The new part of a reply: above our marker, above the quoted history, no signature."""
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if line.lstrip("> ").startswith(REPLY_MARKER):
            lines = lines[:i]
            break
    text = "\n".join(lines)
    match = _QUOTE_HEADER.search(text)
    if match:
        text = text[: match.start()]
    try:
        text = str(_REPLY_PARSER.parse_reply(text=text))
    except Exception:  # a library failing on odd text must not lose the mail: keep it whole
        text = text.strip()
    text = _MOBILE.sub("", text)
    # A plain signature after the "-- " delimiter (RFC 3676), and trailing quoted lines.
    text = re.split(r"^--\s*$", text, maxsplit=1, flags=re.MULTILINE)[0]
    kept = text.rstrip().split("\n")
    while kept and (kept[-1].startswith(">") or not kept[-1].strip()):
        kept.pop()
    return "\n".join(kept).strip()


def _walk(parts: Sequence[Message]) -> tuple[str | None, str | None, list[MailFile]]:
    plain: str | None = None
    html: str | None = None
    files: list[MailFile] = []
    for part in parts:
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if (
            ctype == "message/rfc822"
            or (disposition in ("attachment", "inline") and filename)
            or (ctype.startswith(("image/", "video/", "application/")) and disposition != "inline")
        ):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                files.append(
                    MailFile(
                        filename=filename or "attachment",
                        declared_type=ctype,
                        data=data,
                        inline=disposition == "inline" or bool(part.get("Content-ID")),
                    )
                )
            continue
        if ctype.startswith("image/"):  # an inline image with no name: kept as a file too
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                files.append(MailFile("image", ctype, data, inline=True))
            continue
        if ctype == "text/plain" and plain is None:
            plain = _decode(part)
        elif ctype == "text/html" and html is None:
            html = _decode(part)
    return plain, html, files


def _header_end(raw: bytes) -> int:
    """Where the header section ends (the first empty line), or the length of ``raw``."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends, default=len(raw))


def _boundary_lines(raw: bytes) -> int:
    """How many lines may be MIME boundaries: an upper bound on the number of parts."""
    return raw.count(b"\n--") + raw.startswith(b"--")


def _read(raw: bytes) -> tuple[EmailMessage, Sequence[Message]]:
    """The message and its parts, or, for one too costly to read whole, the message with its
    headers only and no part: parts nested deeper than Python's recursion limit (the parser
    and ``walk()`` recurse), too many of them, or headers too long (the original is kept as a
    file anyway)."""
    head = raw
    if _header_end(raw) > MAX_HEADER_BYTES:
        head = raw[: raw.rfind(b"\n", 0, MAX_HEADER_BYTES) + 1]
    if head is raw and _boundary_lines(raw) <= MAX_BOUNDARY_LINES:
        try:
            whole = email.message_from_bytes(raw, policy=email.policy.default)
            walked = list(whole.walk())
        except RecursionError:
            pass
        else:
            headers = sum(len(k) + len(str(v)) for part in walked for k, v in part.raw_items())
            if headers <= MAX_HEADER_BYTES:
                assert isinstance(whole, EmailMessage)
                return whole, walked
    msg = BytesParser(policy=email.policy.default).parsebytes(head, headersonly=True)
    msg.set_payload("")
    return msg, [msg]


def parse(raw: bytes) -> ParsedMail:
    """Read a message; never raises on a malformed one (whatever can be read is kept)."""
    msg, walked = _read(raw)

    def header(name: str) -> str:
        raw_value = next((v for k, v in msg.raw_items() if k.lower() == name), None)
        try:
            value = (
                None
                if raw_value is None
                else msg.policy.header_fetch_parse(name, str(raw_value)[:MAX_HEADER_CHARS])
            )
        except Exception:  # a header the policy cannot parse: none
            value = None
        return _clean(_cp1252(" ".join(str(value).split()))) if value is not None else ""

    name, sender = parseaddr(header("from"))
    report = msg.get_content_type()
    if report == "multipart/report":
        plain, html, files = None, None, list[MailFile]()
    else:
        plain, html, files = _walk(walked)
    full = plain if plain and plain.strip() else html_to_text(html[:MAX_HTML_CHARS]) if html else ""
    full = _clean(full.replace("\r\n", "\n")[: MAX_BODY_CHARS * 5])
    facts = MailFacts(
        message_id=(_ids(header("message-id")) or ("",))[0],
        sender=normalise_address(sender),
        recipients=_addresses(msg, "to", "delivered-to", "x-original-to", "envelope-to"),
        cc=_addresses(msg, "cc"),
        subject=header("subject"),
        in_reply_to=_ids(header("in-reply-to")),
        references=_ids(header("references")),
        headers={h: header(h) for h in LOOP_HEADERS if h in msg},
        content_type=report,
        authentication_results=tuple(
            _clean(" ".join(str(v).split())) for v in (msg.get_all("authentication-results") or [])
        ),
    )
    return ParsedMail(
        facts=facts,
        from_name=name.strip(),
        # A forward is all news to us: its quoted part is the point, kept whole.
        text=(full.strip() if _FORWARD.match(facts.subject) else strip_reply(full))[
            :MAX_BODY_CHARS
        ],
        full_text=full.strip()[:MAX_BODY_CHARS],
        files=files,
    )
