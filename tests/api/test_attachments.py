"""Attachments through HTTP: with a new ticket, a reply, a follow-up or on their own; limits,
types judged by content, safe names, visibility, the timeline, idempotency."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests import samples
from tests.conftest import Database
from tests.factories import Desk

MiB = 1024 * 1024


@dataclass
class World:
    customer: dict[str, Any]
    user: httpx.Client
    colleague: httpx.Client
    stranger: httpx.Client
    agent: httpx.Client

    def payload(self, **fields: Any) -> dict[str, Any]:
        return {
            "customer_code": self.customer["code"],
            "type": "technical",
            "subject": "Errore invio fattura elettronica",
            "description": "Allego la schermata dell'errore e il log.",
            **fields,
        }

    def open(
        self, files: list[tuple[str, bytes]], client: httpx.Client | None = None, **kw: Any
    ) -> httpx.Response:
        return (client or self.user).post(
            "/tickets",
            data={"payload": json.dumps(self.payload())},
            files=[("files", (name, data, "application/octet-stream")) for name, data in files],
            **kw,
        )

    def ticket(self) -> dict[str, Any]:
        r = self.user.post("/tickets", json=self.payload())
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data


@pytest.fixture
def world(desk: Desk) -> World:
    customer = desk.customer()
    other = desk.customer()
    return World(
        customer=customer,
        user=desk.customer_user(customer),
        colleague=desk.customer_user(customer),
        stranger=desk.customer_user(other),
        agent=desk.agent(),
    )


def blobs(settings: Settings) -> set[str]:
    """The names of every file in the store (blobs and uploads being staged)."""
    root = Path(settings.storage_dir)
    return {p.name for p in root.rglob("*") if p.is_file() and "journal" not in p.parts}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def count(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608


def test_a_ticket_opened_with_files_keeps_them_byte_for_byte(world: World) -> None:
    screenshot, log = samples.png("errore SdI"), samples.log("sdi")
    r = world.open([("schermata errore.png", screenshot), ("sdi.log", log)])
    assert r.status_code == 201, r.text
    ticket = r.json()
    files = ticket["attachments"]
    assert [(f["filename"], f["content_type"], f["size"], f["sha256"]) for f in files] == [
        ("schermata errore.png", "image/png", len(screenshot), sha(screenshot)),
        ("sdi.log", "text/plain", len(log), sha(log)),
    ]
    assert {f["ticket_id"] for f in files} == {ticket["id"]} and files[0]["reply_id"] is None
    # The ticket, the list and the metadata say the same; the bytes come back as sent.
    assert world.colleague.get(f"/tickets/{ticket['id']}").json()["attachments"] == files
    assert world.user.get(f"/tickets/{ticket['id']}/attachments").json() == {
        "items": files,
        "next_cursor": None,
    }
    for meta, original in zip(files, (screenshot, log), strict=True):
        assert world.user.get(f"/attachments/{meta['id']}").json() == meta
        content = world.agent.get(f"/attachments/{meta['id']}/content")
        assert content.status_code == 200
        assert content.content == original and sha(content.content) == meta["sha256"]


def test_the_timeline_records_each_file(world: World) -> None:
    ticket = world.open([("a.png", samples.png("tl1")), ("b.pdf", samples.pdf("tl1"))]).json()
    events = world.user.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert [e["kind"] for e in events] == ["created", "attachment_added", "attachment_added"]
    assert [e["attachment_id"] for e in events[1:]] == [a["id"] for a in ticket["attachments"]]
    assert all(e["actor"]["role"] == "customer" for e in events)


@pytest.mark.parametrize(
    ("name", "build", "content_type"),
    [
        ("foto.jpg", samples.jpeg, "image/jpeg"),
        ("animazione.gif", samples.gif, "image/gif"),
        ("icona.webp", samples.webp, "image/webp"),
        ("video.mp4", samples.mp4, "video/mp4"),
        ("registrazione.webm", samples.webm, "video/webm"),
        ("fattura.pdf", samples.pdf, "application/pdf"),
    ],
)
def test_every_allowed_type_is_recognised(
    world: World, name: str, build: Any, content_type: str
) -> None:
    ticket = world.ticket()
    data = build(f"type-{name}")
    r = world.user.post(
        f"/tickets/{ticket['id']}/attachments", files=[("files", (name, data, "text/html"))]
    )
    assert r.status_code == 201, r.text
    [meta] = r.json()["attachments"]
    assert (meta["filename"], meta["content_type"], meta["size"]) == (name, content_type, len(data))


def test_the_type_is_the_detected_one_and_the_name_follows_it(world: World) -> None:
    """A screenshot with no extension is a PNG; a web page is stored as the text it is."""
    page = b"<html><script>alert('ciao')</script></html>\n"
    r = world.open([("schermata", samples.png("noext")), ("pagina.html", page)])
    assert r.status_code == 201, r.text
    assert [(a["filename"], a["content_type"]) for a in r.json()["attachments"]] == [
        ("schermata.png", "image/png"),
        ("pagina.html.txt", "text/plain"),
    ]


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("schermata.png", samples.elf),
        ("foto.png", samples.zip_archive),
        ("fattura.pdf", samples.windows_exe),
        ("sdi.log", lambda tag: "log in UTF-16".encode("utf-16")),
        ("dati.txt", lambda tag: b"\x00\x01\x02\x03" * 64),
    ],
)
def test_spoofed_and_unknown_types_are_415_and_nothing_is_stored(
    world: World, db: Database, settings: Settings, name: str, build: Any
) -> None:
    before = blobs(settings)
    r = world.open([("ok.png", samples.png(f"spoof-{name}")), (name, build(name))])
    assert r.status_code == 415, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "not of an allowed type" in r.json()["detail"]
    assert count(db, "ticket") == 0 and count(db, "attachment") == 0
    assert blobs(settings) == before


def test_more_files_than_allowed_is_422_and_nothing_is_stored(
    world: World, db: Database, settings: Settings
) -> None:
    before = blobs(settings)
    r = world.open([(f"{i}.png", samples.png(f"many{i}")) for i in range(3)])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "files"]
    assert count(db, "ticket") == 0 and count(db, "attachment") == 0
    assert blobs(settings) == before


def test_a_file_of_exactly_the_limit_is_taken_one_byte_more_is_413(
    world: World, db: Database, settings: Settings
) -> None:
    ticket = world.ticket()
    limit = settings.max_attachment_bytes
    head = samples.png("limit")
    body = samples.multipart([("files", "grande.png", samples.streamed(head, limit))])
    r = world.user.post(
        f"/tickets/{ticket['id']}/attachments", content=iter(body), headers=body.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["attachments"][0]["size"] == limit
    before = blobs(settings)
    body = samples.multipart([("files", "troppo.png", samples.streamed(head, limit + 1))])
    r = world.user.post(
        f"/tickets/{ticket['id']}/attachments", content=iter(body), headers=body.headers
    )
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == f"Each file may be at most {limit // MiB:g} MiB."
    assert count(db, "attachment") == 1
    assert blobs(settings) == before


def test_a_traversal_name_is_only_a_label(world: World, settings: Settings) -> None:
    image = samples.png("traversal")
    r = world.open(
        [("../../etc/passwd.png", image), ("..\\..\\Windows\\calc.exe", samples.log("exe"))]
    )
    assert r.status_code == 201, r.text
    assert [a["filename"] for a in r.json()["attachments"]] == ["passwd.png", "calc.exe.txt"]
    root = Path(settings.storage_dir)
    assert not (root.parent / "etc").exists() and not (root / "etc").exists()
    # Stored under its hash, nowhere else.
    digest = sha(image)
    assert [p for p in root.rglob("*") if p.is_file() and p.name == digest] == [
        root / "blobs" / digest[:2] / digest[2:4] / digest
    ]
    assert not [p for p in root.rglob("*") if "passwd" in p.name or "calc" in p.name]


def test_identical_content_is_stored_once(world: World, settings: Settings) -> None:
    image = samples.png("once")
    first = world.open([("a.png", image)]).json()["attachments"][0]
    second = world.open([("b.png", image)]).json()["attachments"][0]
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    root = Path(settings.storage_dir)
    assert len([p for p in root.rglob(sha(image)) if p.is_file()]) == 1


def test_a_customer_never_sees_another_customers_files(world: World) -> None:
    ticket = world.open([("privato.pdf", samples.pdf("privato"))]).json()
    file_id = ticket["attachments"][0]["id"]
    for path in (
        f"/attachments/{file_id}",
        f"/attachments/{file_id}/content",
        f"/tickets/{ticket['id']}/attachments",
    ):
        r = world.stranger.get(path)
        assert r.status_code == 404, path
        assert "privato" not in r.text
    r = world.stranger.post(
        f"/tickets/{ticket['id']}/attachments", files=[("files", ("x.png", samples.png("s")))]
    )
    assert r.status_code == 404
    assert world.colleague.get(f"/attachments/{file_id}/content").status_code == 200


def test_files_of_an_internal_note_are_for_staff_only(world: World) -> None:
    ticket = world.ticket()
    note = world.agent.post(
        f"/tickets/{ticket['id']}/replies",
        data={
            "payload": json.dumps(
                {"body": "Log del server, non inoltrare.", "visibility": "internal"}
            )
        },
        files=[("files", ("server.log", samples.log("interno")))],
    )
    assert note.status_code == 201, note.text
    [file] = note.json()["attachments"]
    assert file["reply_id"] == note.json()["id"]
    assert world.user.get(f"/attachments/{file['id']}").status_code == 404
    assert world.user.get(f"/attachments/{file['id']}/content").status_code == 404
    assert world.user.get(f"/tickets/{ticket['id']}").json()["attachments"] == []
    assert world.user.get(f"/tickets/{ticket['id']}/attachments").json()["items"] == []
    kinds = [e["kind"] for e in world.user.get(f"/tickets/{ticket['id']}/events").json()["items"]]
    assert kinds == ["created"]
    assert world.agent.get(f"/tickets/{ticket['id']}").json()["attachments"] == [file]
    staff_events = world.agent.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert [e["kind"] for e in staff_events] == ["created", "replied", "attachment_added"]


def test_a_reply_carries_its_files_and_the_list_shows_them(world: World) -> None:
    ticket = world.ticket()
    plain = world.agent.post(f"/tickets/{ticket['id']}/replies", json={"body": "Ci invii il log?"})
    assert plain.status_code == 201 and plain.json()["attachments"] == []
    replies = []
    for i in range(2):
        r = world.user.post(
            f"/tickets/{ticket['id']}/replies",
            data={"payload": json.dumps({"body": f"Ecco il log {i}."})},
            files=[("files", (f"log{i}.txt", samples.log(f"reply{i}")))],
        )
        assert r.status_code == 201, r.text
        replies.append(r.json())
    listed = world.user.get(f"/tickets/{ticket['id']}/replies").json()["items"]
    assert [len(r["attachments"]) for r in listed] == [0, 1, 1]
    assert [r["attachments"] for r in listed[1:]] == [r["attachments"] for r in replies]
    detail = world.user.get(f"/tickets/{ticket['id']}").json()
    assert [a["id"] for a in detail["attachments"]] == [r["attachments"][0]["id"] for r in replies]


def test_a_follow_up_takes_files_too(world: World) -> None:
    ticket = world.ticket()
    resolved = world.agent.post(
        f"/tickets/{ticket['id']}/status", json={"status": "resolved", "solution": "Rinnovato."}
    )
    assert resolved.status_code == 200, resolved.text
    r = world.user.post(
        f"/tickets/{ticket['id']}/follow-ups",
        data={"payload": json.dumps({"subject": "Di nuovo", "description": "Stesso errore."})},
        files=[("files", ("ancora.png", samples.png("followup")))],
    )
    assert r.status_code == 201, r.text
    follow_up = r.json()
    assert follow_up["parent_id"] == ticket["id"]
    assert [a["ticket_id"] for a in follow_up["attachments"]] == [follow_up["id"]]


def test_files_added_later_change_the_ticket_and_a_closed_ticket_takes_none(
    world: World, db: Database, settings: Settings
) -> None:
    ticket = world.ticket()
    etag = world.user.get(f"/tickets/{ticket['id']}").headers["etag"]
    r = world.user.post(
        f"/tickets/{ticket['id']}/attachments",
        files=[
            ("files", ("uno.png", samples.png("later1"))),
            ("files", ("due.txt", samples.log("later2"))),
        ],
    )
    assert r.status_code == 201, r.text
    assert [a["filename"] for a in r.json()["attachments"]] == ["uno.png", "due.txt"]
    assert world.user.get(f"/tickets/{ticket['id']}").headers["etag"] != etag
    closed = world.user.post(f"/tickets/{ticket['id']}/status", json={"status": "closed"})
    assert closed.status_code == 200, closed.text
    before = blobs(settings)
    r = world.user.post(
        f"/tickets/{ticket['id']}/attachments",
        files=[("files", ("tardi.png", samples.png("closed")))],
    )
    assert r.status_code == 409, r.text
    assert count(db, "attachment") == 2 and blobs(settings) == before


def test_a_page_of_a_tickets_files(world: World) -> None:
    ticket = world.open([("1.png", samples.png("p1")), ("2.png", samples.png("p2"))]).json()
    first = world.user.get(f"/tickets/{ticket['id']}/attachments", params={"limit": 1}).json()
    assert [a["filename"] for a in first["items"]] == ["1.png"] and first["next_cursor"]
    second = world.user.get(
        f"/tickets/{ticket['id']}/attachments",
        params={"limit": 1, "cursor": first["next_cursor"]},
    ).json()
    assert [a["filename"] for a in second["items"]] == ["2.png"]
    assert second["next_cursor"] is None


def test_idempotent_creation_with_files(world: World, db: Database) -> None:
    files = [("schermata.png", samples.png("idem"))]
    key = {"Idempotency-Key": "apertura-42"}
    first = world.open(files, headers=key)
    again = world.open(files, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["attachments"] == first.json()["attachments"]
    assert count(db, "ticket") == 1 and count(db, "attachment") == 1
    other_file = world.open([("schermata.png", samples.png("diverso"))], headers=key)
    assert other_file.status_code == 422, other_file.text
    # Without files, the same payload as JSON or as multipart is the same request.
    key2 = {"Idempotency-Key": "apertura-43"}
    as_json = world.user.post("/tickets", json=world.payload(), headers=key2)
    body = samples.multipart([("payload", None, json.dumps(world.payload()).encode())])
    as_form = world.user.post("/tickets", content=b"".join(body), headers={**body.headers, **key2})
    assert as_json.status_code == as_form.status_code == 201
    assert as_json.json()["id"] == as_form.json()["id"]


def test_a_read_only_api_key_downloads_but_does_not_upload(desk: Desk, world: World) -> None:
    ticket = world.open([("a.png", samples.png("key"))]).json()
    reader = desk.api_key("tickets:read")
    file_id = ticket["attachments"][0]["id"]
    assert reader.get(f"/attachments/{file_id}/content").status_code == 200
    r = reader.post(
        f"/tickets/{ticket['id']}/attachments", files=[("files", ("b.png", samples.png("k2")))]
    )
    assert r.status_code == 403


def test_uploads_need_credentials(world: World, desk: Desk) -> None:
    ticket = world.ticket()
    anon = desk.anonymous()
    r = anon.post(
        f"/tickets/{ticket['id']}/attachments", files=[("files", ("a.png", samples.png("anon")))]
    )
    assert r.status_code == 401
    assert anon.get(f"/tickets/{ticket['id']}/attachments").status_code == 401


def _post(client: httpx.Client, url: str, raw: bytes, boundary: str = "b0undary") -> httpx.Response:
    return client.post(
        url, content=raw, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )


def test_bad_multipart_bodies(world: World, db: Database) -> None:
    payload = json.dumps(world.payload()).encode()
    ticket = world.ticket()

    def part(name: str, data: bytes, filename: str | None = None) -> bytes:
        extra = f'; filename="{filename}"' if filename is not None else ""
        head = f'--b0undary\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
        return head.encode() + data + b"\r\n"

    end = b"--b0undary--\r\n"
    cases: list[tuple[int, str, bytes, str | None]] = [
        (400, "/tickets", part("files", samples.png("nopayload"), "a.png") + end, "payload"),
        (400, "/tickets", part("payload", b'{"subject": ') + end, "JSON"),
        (400, "/tickets", part("payload", payload), "closing boundary"),
        (400, "/tickets", b"this is not multipart at all", None),
        (422, "/tickets", part("payload", payload) + part("extra", b"x") + end, None),
        (422, f"/tickets/{ticket['id']}/attachments", part("payload", payload) + end, None),
        (422, f"/tickets/{ticket['id']}/attachments", end, None),
        (422, f"/tickets/{ticket['id']}/attachments", part("files", b"", "vuoto.txt") + end, None),
        (422, f"/tickets/{ticket['id']}/attachments", part("files", b"", "") * 12 + end, "parts"),
    ]
    for status, url, raw, words in cases:
        r = _post(world.user, url, raw)
        assert r.status_code == status, (url, raw[:80], r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if words:
            assert words in r.json()["detail"], r.text
    r = _post(world.user, "/tickets", part("payload", json.dumps({"subject": ""}).encode()) + end)
    assert r.status_code == 422
    assert ["body", "payload", "customer_code"] in [e["loc"] for e in r.json()["errors"]]
    r = world.user.post(
        "/tickets", content=b"--x--", headers={"Content-Type": "multipart/form-data"}
    )
    assert r.status_code == 400 and "boundary" in r.json()["detail"]
    r = world.user.post(f"/tickets/{ticket['id']}/attachments", json={"files": []})
    assert r.status_code == 415
    assert count(db, "ticket") == 1 and count(db, "attachment") == 0


def test_an_empty_file_field_of_a_browser_form_is_no_file(world: World) -> None:
    """A form whose file input was left empty sends a part with an empty name and no bytes."""
    body = samples.multipart(
        [("payload", None, json.dumps(world.payload()).encode()), ("files", "", b"")]
    )
    r = world.user.post("/tickets", content=b"".join(body), headers=body.headers)
    assert r.status_code == 201, r.text
    assert r.json()["attachments"] == []
