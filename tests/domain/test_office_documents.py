"""Office documents and phone formats: recognised by content, macros refused unless allowed."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.domain.attachments import (
    DOCM,
    DOCX,
    HEIC,
    MOV,
    ODS,
    ODT,
    XLSM,
    XLSX,
    Sniffer,
    safe_filename,
    sniff,
)
from tests import samples


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (samples.docx("x"), DOCX),
        (samples.xlsx("x"), XLSX),
        (samples.opendocument("text", "x"), ODT),
        (samples.opendocument("spreadsheet", "x"), ODS),
        (samples.heic("x"), HEIC),
        (samples.mov("x"), MOV),
    ],
)
def test_documents_and_phone_files_are_recognised_by_their_content(
    data: bytes, expected: str
) -> None:
    assert sniff(data) == expected


def test_a_document_streamed_in_small_chunks_after_a_large_body_is_still_recognised() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("[Content_Types].xml", samples.CONTENT_TYPES)
        z.writestr("word/media/image1.bin", bytes(range(256)) * 4000)  # ~1 MB
        z.writestr("word/document.xml", "<w:document/>")
    data = buffer.getvalue()
    sniffer = Sniffer()
    for i in range(0, len(data), 1000):
        sniffer.feed(data[i : i + 1000])
        assert not sniffer.rejected
    assert sniffer.result() == DOCX


@pytest.mark.parametrize(
    ("data", "macro_type"),
    [
        (samples.docx("x", macros=True), DOCM),
        (samples.xlsx("x", macros=True), XLSM),
        (samples.opendocument("text", "x", macros=True), ODT),
    ],
)
def test_documents_with_macros_are_refused_unless_allowed(data: bytes, macro_type: str) -> None:
    assert sniff(data) is None
    assert sniff(data, allow_macros=True) == macro_type


@pytest.mark.parametrize(
    "data",
    [
        samples.zip_archive(),  # a plain archive
        samples.docx("x")[:-10],  # cut short: no central directory
        samples.docx("x").replace(b"word/document.xml", b"word/documant.xml"),  # no main part
        samples.opendocument("presentation", "x"),  # a type we do not take
        samples.opendocument("text", "x").replace(b"content.xml", b"contens.xml"),
    ],
)
def test_other_zip_files_and_broken_documents_are_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_an_encrypted_zip_is_refused() -> None:
    data = bytearray(samples.docx("x"))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag of the first entry
    assert sniff(bytes(data)) is None


def test_names_take_the_extension_of_the_detected_type() -> None:
    assert safe_filename("offerta.docx", DOCX) == "offerta.docx"
    assert safe_filename("offerta.doc", DOCX) == "offerta.doc.docx"
    assert safe_filename("IMG_0001.HEIC", HEIC) == "IMG_0001.HEIC"
    assert safe_filename("video", MOV) == "video.mov"
