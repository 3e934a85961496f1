"""Orders and subscriptions: staff record them; a customer user sees their own customer's only."""

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


def numbers(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [o["number"] for o in r.json()["items"]]


@pytest.mark.parametrize("staff", ["agent", "admin"])
def test_staff_record_an_order_and_its_status_defaults_to_active(desk: Desk, staff: str) -> None:
    client = desk.agent() if staff == "agent" else desk.admin()
    customer = desk.customer()
    body = {
        "customer_id": customer["id"],
        "number": "ORD-2026-0142",
        "kind": "subscription",
        "description": "Abbonamento annuale",
    }
    r = client.post("/orders", json=body)
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["location"] == f"/api/v1/orders/{order['id']}"
    assert {k: order[k] for k in body} == body
    assert order["status"] == "active"
    assert client.get(f"/orders/{order['id']}").json() == order


def test_a_duplicate_number_is_409(desk: Desk) -> None:
    first, second = desk.customer(), desk.customer()
    desk.order(first, number="ORD-1")
    body = {"customer_id": second["id"], "number": "ORD-1", "kind": "purchase"}
    problem(desk.admin().post("/orders", json=body), 409)
    assert numbers(desk.admin().get("/orders")) == ["ORD-1"]


@pytest.mark.parametrize("customer_id", [999999, 2**31, 2**70, 0])
def test_an_unknown_customer_is_422(desk: Desk, customer_id: int) -> None:
    body = {"customer_id": customer_id, "number": unique("ORD-"), "kind": "purchase"}
    err = problem(desk.admin().post("/orders", json=body), 422)
    assert err["errors"][0]["loc"] == ["body", "customer_id"]
    assert numbers(desk.admin().get("/orders")) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "rental"),
        ("kind", None),
        ("status", "lost"),
        ("number", "has spaces"),
        ("number", ""),
        ("description", "x" * 2001),
        ("unknown", 1),
    ],
)
def test_bad_fields_are_422(desk: Desk, field: str, value: Any) -> None:
    customer = desk.customer()
    body = {"customer_id": customer["id"], "number": unique("ORD-"), "kind": "purchase"}
    err = problem(desk.admin().post("/orders", json={**body, field: value}), 422)
    assert any(e["loc"][-1] == field for e in err["errors"]), err


def test_a_customer_user_lists_only_their_customers_orders(desk: Desk) -> None:
    mine, theirs = desk.customer(), desk.customer()
    desk.order(mine, number="MINE-1")
    desk.order(mine, number="MINE-2", kind="subscription")
    desk.order(theirs, number="THEIRS-1")
    user = desk.customer_user(mine)
    assert numbers(user.get("/orders")) == ["MINE-1", "MINE-2"]
    # Asking for another customer's orders shows nothing of theirs.
    assert numbers(user.get("/orders", params={"customer_id": theirs["id"]})) == []
    assert numbers(user.get("/orders", params={"number": "THEIRS-1"})) == []
    assert numbers(user.get("/orders", params={"customer_id": mine["id"]})) == ["MINE-1", "MINE-2"]


def test_a_colleague_sees_the_same_orders(desk: Desk) -> None:
    customer = desk.customer()
    desk.order(customer, number="SHARED-1")
    first, second = desk.customer_user(customer), desk.customer_user(customer)
    assert numbers(first.get("/orders")) == numbers(second.get("/orders")) == ["SHARED-1"]


def test_another_customers_order_is_404_never_403(desk: Desk) -> None:
    mine, theirs = desk.customer(), desk.customer()
    own = desk.order(mine)
    foreign = desk.order(theirs)
    user = desk.customer_user(mine)
    assert user.get(f"/orders/{own['id']}").json() == own
    hidden = problem(user.get(f"/orders/{foreign['id']}"), 404)
    missing = problem(user.get("/orders/999999"), 404)
    assert hidden["detail"] == missing["detail"]


def test_staff_see_every_order_and_filter_them(desk: Desk) -> None:
    first, second = desk.customer(), desk.customer()
    desk.order(first, number="P-1", kind="purchase")
    desk.order(first, number="S-1", kind="subscription", status="expired")
    desk.order(second, number="S-2", kind="subscription")
    agent = desk.agent()
    assert numbers(agent.get("/orders")) == ["P-1", "S-1", "S-2"]
    assert numbers(agent.get("/orders", params={"customer_id": first["id"]})) == ["P-1", "S-1"]
    assert numbers(agent.get("/orders", params={"kind": "subscription"})) == ["S-1", "S-2"]
    assert numbers(agent.get("/orders", params={"status": "expired"})) == ["S-1"]
    assert numbers(agent.get("/orders", params={"status": "active"})) == ["P-1", "S-2"]
    assert numbers(agent.get("/orders", params={"number": "S-2"})) == ["S-2"]
    combined = {"customer_id": first["id"], "kind": "subscription", "status": "active"}
    assert numbers(agent.get("/orders", params=combined)) == []
    problem(agent.get("/orders", params={"status": "lost"}), 422)
    problem(agent.get("/orders", params={"kind": "rental"}), 422)


