"""Uploads cost the server flat memory and hold no database resource while they stream."""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import Any

import httpx

from tests import samples
from tests.factories import Desk, unique

MiB = 1024 * 1024


def _ticket(desk: Desk) -> tuple[httpx.Client, dict[str, Any]]:
    customer = desk.customer()
    user = desk.customer_user(customer)
    r = user.post(
        "/tickets",
        json={
            "customer_code": customer["code"],
            "type": "technical",
            "subject": "Video della procedura",
            "description": "Registrazione completa dello schermo.",
        },
    )
    assert r.status_code == 201, r.text
    return user, r.json()


def test_memory_stays_flat_whatever_the_size_of_the_upload(desk: Desk) -> None:
    """50 MiB refused (413) and 10 MiB taken, both streamed: the process never holds a file.

    The server runs in a thread of this process, so tracemalloc's peak covers
    it (and the test's own client, which streams the body from a generator).
    """
    user, ticket = _ticket(desk)
    url = f"/tickets/{ticket['id']}/attachments"
    peaks = []
    for size, expected in ((50 * MiB, 413), (10 * MiB, 201)):
        head = samples.mp4(f"flat-{size}", size=4096)
        body = samples.multipart([("files", "schermo.mp4", samples.streamed(head, size))])
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            r = user.post(url, content=iter(body), headers=body.headers)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
        assert r.status_code == expected, r.text

    assert max(peaks) < 4 * MiB, [f"{p / MiB:.1f} MiB" for p in peaks]


def test_a_slow_upload_holds_no_database_lock(desk: Desk) -> None:
    """While a customer's upload trickles in, everyone else's writes go through at once.

    (On SQLite a transaction left open during the upload would hold the write
    lock: the customer creation below would wait for the upload to end.)
    """
    admin = desk.admin()
    user, ticket = _ticket(desk)
    reading, release = threading.Event(), threading.Event()

    def trickle() -> Any:
        yield samples.png("slow")
        reading.set()
        release.wait(timeout=20)
        yield b"-end"

    body = samples.multipart([("files", "lento.png", trickle())])
    outcome: dict[str, httpx.Response] = {}

    def send() -> None:
        outcome["upload"] = user.post(
            f"/tickets/{ticket['id']}/attachments", content=iter(body), headers=body.headers
        )

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert reading.wait(timeout=10)
        time.sleep(0.3)  # the server is now waiting for the rest of the body
        started = time.monotonic()
        r = admin.post(
            "/customers", json={"code": unique("SLOW"), "name": "Nel frattempo"}, timeout=5
        )
        elapsed = time.monotonic() - started
    finally:
        release.set()
        sender.join(timeout=30)
    assert r.status_code == 201, r.text
    assert elapsed < 2
    assert outcome["upload"].status_code == 201, outcome["upload"].text
