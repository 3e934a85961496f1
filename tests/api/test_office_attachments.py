"""Customers send office documents and phone photos; macro-enabled ones are refused (415)."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests import samples
from tests.api.test_attachments import World, blobs, count
from tests.conftest import Database
from tests.factories import Desk


@pytest.fixture
def world(desk: Desk) -> World:
    customer = desk.customer()
    return World(
        customer=customer,
        user=desk.customer_user(customer),
        colleague=desk.customer_user(customer),
        stranger=desk.customer_user(desk.customer()),
        agent=desk.agent(),
    )


def test_a_docx_and_an_iphone_photo_are_taken_and_downloaded_as_sent(world: World) -> None:
    document, photo = samples.docx("offerta"), samples.heic("foto")
    r = world.open([("offerta.docx", document), ("IMG_0042.HEIC", photo)])
    assert r.status_code == 201, r.text
    files = r.json()["attachments"]
    assert [(f["filename"], f["content_type"]) for f in files] == [
        ("offerta.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("IMG_0042.HEIC", "image/heic"),
    ]
    download = world.user.get(f"/attachments/{files[0]['id']}/content")
    assert download.status_code == 200 and download.content == document


def test_spreadsheets_of_both_families_are_taken(world: World) -> None:
    r = world.open(
        [("conti.xlsx", samples.xlsx("a")), ("conti.ods", samples.opendocument("spreadsheet", "b"))]
    )
    assert r.status_code == 201, r.text
    assert [f["content_type"] for f in r.json()["attachments"]] == [
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
    ]


def test_a_document_with_macros_is_415_and_nothing_is_stored(
    world: World, db: Database, settings: Settings
) -> None:
    before = blobs(settings)
    r = world.open([("offerta.docx", samples.docx("macro", macros=True))])
    assert r.status_code == 415, r.text
    assert "office documents" in r.json()["detail"]
    assert count(db, "attachment") == 0 and blobs(settings) == before
