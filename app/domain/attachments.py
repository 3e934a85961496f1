"""Attachments: which files a ticket takes, judged by their bytes, and the names they keep.

A file's type is what its first bytes say, never its name or the type the
client declared: an executable renamed ``.png`` is refused, a screenshot
named ``report`` is a PNG. Plain text (logs) is the one type with no magic
number, so it is judged on the whole file, as it streams by.

Office documents are ZIP containers: a ``.docx`` is any ZIP until its central
directory (at the end of the file) lists ``[Content_Types].xml`` and
``word/document.xml``. The sniffer keeps the last :data:`TAIL_BYTES` of a ZIP as
it streams by and reads the directory from them; an OpenDocument file also
names its type in a stored ``mimetype`` entry at the very start. Files with
macros (a ``vbaProject.bin``, OpenDocument ``Basic/`` or ``Scripts/``) are
refused unless the desk allows them (``ALLOW_MACRO_DOCUMENTS``), and so is every
other ZIP (archives can hide anything), an encrypted one or a ZIP64 one.
"""

from __future__ import annotations

import codecs
import re
import struct
import unicodedata

from app.domain.tickets import TicketStatus

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
MP4 = "video/mp4"
WEBM = "video/webm"
PDF = "application/pdf"
TEXT = "text/plain"
HEIC = "image/heic"
MOV = "video/quicktime"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCM = "application/vnd.ms-word.document.macroEnabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"

EXTENSIONS: dict[str, tuple[str, ...]] = {
    PNG: ("png",),
    JPEG: ("jpg", "jpeg", "jpe", "jfif"),
    GIF: ("gif",),
    WEBP: ("webp",),
    MP4: ("mp4", "m4v"),
    WEBM: ("webm",),
    PDF: ("pdf",),
    TEXT: ("txt", "log", "csv", "json", "md", "ini", "conf", "cfg", "yaml", "yml"),
    HEIC: ("heic", "heif"),
    MOV: ("mov", "qt"),
    DOCX: ("docx",),
    XLSX: ("xlsx",),
    ODT: ("odt",),
    ODS: ("ods",),
    DOCM: ("docm",),
    XLSM: ("xlsm",),
}
"""The allowed types and the file extensions that may go with each (the first is the usual one)."""

MACRO_TYPES = (DOCM, XLSM)
ALLOWED_TYPES = tuple(EXTENSIONS)
ALLOWED_DESCRIPTION = (
    "images (PNG, JPEG, GIF, WebP, HEIC), videos (MP4, WebM, MOV), PDF, plain text "
    "or office documents (DOCX, XLSX, ODT, ODS)"
)

# HEIF images whose brand says HEVC-coded (Apple's photos), not AVIF or a generic HEIF.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis"})
HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})

TAIL_BYTES = 256 * 1024
"""How much of the end of a ZIP is kept to read its central directory (an office file's
directory is a few kilobytes; a ZIP whose directory is larger is refused)."""

# ISO base media files whose major brand says MP4 video (not QuickTime, HEIC/AVIF images, audio).
MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"mmp4"}
    | {b"M4V ", b"MSNV", b"f4v "}
)

HEAD_BYTES = 4096
"""How much of the start of a file the magic numbers are looked for in."""

MAX_CONTROL_RATIO = 0.01
"""Plain text may hold a few control characters (a stray escape code in a log), not more."""

# Control characters that do not occur in text: all C0 but tab, newlines, form feed and ESC
# (colour codes in logs), and DEL. In UTF-8 they are single bytes that never occur inside a
# multi-byte sequence, so they are counted on the bytes (ten times faster than on characters).
_CONTROL_BYTES = bytes([c for c in range(32) if c not in (9, 10, 11, 12, 13, 27)] + [127])


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, next position), None if cut short."""
    if pos >= len(data) or data[pos] == 0:
        return None
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(data):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _ebml_doctype(head: bytes) -> bytes | None:
    """The DocType of an EBML (Matroska/WebM) header: ``webm`` or ``matroska``."""
    header = _vint(head, 4, keep_marker=False)
    if header is None:
        return None
    size, pos = header
    end = min(len(head), pos + size)
    while pos < end:
        element = _vint(head, pos, keep_marker=True)
        if element is None:
            return None
        element_id, pos = element
        length = _vint(head, pos, keep_marker=False)
        if length is None:
            return None
        element_size, pos = length
        if element_id == 0x4282:
            return head[pos : pos + element_size]
        pos += element_size
    return None


def _iso_brands(head: bytes) -> tuple[bytes, list[bytes]]:
    """The major and compatible brands of an ISO base media file's ``ftyp`` box."""
    size = int.from_bytes(head[0:4], "big")
    end = min(len(head), max(16, size))
    return head[8:12], [head[i : i + 4] for i in range(16, end - 3, 4)]


