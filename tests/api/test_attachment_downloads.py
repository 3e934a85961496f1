"""Downloads: always an attachment with a safe name, never sniffed, streamed, resumable."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests import samples
from tests.factories import Desk


@pytest.fixture
def customer_user(desk: Desk) -> tuple[dict[str, Any], httpx.Client]:
    customer = desk.customer()
    return customer, desk.customer_user(customer)


def upload(
    who: tuple[dict[str, Any], httpx.Client], name: str, data: bytes
) -> tuple[httpx.Client, dict[str, Any]]:
    customer, client = who
    payload = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Video dell'errore",
        "description": "Registrazione dello schermo durante l'invio.",
    }
    r = client.post(
        "/tickets",
        data={"payload": json.dumps(payload)},
        files=[("files", (name, data, "video/quicktime"))],
    )
    assert r.status_code == 201, r.text
    meta: dict[str, Any] = r.json()["attachments"][0]
    return client, meta


def test_the_download_is_an_attachment_that_browsers_do_not_sniff(
    customer_user: tuple[dict[str, Any], httpx.Client],
) -> None:
    client, meta = upload(customer_user, 'Schermata "finale" 2026 — ñ.png', samples.png("dl"))
    r = client.get(f"/attachments/{meta['id']}/content")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["etag"] == f'"{meta["sha256"]}"'
    assert r.headers["content-length"] == str(meta["size"])
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Schermata _finale_ 2026 ')
    assert disposition.encode("ascii")  # the header itself is plain ASCII
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == meta["filename"]
    assert meta["filename"] == "Schermata _finale_ 2026 — ñ.png"


def test_text_is_served_as_utf8_text(customer_user: tuple[dict[str, Any], httpx.Client]) -> None:
    log = samples.log("perché è così")
    client, meta = upload(customer_user, "errori.log", log)
    r = client.get(f"/attachments/{meta['id']}/content")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == log.decode()


def test_a_video_is_served_in_ranges(customer_user: tuple[dict[str, Any], httpx.Client]) -> None:
    video = samples.mp4("range", size=300_000)
    client, meta = upload(customer_user, "errore.mp4", video)
    url = f"/attachments/{meta['id']}/content"
    size = len(video)
    assert client.get(url).headers["accept-ranges"] == "bytes"
    for header, start, stop in [
        ("bytes=0-99", 0, 100),
        ("bytes=100000-", 100_000, size),
        ("bytes=-500", size - 500, size),
        (f"bytes=1000-{size + 5000}", 1000, size),
        ("bytes=65530-131080", 65530, 131081),  # across read chunks
    ]:
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == video[start:stop], header
        assert r.headers["content-range"] == f"bytes {start}-{stop - 1}/{size}"
        assert r.headers["content-length"] == str(stop - start)
        assert r.headers["content-disposition"].startswith("attachment")
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=9-2", "bytes=abc"):
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 200 and r.content == video, header
    for header in (f"bytes={size}-", "bytes=-0"):
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["content-range"] == f"bytes */{size}"
        assert r.headers["content-type"] == "application/problem+json"
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == video
    fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{meta["sha256"]}"'})
    assert fresh.status_code == 206 and fresh.content == video[:10]


def test_a_large_file_streams_back_intact(
    customer_user: tuple[dict[str, Any], httpx.Client],
) -> None:
    video = samples.mp4("large", size=3 * 1024 * 1024 + 17)
    client, meta = upload(customer_user, "lungo.mp4", video)
    digest = hashlib.sha256()
    received = 0
    with client.stream("GET", f"/attachments/{meta['id']}/content") as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            digest.update(chunk)
            received += len(chunk)
    assert received == len(video) and digest.hexdigest() == meta["sha256"]


def test_a_client_cache_revalidates_with_the_etag(
    customer_user: tuple[dict[str, Any], httpx.Client],
) -> None:
    client, meta = upload(customer_user, "cache.pdf", samples.pdf("cache"))
    url = f"/attachments/{meta['id']}/content"
    first = client.get(url)
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    # "*" matches whatever the current representation is (RFC 9110 13.1.2).
    star = client.get(url, headers={"If-None-Match": "*"})
    assert star.status_code == 304 and star.content == b""
    assert star.headers["etag"] == first.headers["etag"]