def test_the_list_pages_walk_every_order_once(desk: Desk) -> None:
    customer = desk.customer()
    made = [desk.order(customer)["number"] for _ in range(5)]
    agent = desk.agent()
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = agent.get("/orders", params=params).json()
        assert len(page["items"]) <= 2
        seen.extend(o["number"] for o in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == made
    problem(agent.get("/orders", params={"cursor": "%%%"}), 400)


def test_staff_update_an_order(desk: Desk) -> None:
    order = desk.order(desk.customer(), description="Old")
    agent = desk.agent()
    r = agent.patch(f"/orders/{order['id']}", json={"status": "suspended", "description": "New"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["description"]) == ("suspended", "New")
    assert (r.json()["number"], r.json()["kind"]) == (order["number"], order["kind"])
    assert agent.get(f"/orders/{order['id']}").json()["status"] == "suspended"
    problem(agent.patch(f"/orders/{order['id']}", json={"status": None}), 422)
    problem(agent.patch(f"/orders/{order['id']}", json={"number": "RENUMBERED"}), 422)
    problem(agent.patch("/orders/999999", json={"status": "expired"}), 404)


def test_customer_users_may_not_write_orders(desk: Desk) -> None:
    customer = desk.customer()
    order = desk.order(customer)
    user = desk.customer_user(customer)
    body = {"customer_id": customer["id"], "number": unique("ORD-"), "kind": "purchase"}
    problem(user.post("/orders", json=body), 403)
    problem(user.patch(f"/orders/{order['id']}", json={"status": "cancelled"}), 403)
    assert user.get(f"/orders/{order['id']}").json()["status"] == "active"
    assert numbers(user.get("/orders")) == [order["number"]]


def test_an_api_key_needs_the_orders_scopes(desk: Desk) -> None:
    customer = desk.customer()
    order = desk.order(customer)
    body = {"customer_id": customer["id"], "number": unique("ORD-"), "kind": "purchase"}

    reader = desk.api_key("orders:read")
    assert numbers(reader.get("/orders")) == [order["number"]]
    assert reader.get(f"/orders/{order['id']}").status_code == 200
    problem(reader.post("/orders", json=body), 403)
    problem(reader.patch(f"/orders/{order['id']}", json={"status": "expired"}), 403)

    writer = desk.api_key("orders:write")
    r = writer.post("/orders", json=body)
    assert r.status_code == 201, r.text
    r = writer.patch(f"/orders/{order['id']}", json={"status": "expired"})
    assert r.status_code == 200

    outsider = desk.api_key("customers:read", "tickets:write")
    problem(outsider.get("/orders"), 403)
    problem(outsider.get(f"/orders/{order['id']}"), 403)
    problem(outsider.post("/orders", json={**body, "number": unique("ORD-")}), 403)


def test_my_customer_shows_the_plan_and_an_orders_summary(desk: Desk) -> None:
    customer = desk.customer(plan="Gestionale Cantina - Premium", locale="es")
    desk.order(customer, kind="subscription")
    desk.order(customer, kind="subscription", status="expired")
    desk.order(customer, kind="purchase")
    desk.order(desk.customer(), kind="purchase")  # another customer's: not counted
    user = desk.customer_user(customer)
    r = user.get("/me/customer")
    assert r.status_code == 200, r.text
    mine = r.json()
    assert (mine["id"], mine["code"], mine["plan"], mine["locale"]) == (
        customer["id"],
        customer["code"],
        "Gestionale Cantina - Premium",
        "es",
    )
    summary = mine["orders_summary"]
    assert summary["total"] == 3
    assert summary["by_kind"] == {"purchase": 1, "subscription": 2}
    assert summary["by_status"] == {"active": 2, "suspended": 0, "expired": 1, "cancelled": 0}


def test_my_customer_with_no_orders_counts_zero(desk: Desk) -> None:
    user = desk.customer_user(desk.customer())
    summary = user.get("/me/customer").json()["orders_summary"]
    assert summary["total"] == 0
    assert set(summary["by_kind"].values()) == set(summary["by_status"].values()) == {0}


def test_my_customer_is_404_for_staff(desk: Desk) -> None:
    problem(desk.agent().get("/me/customer"), 404)
    problem(desk.admin().get("/me/customer"), 404)