def _heic(head: bytes) -> bool:
    major, compatible = _iso_brands(head)
    return major in HEIC_BRANDS or (
        major in HEIF_GENERIC_BRANDS and any(b in HEIC_BRANDS for b in compatible)
    )


ZIP = "application/zip"
"""Not an allowed type: a ZIP whose content the whole file will tell (see :func:`zip_type`)."""


def binary_type(head: bytes) -> str | None:
    """The allowed binary type whose magic number ``head`` starts with, if any."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return MP4
    if head[4:8] == b"ftyp" and head[8:12] == b"qt  ":
        return MOV
    if head[4:8] == b"ftyp" and _heic(head):
        return HEIC
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    if head.startswith(b"\x1a\x45\xdf\xa3") and _ebml_doctype(head) == b"webm":
        return WEBM
    if head.startswith(b"%PDF-"):
        return PDF
    return None


# --- ZIP containers (office documents) -------------------------------------------------------

_EOCD = b"PK\x05\x06"
_CENTRAL = b"PK\x01\x02"
_ODF_TYPES = {
    b"application/vnd.oasis.opendocument.text": ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": ODS,
}
_MACRO_PARTS = ("vbaproject.bin", "vbadata.xml")
_ODF_MACRO_DIRS = ("basic/", "scripts/")


def zip_names(tail: bytes, total_size: int) -> list[str] | None:
    """The entry names of a ZIP's central directory, read from the file's last bytes.

    None if the end of the file is not a plain ZIP directory that lies wholly in
    ``tail``: a ZIP64 file, an encrypted entry, a directory that does not add up.
    """
    at = tail.rfind(_EOCD, max(0, len(tail) - 22 - 65535))
    if at < 0 or len(tail) - at < 22:
        return None
    entries, cd_size, cd_offset = struct.unpack("<HII", tail[at + 10 : at + 20])
    if 0xFFFFFFFF in (cd_size, cd_offset) or entries == 0xFFFF:
        return None  # ZIP64
    start = len(tail) - (total_size - cd_offset)
    if start < 0 or start + cd_size > at:
        return None
    names = []
    pos = start
    for _ in range(entries):
        if tail[pos : pos + 4] != _CENTRAL or pos + 46 > at:
            return None
        flags = int.from_bytes(tail[pos + 8 : pos + 10], "little")
        if flags & 0x1:
            return None  # encrypted
        name_len, extra_len, comment_len = struct.unpack("<HHH", tail[pos + 28 : pos + 34])
        name = tail[pos + 46 : pos + 46 + name_len].decode("utf-8", "replace")
        names.append(name)
        pos += 46 + name_len + extra_len + comment_len
    return names


def _odf_mimetype(head: bytes) -> bytes | None:
    """The ``mimetype`` entry an OpenDocument file must start with, stored uncompressed."""
    method = int.from_bytes(head[8:10], "little")
    size = int.from_bytes(head[18:22], "little")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    if method != 0 or head[30 : 30 + name_len] != b"mimetype":
        return None
    start = 30 + name_len + extra_len
    return head[start : start + size]


def zip_type(head: bytes, tail: bytes, total_size: int, allow_macros: bool) -> str | None:
    """The office document type of a ZIP file, None if it is none we take."""
    names = zip_names(tail, total_size)
    if names is None:
        return None
    lowered = [n.lower() for n in names]
    odf = _ODF_TYPES.get(_odf_mimetype(head) or b"")
    if odf is not None:
        if "content.xml" not in lowered or "meta-inf/manifest.xml" not in lowered:
            return None
        macros = any(n.startswith(_ODF_MACRO_DIRS) for n in lowered)
        return odf if allow_macros or not macros else None
    if "[content_types].xml" not in lowered:
        return None
    macros = any(n.rsplit("/", 1)[-1] in _MACRO_PARTS for n in lowered) or any(
        n.startswith("xl/macrosheets/") for n in lowered
    )
    if "word/document.xml" in lowered:
        kind = DOCM if macros else DOCX
    elif "xl/workbook.xml" in lowered:
        kind = XLSM if macros else XLSX
    else:
        return None
    return kind if allow_macros or kind not in MACRO_TYPES else None


class Sniffer:
    """Finds a file's type from its bytes, fed chunk by chunk, holding only the first 4 KiB.

    A binary type is decided on the first :data:`HEAD_BYTES`. Failing that, the
    file is plain text only if all of it is UTF-8 with no NUL byte and few
    control characters; :attr:`rejected` turns true as soon as it cannot be,
    so an upload can be refused without reading the rest.
    """

    def __init__(self, *, allow_macros: bool = False) -> None:
        self.allow_macros = allow_macros
        self._tail = bytearray()
        self._total = 0
        self._head = bytearray()
        self._binary: str | None = None
        self._head_done = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._text_ok = True
        self._bytes = 0
        self._controls = 0

    def feed(self, chunk: bytes) -> None:
        if not self._head_done:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
            if len(self._head) >= HEAD_BYTES:
                self._decide_head()
        self._total += len(chunk)
        if self._binary == ZIP or not self._head_done:
            self._tail += chunk
            if len(self._tail) > TAIL_BYTES:
                del self._tail[: len(self._tail) - TAIL_BYTES]
        if self._binary is None and self._text_ok:
            self._feed_text(chunk, final=False)

    def _decide_head(self) -> None:
        self._head_done = True
        self._binary = binary_type(bytes(self._head))

    def _feed_text(self, chunk: bytes, final: bool) -> None:
        if b"\x00" in chunk:
            self._text_ok = False
            return
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            self._text_ok = False
            return
        self._bytes += len(chunk)
        self._controls += len(chunk) - len(chunk.translate(None, _CONTROL_BYTES))

    @property
    def rejected(self) -> bool:
        """True once the file can be none of the allowed types, whatever follows."""
        return self._head_done and self._binary is None and not self._text_ok

    def result(self) -> str | None:
        """The type of the whole file fed so far, or None if it is not an allowed one."""
        if not self._head_done:
            self._decide_head()
        if self._binary == ZIP:
            return zip_type(bytes(self._head), bytes(self._tail), self._total, self.allow_macros)
        if self._binary is not None:
            return self._binary
        if self._text_ok:
            self._feed_text(b"", final=True)
        if not self._text_ok or self._bytes == 0:
            return None
        if self._controls > self._bytes * MAX_CONTROL_RATIO:
            return None
        return TEXT


def sniff(data: bytes, *, allow_macros: bool = False) -> str | None:
    """The type of a whole file held in memory (for small files and tests)."""
    sniffer = Sniffer(allow_macros=allow_macros)
    sniffer.feed(data)
    return sniffer.result()


# --- names -----------------------------------------------------------------------------------

MAX_FILENAME = 200
FALLBACK_STEM = "attachment"
_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)


def safe_filename(raw: str | None, content_type: str) -> str:
    """The client's file name made harmless, kept as metadata only (storage never uses it).

    The last path segment only (no ``../``), no control or invisible formatting
    characters (no right-to-left override hiding an ``.exe``), none of the
    characters file systems refuse, no leading dots, at most 200 characters,
    and an extension that matches the detected type: ``notes.html`` that is
    plain text becomes ``notes.html.txt``, so that opening the download never
    runs it as something else.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if c.isspace() else c
        for c in name
        if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    name = _UNSAFE_CHARS.sub("_", " ".join(name.split())).strip(" .")
    extensions = EXTENSIONS.get(content_type, ("bin",))
    stem, dot, ext = name.rpartition(".")
    if not dot or ext.lower() not in extensions:
        stem, ext = name, extensions[0]
    stem = stem[: MAX_FILENAME - len(ext) - 1].rstrip(" .") or FALLBACK_STEM
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    return f"{stem}.{ext}"


def can_attach(status: TicketStatus) -> bool:
    """A closed ticket takes no new files, as it takes no replies: a follow-up continues it."""
    return status is not TicketStatus.CLOSED
