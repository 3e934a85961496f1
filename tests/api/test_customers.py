"""Customers: staff create, list, read and edit them; the code is unique, compared upper-cased."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Desk, unique


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def test_create_answers_201_with_location_and_an_upper_case_code(desk: Desk) -> None:
    admin = desk.admin()
    body = {
        "code": "  acme-srl ",
        "name": "ACME S.r.l.",
        "email": "info@acme.example",
        "phone": "+39 0541 000111",
        "locale": "es",
        "plan": "Premium",
    }
    r = admin.post("/customers", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["code"] == "ACME-SRL"
    assert (created["name"], created["email"], created["phone"]) == (
        "ACME S.r.l.",
        "info@acme.example",
        "+39 0541 000111",
    )
    assert (created["locale"], created["plan"]) == ("es", "Premium")
    assert r.headers["location"] == f"/api/v1/customers/{created['id']}"
    fetched = admin.get(r.headers["location"].removeprefix("/api/v1"))
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_locale_defaults_to_italian(desk: Desk) -> None:
    r = desk.admin().post("/customers", json={"code": unique("DEF"), "name": "Default"})
    assert r.status_code == 201
    assert r.json()["locale"] == "it"
    assert r.json()["plan"] is None


def test_a_duplicate_code_is_409_whatever_its_case(desk: Desk) -> None:
    admin = desk.admin()
    assert admin.post("/customers", json={"code": "ROSSI", "name": "Rossi"}).status_code == 201
    for code in ("ROSSI", "rossi", " Rossi "):
        body = problem(admin.post("/customers", json={"code": code, "name": "Other"}), 409)
        assert "ROSSI" in body["detail"]
    listed = admin.get("/customers").json()["items"]
    assert [c["code"] for c in listed] == ["ROSSI"]


def test_patching_the_code_onto_another_customers_code_is_409(desk: Desk) -> None:
    admin = desk.admin()
    first = desk.customer(code="FIRST")
    second = desk.customer(code="SECOND")
    problem(admin.patch(f"/customers/{second['id']}", json={"code": "first"}), 409)
    assert admin.get(f"/customers/{second['id']}").json()["code"] == "SECOND"
    # Re-saving one's own code (in another case) is no clash.
    r = admin.patch(f"/customers/{first['id']}", json={"code": "First"})
    assert r.status_code == 200
    assert r.json()["code"] == "FIRST"


def test_patch_changes_only_the_given_fields(desk: Desk) -> None:
    admin = desk.admin()
    customer = desk.customer(email="old@example.com", plan="Base")
    r = admin.patch(
        f"/customers/{customer['id']}",
        json={"name": "Nuovo Nome S.p.A.", "plan": "Premium", "locale": "en", "code": "new-code"},
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert (updated["name"], updated["plan"], updated["locale"], updated["code"]) == (
        "Nuovo Nome S.p.A.",
        "Premium",
        "en",
        "NEW-CODE",
    )
    assert updated["email"] == "old@example.com"
    assert admin.get(f"/customers/{customer['id']}").json() == updated
    # An optional field can be cleared; a required one cannot.
    r = admin.patch(f"/customers/{customer['id']}", json={"email": None})
    assert r.status_code == 200
    assert r.json()["email"] is None
    problem(admin.patch(f"/customers/{customer['id']}", json={"name": None}), 422)


def test_an_unknown_customer_is_404(desk: Desk) -> None:
    admin = desk.admin()
    problem(admin.get("/customers/999999"), 404)
    problem(admin.patch("/customers/999999", json={"name": "X"}), 404)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("unknown", "x"),
        ("locale", "fr"),
        ("name", "x" * 201),
        ("name", ""),
        ("code", "bad code"),
        ("code", "-LEADING-DASH"),
        ("code", "X" * 33),
        ("email", "not-an-email"),
        ("phone", "call me"),
        ("plan", "p" * 81),
    ],
)
def test_bad_fields_are_422_on_create_and_patch(desk: Desk, field: str, value: str) -> None:
    admin = desk.admin()
    body = {"code": unique("OK"), "name": "Valid", field: value}
    err = problem(admin.post("/customers", json=body), 422)
    assert any(e["loc"][-1] == field for e in err["errors"]), err
    customer = desk.customer()
    problem(admin.patch(f"/customers/{customer['id']}", json={field: value}), 422)
    assert admin.get("/customers").json()["items"] == [
        admin.get(f"/customers/{customer['id']}").json()
    ]


def test_list_pages_walk_every_customer_exactly_once(desk: Desk) -> None:
    admin = desk.admin()
    ids = [desk.customer()["id"] for _ in range(7)]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = admin.get("/customers", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen.extend(c["id"] for c in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(ids)


def test_list_filters_by_code(desk: Desk) -> None:
    desk.customer(code="ALFA")
    desk.customer(code="BETA")
    r = desk.admin().get("/customers", params={"code": "alfa"})
    assert [c["code"] for c in r.json()["items"]] == ["ALFA"]


BAD_CURSORS = [
    "garbage!",  # not base64
    "bm90LWpzb24",  # not-json
    "eyJhIjoxfQ",  # {"a":1}
    "WyJ4Il0",  # ["x"]
    "W10",  # []
    "W3RydWVd",  # [true]
    "WzEuNV0",  # [1.5]
    "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMF0",  # an id no database column can hold
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_bad_cursor_is_400(desk: Desk, cursor: str) -> None:
    desk.customer()
    problem(desk.admin().get("/customers", params={"cursor": cursor}), 400)


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_out_of_range_is_422(desk: Desk, limit: int) -> None:
    problem(desk.admin().get("/customers", params={"limit": limit}), 422)


def test_customer_users_get_403_on_every_customer_endpoint(desk: Desk) -> None:
    customer = desk.customer()
    user = desk.customer_user(customer)
    cid = customer["id"]
    problem(user.post("/customers", json={"code": unique("NO"), "name": "No"}), 403)
    problem(user.get("/customers"), 403)
    problem(user.get(f"/customers/{cid}"), 403)
    problem(user.patch(f"/customers/{cid}", json={"name": "Hijacked"}), 403)
    assert desk.admin().get(f"/customers/{cid}").json()["name"] == customer["name"]


def test_agents_manage_customers(desk: Desk) -> None:
    agent = desk.agent()
    r = agent.post("/customers", json={"code": unique("AG"), "name": "By an agent"})
    assert r.status_code == 201
    cid = r.json()["id"]
    assert agent.get(f"/customers/{cid}").status_code == 200
    assert [c["id"] for c in agent.get("/customers").json()["items"]] == [cid]
    r = agent.patch(f"/customers/{cid}", json={"plan": "Gold"})
    assert r.status_code == 200
    assert r.json()["plan"] == "Gold"


def test_an_api_key_with_customers_read_may_list_but_not_write(desk: Desk) -> None:
    customer = desk.customer()
    key = desk.api_key("customers:read")
    assert [c["id"] for c in key.get("/customers").json()["items"]] == [customer["id"]]
    assert key.get(f"/customers/{customer['id']}").status_code == 200
    problem(key.post("/customers", json={"code": unique("K"), "name": "No"}), 403)
    problem(key.patch(f"/customers/{customer['id']}", json={"name": "No"}), 403)


def test_an_api_key_with_customers_write_may_create(desk: Desk) -> None:
    key = desk.api_key("customers:write")
    r = key.post("/customers", json={"code": unique("K"), "name": "By a key"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "By a key"


def test_an_api_key_without_customer_scopes_is_403(desk: Desk) -> None:
    key = desk.api_key("tickets:read", "orders:read")
    problem(key.get("/customers"), 403)
