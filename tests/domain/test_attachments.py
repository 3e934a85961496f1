"""File types judged by their bytes, and client file names made harmless (no database)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.attachments import (
    EXTENSIONS,
    GIF,
    JPEG,
    MAX_FILENAME,
    MP4,
    PDF,
    PNG,
    TEXT,
    WEBM,
    WEBP,
    Sniffer,
    can_attach,
    safe_filename,
    sniff,
)
from app.domain.tickets import TicketStatus
from tests import samples

ALLOWED = [
    (samples.png, PNG),
    (samples.jpeg, JPEG),
    (samples.gif, GIF),
    (samples.webp, WEBP),
    (samples.mp4, MP4),
    (samples.webm, WEBM),
    (samples.pdf, PDF),
    (samples.log, TEXT),
]


@pytest.mark.parametrize(("build", "expected"), ALLOWED)
def test_allowed_types_are_recognised_by_their_bytes(build: object, expected: str) -> None:
    assert callable(build)
    assert sniff(build("x")) == expected


@pytest.mark.parametrize(
    "data",
    [
        samples.elf(),
        samples.windows_exe(),
        samples.zip_archive(),
        "UTF-16 log".encode("utf-16"),
        b"\xff\xfe\xfd not UTF-8",
        b"bell\x07" * 20,
        b"",
        b"\x1a\x45\xdf\xa3\x9f" + samples.webm()[5:].replace(b"webm", b"mkvx"),  # Matroska
        b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif",  # AVIF, not HEIC
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # audio
    ],
)
def test_anything_else_is_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_a_binary_file_is_refused_as_soon_as_its_head_is_read() -> None:
    sniffer = Sniffer()
    sniffer.feed(samples.elf() + bytes(5000))
    assert sniffer.rejected


def test_text_with_a_few_colour_codes_is_text_but_binary_noise_is_not() -> None:
    assert sniff(b"\x1b[31mERRORE\x1b[0m invio non riuscito\r\n\tdettagli\n") == TEXT
    assert sniff("BOM e accenti: perché\n".encode("utf-8-sig")) == TEXT
    assert sniff(b"abc\x01" * 50) is None


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [build("chunks") + bytes(3000) for build, _ in ALLOWED[:-1]] + [("è " * 4000).encode()]
    ),
    st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=20),
)
def test_the_verdict_does_not_depend_on_how_the_bytes_are_chunked(
    data: bytes, cuts: list[int]
) -> None:
    sniffer = Sniffer()
    position = 0
    for size in cuts:
        sniffer.feed(data[position : position + size])
        position += size
    sniffer.feed(data[position:])
    assert sniffer.result() == sniff(data) is not None


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        ("../../etc/passwd.png", PNG, "passwd.png"),
        ("C:\\Users\\mario\\Desktop\\fattura.PDF", PDF, "fattura.PDF"),
        ("schermata", PNG, "schermata.png"),
        ("virus.exe", PNG, "virus.exe.png"),
        ("pagina.html", TEXT, "pagina.html.txt"),
        ("fattura\u202egnp.exe", PNG, "fatturagnp.exe.png"),  # right-to-left override removed
        ("..", PNG, "attachment.png"),
        ("", TEXT, "attachment.txt"),
        (None, MP4, "attachment.mp4"),
        ('a<b>c:"d"|e?*.jpg', JPEG, "a_b_c__d__e__.jpg"),
        (".nascosto.log", TEXT, "nascosto.log"),
        ("CON.txt", TEXT, "_CON.txt"),
        ("riga uno\nriga due.txt", TEXT, "riga uno riga due.txt"),
        ("Cafe\u0301.png", PNG, "Café.png"),
    ],
)
def test_client_file_names_are_made_safe(raw: str | None, content_type: str, expected: str) -> None:
    assert safe_filename(raw, content_type) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.sampled_from(list(EXTENSIONS)))
def test_no_name_escapes_the_rules(raw: str, content_type: str) -> None:
    name = safe_filename(raw, content_type)
    assert 0 < len(name) <= MAX_FILENAME
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in name)
    assert name.rpartition(".")[2].lower() in EXTENSIONS[content_type]
    assert safe_filename(name, content_type) == name  # stable: safe names stay as they are


def test_a_closed_ticket_takes_no_files() -> None:
    assert [s for s in TicketStatus if not can_attach(s)] == [TicketStatus.CLOSED]
