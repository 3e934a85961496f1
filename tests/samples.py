"""Small but genuine files of every allowed type, and the fakes customers' machines produce.

Each builder takes a ``tag`` that goes into the bytes, so two tests (or two
files of one test) never share content by accident: blobs are stored once per
content.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator


def png(tag: str = "") -> bytes:
    """A 1x1 PNG; ``tag`` goes into a text chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Comment\x00" + tag.encode())
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg(tag: str = "") -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + (
        b"\xff\xfe" + struct.pack(">H", len(tag) + 2) + tag.encode() + b"\xff\xd9"
    )


def gif(tag: str = "") -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
        + b"!\xfe"
        + bytes([len(tag[:255])])
        + tag[:255].encode()
        + b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp(tag: str = "") -> bytes:
    body = b"WEBPVP8L" + struct.pack("<I", 5 + len(tag)) + b"\x2f\x00\x00\x00\x00" + tag.encode()
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mp4(tag: str = "", size: int = 4096) -> bytes:
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    payload = (tag.encode() + bytes(range(256)) * (size // 256 + 1))[: max(0, size - 32)]
    return ftyp + struct.pack(">I", len(payload) + 8) + b"mdat" + payload


def webm(tag: str = "") -> bytes:
    header = bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d")
    return header + bytes.fromhex("4287810242858102") + b"\x18\x53\x80\x67\x01" + tag.encode()


def pdf(tag: str = "") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"% " + tag.encode() + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def log(tag: str = "") -> bytes:
    return (
        "2026-11-25 09:14:02 INFO  MagicStore avvio modulo Fatturazione elettronica\n"
        "2026-11-25 09:14:05 ERROR invio allo SdI non riuscito: certificato scaduto\n"
        f"2026-11-25 09:14:05 DEBUG {tag}\n"
    ).encode()


def elf(tag: str = "") -> bytes:
    """The start of a Linux executable."""
    return b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + tag.encode() + bytes(64)


def windows_exe(tag: str = "") -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + tag.encode() + bytes(64)


def zip_archive(tag: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("leggimi.txt", f"archivio {tag}")
    return buffer.getvalue()


def streamed(head: bytes, total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``head`` then zeros up to ``total`` bytes, generated chunk by chunk (never held whole)."""
    yield head
    sent = len(head)
    block = bytes(chunk)
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n


Part = tuple[str, str | None, bytes | Iterator[bytes]]


def multipart(parts: list[Part], boundary: str = "sportello-boundary-7MA4YWxk") -> Multipart:
    """A ``multipart/form-data`` body streamed part by part: (name, filename, bytes or chunks)."""
    return Multipart(parts, boundary)


class Multipart:
    def __init__(self, parts: list[Part], boundary: str) -> None:
        self.parts = parts
        self.boundary = boundary

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": f"multipart/form-data; boundary={self.boundary}"}

    def __iter__(self) -> Iterator[bytes]:
        for name, filename, data in self.parts:
            disposition = f'form-data; name="{name}"'
            if filename is not None:
                disposition += f'; filename="{filename}"'
            yield (
                f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            if isinstance(data, bytes):
                yield data
            else:
                yield from data
            yield b"\r\n"
        yield f"--{self.boundary}--\r\n".encode()


# --- office documents and phone formats -----------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"/>'
)


def _zip(entries: list[tuple[str, str | bytes]], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (name, data) in enumerate(entries):
            method = zipfile.ZIP_STORED if stored_first and i == 0 else zipfile.ZIP_DEFLATED
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


def docx(tag: str = "", macros: bool = False) -> bytes:
    parts: list[tuple[str, str | bytes]] = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", "<Relationships/>"),
        ("word/document.xml", f"<w:document>{tag}</w:document>"),
    ]
    if macros:
        parts.append(("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro"))
    return _zip(parts)


def xlsx(tag: str = "", macros: bool = False) -> bytes:
    parts: list[tuple[str, str | bytes]] = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("xl/workbook.xml", f"<workbook>{tag}</workbook>"),
        ("xl/worksheets/sheet1.xml", "<worksheet/>"),
    ]
    if macros:
        parts.append(("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro"))
    return _zip(parts)


def opendocument(kind: str = "text", tag: str = "", macros: bool = False) -> bytes:
    parts: list[tuple[str, str | bytes]] = [
        ("mimetype", f"application/vnd.oasis.opendocument.{kind}"),
        ("content.xml", f"<office:document-content>{tag}</office:document-content>"),
        ("META-INF/manifest.xml", "<manifest:manifest/>"),
    ]
    if macros:
        parts.append(("Basic/Standard/Module1.xml", "<script:module/>"))
    return _zip(parts, stored_first=True)


def heic(tag: str = "") -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + tag.encode() + bytes(64)


def mov(tag: str = "") -> bytes:
    return b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + tag.encode() + bytes(64)
