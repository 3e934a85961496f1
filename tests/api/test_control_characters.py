"""NUL, other C0 controls, DEL and C1 controls are refused (422) wherever a request carries
them: body, query string, path, headers; on both databases, before any SQL runs."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.factories import Desk

FORBIDDEN = ["\x00", "\x01", "\x1b", "\x7f", "\x80", "\x85", "\x9f"]


def _assert_refused(r: httpx.Response, loc_start: list[str]) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["errors"][0]["loc"][: len(loc_start)] == loc_start
    assert body["errors"][0]["msg"] == "control characters are not allowed"


@pytest.mark.parametrize("char", FORBIDDEN)
def test_login_refuses_control_characters_without_a_login(desk: Desk, char: str) -> None:
    r = desk.anonymous().post(
        "/auth/login", json={"email": f"a{char}@x.example", "password": "whatever-1"}
    )
    _assert_refused(r, ["body", "email"])


@pytest.mark.parametrize("char", ["\x00", "\x7f", "\x9f"])
def test_query_strings_refuse_control_characters(desk: Desk, char: str) -> None:
    admin = desk.admin()
    for path, name in (("/orders", "number"), ("/customers", "code"), ("/tickets", "q")):
        r = admin.get(path, params={name: f"x{char}y"})
        _assert_refused(r, ["query", name])


def test_nested_and_escaped_json_strings_are_checked(desk: Desk) -> None:
    admin = desk.admin()
    customer = desk.customer()
    raw = json.dumps({"customer_id": customer["id"], "number": "ORD-\u0000", "kind": "purchase"})
    assert "\\u0000" in raw
    r = admin.post("/orders", content=raw, headers={"content-type": "application/json"})
    _assert_refused(r, ["body", "number"])
    # A raw DEL and a raw C1 control (UTF-8) in a JSON text are refused as well.
    for char in ("\x7f", "\x85"):
        raw_bytes = json.dumps({"name": f"A{char}B"}, ensure_ascii=False).encode()
        r = admin.patch(
            f"/customers/{customer['id']}",
            content=raw_bytes,
            headers={"content-type": "application/json"},
        )
        _assert_refused(r, ["body", "name"])


def test_tab_and_line_breaks_stay_allowed_in_texts(desk: Desk) -> None:
    admin = desk.admin()
    customer = desk.customer()
    r = admin.patch(f"/customers/{customer['id']}", json={"name": "Ditta\tRossi"})
    assert r.status_code == 200, r.text
    # Non-ASCII letters outside the C1 block are ordinary text.
    r = admin.patch(f"/customers/{customer['id']}", json={"name": "Pérez Ñandú ß €"})
    assert r.status_code == 200, r.text


def test_headers_and_paths_refuse_control_characters(desk: Desk) -> None:
    admin = desk.admin()
    customer = desk.customer()
    ticket = desk.ticket(admin, customer)
    r = admin.post(
        f"/tickets/{ticket['id']}/status",
        json={"status": "in_progress"},
        # The HTTP server refuses DEL and C0 in headers itself; a C1 control (UTF-8) gets here.
        headers={"Idempotency-Key": "key\u0085".encode()},
    )
    _assert_refused(r, ["header", "idempotency-key"])
    r = desk.anonymous().get("/public/tickets/abc%00def")
    _assert_refused(r, ["path"])


def test_multipart_payloads_are_checked_too(desk: Desk) -> None:
    admin = desk.admin()
    customer = desk.customer()
    payload = json.dumps(
        {
            "customer_code": customer["code"],
            "type": "technical",
            "subject": "Subject \u0000",
            "description": "d",
        }
    )
    r = admin.post("/tickets", files={"payload": (None, payload, "application/json")})
    _assert_refused(r, ["body", "payload", "subject"])
