"""Categories: the tree of areas and sub-areas of each ticket type, managed by admins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.demo import load_demo_data
from tests.conftest import Database
from tests.factories import Desk, problem


def names(tree: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(n["type"], n["name"], [c["name"] for c in n["children"]]) for n in tree]


def test_an_admin_builds_the_tree_of_areas_and_sub_areas(desk: Desk) -> None:
    admin = desk.admin()
    r = admin.post("/categories", json={"type": "technical", "name": "Fatturazione elettronica"})
    assert r.status_code == 201, r.text
    area = r.json()
    assert r.headers["location"] == f"/api/v1/categories/{area['id']}"
    assert area == {
        "id": area["id"],
        "type": "technical",
        "name": "Fatturazione elettronica",
        "names": {"it": None, "es": None, "en": None},
        "parent_id": None,
        "children": [],
    }
    sdi = desk.category("technical", "Invio allo SdI", parent=area)
    assert sdi["parent_id"] == area["id"] and sdi["type"] == "technical"
    desk.category("technical", "Conservazione", parent=area)
    desk.category("administrative", "Pagamenti")
    desk.category("technical", "Contabilità")

    tree = desk.customer_user(desk.customer()).get("/categories")
    assert tree.status_code == 200, tree.text
    # By type, then by name; sub-areas in their area's children.
    assert names(tree.json()) == [
        ("administrative", "Pagamenti", []),
        ("technical", "Contabilità", []),
        ("technical", "Fatturazione elettronica", ["Conservazione", "Invio allo SdI"]),
    ]
    [child] = [c for c in tree.json()[2]["children"] if c["name"] == "Invio allo SdI"]
    assert child == {**sdi, "children": []}


def test_a_sub_area_has_its_areas_type_and_no_sub_areas_of_its_own(desk: Desk) -> None:
    admin = desk.admin()
    area = desk.category("technical", "Magazzino")
    sub = desk.category("technical", "Inventario", parent=area)
    for body, field in [
        ({"type": "administrative", "name": "Bonifico", "parent_id": area["id"]}, "type"),
        ({"type": "technical", "name": "Troppo profondo", "parent_id": sub["id"]}, "parent_id"),
        ({"type": "technical", "name": "Orfano", "parent_id": 999999}, "parent_id"),
    ]:
        err = problem(admin.post("/categories", json=body), 422)
        assert err["errors"][0]["loc"] == ["body", field]
    assert names(admin.get("/categories").json()) == [("technical", "Magazzino", ["Inventario"])]


def test_names_are_unique_among_siblings_only(desk: Desk) -> None:
    admin = desk.admin()
    area = desk.category("technical", "Contabilità")
    desk.category("technical", "Bilancio", parent=area)
    problem(admin.post("/categories", json={"type": "technical", "name": "Contabilità"}), 409)
    again = {"type": "technical", "name": "Bilancio", "parent_id": area["id"]}
    problem(admin.post("/categories", json=again), 409)
    # The same name in another type, or as an area, is another category.
    desk.category("administrative", "Contabilità")
    desk.category("technical", "Bilancio")
    other = desk.category("technical", "Magazzino")
    desk.category("technical", "Bilancio", parent=other)


def test_simultaneous_requests_for_one_name_make_one_category(desk: Desk) -> None:
    """The siblings' check and the insert are one step: admins double-submitting a form (or
    two at once) get one category and 409s, never duplicates (PostgreSQL let them through)."""
    admins = [desk.user("admin")[0] for _ in range(6)]
    area = desk.category("technical", "Contabilità")
    spare = [desk.category("technical", f"Provvisoria {i}") for i in range(len(admins))]

    def at_once(call: Callable[[int], httpx.Response]) -> list[int]:
        barrier = threading.Barrier(len(admins))

        def run(i: int) -> httpx.Response:
            barrier.wait(timeout=30)
            return call(i)

        with ThreadPoolExecutor(len(admins)) as pool:
            answers = list(pool.map(run, range(len(admins))))
        for r in answers:
            if r.status_code != 409:
                assert r.status_code in (200, 201), r.text
        return sorted(r.status_code for r in answers)

    new_area = {"type": "technical", "name": "Magazzino"}
    assert at_once(lambda i: admins[i].post("/categories", json=new_area)) == [201] + [409] * 5
    new_sub = {"type": "technical", "name": "Bilancio", "parent_id": area["id"]}
    assert at_once(lambda i: admins[i].post("/categories", json=new_sub)) == [201] + [409] * 5
    renamed = at_once(
        lambda i: admins[i].patch(f"/categories/{spare[i]['id']}", json={"name": "Cespiti"})
    )
    assert renamed == [200] + [409] * 5
    tree = names(admins[0].get("/categories").json())
    assert [n for n in tree if n[1] in ("Magazzino", "Cespiti")] == [
        ("technical", "Cespiti", []),
        ("technical", "Magazzino", []),
    ]
    assert ("technical", "Contabilità", ["Bilancio"]) in tree


def test_an_admin_renames_a_category(desk: Desk) -> None:
    admin = desk.admin()
    area = desk.category("commercial", "Listino")
    sibling = desk.category("commercial", "Rinnovi")
    r = admin.patch(f"/categories/{area['id']}", json={"name": "  Listino prezzi  "})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Listino prezzi"
    assert [n["name"] for n in admin.get("/categories").json()] == ["Listino prezzi", "Rinnovi"]
    problem(admin.patch(f"/categories/{sibling['id']}", json={"name": "Listino prezzi"}), 409)
    problem(admin.patch("/categories/999999", json={"name": "Altro"}), 404)
    # Renaming to its own name is no clash.
    assert admin.patch(f"/categories/{sibling['id']}", json={"name": "Rinnovi"}).status_code == 200


def test_renaming_an_area_keeps_its_sub_areas(desk: Desk) -> None:
    admin = desk.admin()
    area = desk.category("order", "Stato ordine")
    sub = desk.category("order", "Spedizione", parent=area)
    r = admin.patch(f"/categories/{area['id']}", json={"name": "Stato dell'ordine"})
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["children"]] == [sub["id"]]
    assert names(admin.get("/categories").json()) == [
        ("order", "Stato dell'ordine", ["Spedizione"])
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "technical", "name": ""},
        {"type": "technical", "name": "   "},
        {"type": "technical", "name": "x" * 101},
        {"type": "technical", "name": "Magazzino\x00"},
        {"type": "support", "name": "Altro"},
        {"name": "Senza tipo"},
        {"type": "technical", "name": "Altro", "parent_id": 0},
        {"type": "technical", "name": "Altro", "colour": "red"},
    ],
)
def test_bad_category_bodies_are_422(desk: Desk, body: dict[str, Any]) -> None:
    problem(desk.admin().post("/categories", json=body), 422)
    assert desk.admin().get("/categories").json() == []


def test_only_admins_manage_categories(desk: Desk) -> None:
    area = desk.category("technical", "Contabilità")
    others = [
        desk.agent(),
        desk.customer_user(desk.customer()),
        desk.api_key("tickets:read", "tickets:write", "customers:write", "orders:write"),
    ]
    for client in others:
        problem(client.post("/categories", json={"type": "technical", "name": "Nuova"}), 403)
        problem(client.patch(f"/categories/{area['id']}", json={"name": "Rinominata"}), 403)
        assert names(client.get("/categories").json()) == [("technical", "Contabilità", [])]
    problem(desk.anonymous().get("/categories"), 401)
    problem(desk.api_key("orders:read").get("/categories"), 403)


def test_demo_data_adds_a_realistic_tree(desk: Desk, db: Database, settings: Settings) -> None:
    assert db.run(load_demo_data(settings)).logins
    tree = desk.admin().get("/categories").json()
    assert {n["type"] for n in tree} == {"administrative", "commercial", "technical", "order"}
    areas = {n["name"]: n for n in tree}
    assert "Invio allo SdI" in [c["name"] for c in areas["Fatturazione elettronica"]["children"]]
    assert areas["Fatturazione elettronica"]["type"] == "technical"
    for area in tree:
        assert area["parent_id"] is None
        for child in area["children"]:
            assert (child["parent_id"], child["type"]) == (area["id"], area["type"])
    # Tickets can be filed under them at once.
    customer = desk.admin().get("/customers", params={"code": "AGRI-BIANCHI"}).json()["items"][0]
    sub = areas["Fatturazione elettronica"]["children"][0]
    ticket = desk.ticket(desk.admin(), customer, category_id=sub["id"])
    assert ticket["category_id"] == sub["id"]
