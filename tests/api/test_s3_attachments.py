"""Attachments kept in S3-compatible object storage, through HTTP: the same API as on the local
disk (uploads, downloads, ranges, visibility), presigned redirects when asked, and a 503 with
nothing stored when the store refuses."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests import samples
from tests.conftest import Database, LiveServer
from tests.factories import Desk
from tests.s3 import S3Server


def serve(settings: Settings, s3: S3Server, bucket: str, **update: Any) -> Iterator[str]:
    changed = settings.model_copy(update={**s3.settings_update(bucket), **update})
    server = LiveServer(changed)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bucket(s3_server: S3Server) -> str:
    name = f"api-{uuid.uuid4().hex[:16]}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture(scope="module")
def s3_app(settings: Settings, s3_server: S3Server, bucket: str) -> Iterator[str]:
    yield from serve(settings, s3_server, bucket)


@pytest.fixture(scope="module")
def presigning_app(settings: Settings, s3_server: S3Server, bucket: str) -> Iterator[str]:
    yield from serve(settings, s3_server, bucket, s3_presign_seconds=120)


def desk_of(base: str, db: Database, settings: Settings) -> Desk:
    return Desk(f"{base}/api/v1", db, settings)


def open_with_files(
    desk: Desk, files: list[tuple[str, bytes, str]]
) -> tuple[dict[str, Any], httpx.Client, dict[str, Any]]:
    customer = desk.customer()
    user = desk.customer_user(customer)
    payload = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Allegati nel bucket",
        "description": "La fattura e la schermata dell'errore.",
    }
    r = user.post(
        "/tickets",
        data={"payload": json.dumps(payload)},
        files=[("files", f) for f in files],
    )
    assert r.status_code == 201, r.text
    return customer, user, r.json()


def test_files_go_to_the_bucket_and_come_back_whole_and_in_ranges(
    s3_app: str, s3_server: S3Server, bucket: str, db: Database, settings: Settings
) -> None:
    desk = desk_of(s3_app, db, settings)
    png, pdf = samples.png("s3"), samples.pdf("s3")
    _, user, ticket = open_with_files(
        desk, [("schermata.png", png, "image/png"), ("fattura.pdf", pdf, "application/pdf")]
    )
    try:
        metas = ticket["attachments"]
        assert [m["sha256"] for m in metas] == [hashlib.sha256(d).hexdigest() for d in (png, pdf)]
        listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="att/blobs/")  # type: ignore[attr-defined]
        stored = {item["Key"].rsplit("/", 1)[1] for item in listing.get("Contents", [])}
        assert {m["sha256"] for m in metas} <= stored
        # Nothing on the local disk: the bucket is the store.
        assert not (settings.storage_dir / "blobs").exists() or not any(
            (settings.storage_dir / "blobs").rglob(metas[0]["sha256"])
        )
        whole = user.get(f"/attachments/{metas[1]['id']}/content")
        assert whole.status_code == 200
        assert whole.content == pdf
        assert whole.headers["content-type"] == "application/pdf"
        part = user.get(f"/attachments/{metas[0]['id']}/content", headers={"Range": "bytes=4-20"})
        assert part.status_code == 206
        assert part.content == png[4:21]
        assert part.headers["content-range"] == f"bytes 4-20/{len(png)}"
        # Another customer's user sees nothing of it.
        stranger = desk.customer_user(desk.customer())
        assert stranger.get(f"/attachments/{metas[0]['id']}/content").status_code == 404
    finally:
        desk.close()


def test_with_presigning_a_download_redirects_to_the_store_only_for_who_may_see_it(
    presigning_app: str, db: Database, settings: Settings
) -> None:
    desk = desk_of(presigning_app, db, settings)
    data = samples.pdf("presigned")
    _, user, ticket = open_with_files(desk, [("contratto ñ.pdf", data, "application/pdf")])
    try:
        attachment = ticket["attachments"][0]["id"]
        r = user.get(f"/attachments/{attachment}/content")
        assert r.status_code == 307
        assert r.headers["cache-control"] == "private, no-store"
        direct = httpx.get(r.headers["location"])
        assert direct.status_code == 200
        assert direct.content == data
        assert "attachment;" in direct.headers["content-disposition"]
        assert desk.anonymous().get(f"/attachments/{attachment}/content").status_code == 401
        stranger = desk.customer_user(desk.customer())
        assert stranger.get(f"/attachments/{attachment}/content").status_code == 404
    finally:
        desk.close()


def test_a_store_that_refuses_is_503_and_nothing_is_stored(
    settings: Settings, s3_server: S3Server, db: Database
) -> None:
    for base in serve(settings, s3_server, "no-such-bucket-here"):
        desk = desk_of(base, db, settings)
        try:
            customer = desk.customer()
            user = desk.customer_user(customer)
            payload = {
                "customer_code": customer["code"],
                "type": "technical",
                "subject": "Il bucket non c'è",
                "description": "Questo file non può essere salvato.",
            }
            r = user.post(
                "/tickets",
                data={"payload": json.dumps(payload)},
                files=[("files", ("a.png", samples.png("refused"), "image/png"))],
            )
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"]
            assert "no-such-bucket" not in r.text and "Traceback" not in r.text
            assert db.scalar("SELECT count(*) FROM ticket") == 0
            assert db.scalar("SELECT count(*) FROM attachment") == 0
            # Without files the API goes on working.
            assert user.post("/tickets", json=payload).status_code == 201
        finally:
            desk.close()
