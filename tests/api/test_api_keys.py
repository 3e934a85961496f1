"""API keys for integrators: admins issue and revoke them; a key acts as an agent within scopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Database
from tests.factories import Desk


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def issue(desk: Desk, *scopes: str, name: str = "ERP sync") -> dict[str, Any]:
    r = desk.admin().post("/api-keys", json={"name": name, "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_an_admin_issues_a_key_shown_once(desk: Desk) -> None:
    created = issue(desk, "orders:read", "customers:read", "orders:read")
    assert created["name"] == "ERP sync"
    assert created["scopes"] == ["customers:read", "orders:read"]
    assert created["revoked_at"] is None
    assert created["key"].startswith(created["prefix"])
    listed = desk.admin().get("/api-keys")
    assert listed.status_code == 200
    [row] = listed.json()
    assert row == {k: v for k, v in created.items() if k != "key"}
    assert created["key"] not in listed.text
    # The key works as a bearer token.
    assert desk.with_token(created["key"]).get("/customers").status_code == 200


def test_the_key_is_stored_hashed(desk: Desk, db: Database) -> None:
    created = issue(desk, "tickets:read")
    secret = created["key"]
    assert db.scalar("SELECT count(*) FROM api_key") == 1
    row = db.scalar("SELECT key_hash FROM api_key WHERE id = :i", i=created["id"])
    assert secret not in row
    for column in ("name", "prefix", "key_hash", "CAST(scopes AS TEXT)"):
        found = db.scalar(
            f"SELECT count(*) FROM api_key WHERE {column} LIKE :s",  # noqa: S608
            s=f"%{secret[len(created['prefix']) :]}%",
        )
        assert found == 0, column


@pytest.mark.parametrize("role", ["agent", "customer"])
def test_only_admins_manage_keys(desk: Desk, role: str) -> None:
    key = issue(desk, "tickets:read")
    client = desk.agent() if role == "agent" else desk.customer_user(desk.customer())
    problem(client.post("/api-keys", json={"name": "mine", "scopes": ["tickets:read"]}), 403)
    problem(client.get("/api-keys"), 403)
    problem(client.delete(f"/api-keys/{key['id']}"), 403)
    assert desk.with_token(key["key"]).get("/orders").status_code == 403  # scope, not revoked
    assert [k["id"] for k in desk.admin().get("/api-keys").json()] == [key["id"]]


def test_a_key_cannot_manage_keys(desk: Desk) -> None:
    key = issue(desk, "tickets:read", "tickets:write", "customers:write", "orders:write")
    client = desk.with_token(key["key"])
    problem(client.get("/api-keys"), 403)
    problem(client.post("/api-keys", json={"name": "child", "scopes": ["tickets:read"]}), 403)
    problem(client.delete(f"/api-keys/{key['id']}"), 403)


def test_a_revoked_key_is_401_at_once(desk: Desk) -> None:
    created = issue(desk, "customers:read")
    client = desk.with_token(created["key"])
    assert client.get("/customers").status_code == 200
    r = desk.admin().delete(f"/api-keys/{created['id']}")
    assert r.status_code == 204
    r = client.get("/customers")
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    [row] = desk.admin().get("/api-keys").json()
    assert row["revoked_at"] is not None


def test_revoking_twice_or_an_unknown_key_is_404(desk: Desk) -> None:
    created = issue(desk, "tickets:read")
    admin = desk.admin()
    assert admin.delete(f"/api-keys/{created['id']}").status_code == 204
    problem(admin.delete(f"/api-keys/{created['id']}"), 404)
    problem(admin.delete("/api-keys/999999"), 404)
    problem(admin.delete("/api-keys/99999999999999999999"), 422)


def test_other_keys_survive_a_revocation(desk: Desk) -> None:
    first = issue(desk, "customers:read", name="first")
    second = issue(desk, "customers:read", name="second")
    assert desk.admin().delete(f"/api-keys/{first['id']}").status_code == 204
    assert desk.with_token(second["key"]).get("/customers").status_code == 200


def test_a_key_acts_as_an_agent_within_its_scopes(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.with_token(issue(desk, "customers:read", "customers:write")["key"])
    # Inside its scopes it does what an agent does...
    assert client.get(f"/customers/{customer['id']}").status_code == 200
    r = client.patch(f"/customers/{customer['id']}", json={"plan": "Set by the ERP"})
    assert r.status_code == 200
    # ...outside them it is refused, though an agent would be allowed.
    body = {"customer_id": customer["id"], "number": "ORD-KEY-1", "kind": "purchase"}
    err = problem(client.post("/orders", json=body), 403)
    assert "orders:write" in err["detail"]
    problem(client.get("/orders"), 403)
    # And it is never more than an agent.
    problem(client.get("/users"), 403)


def test_a_key_has_no_profile(desk: Desk) -> None:
    client = desk.with_token(issue(desk, "tickets:read", "customers:read")["key"])
    problem(client.get("/me"), 403)
    problem(client.patch("/me", json={"name": "Integrator"}), 403)
    problem(client.get("/me/customer"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "scopes": ["tickets:delete"]},
        {"name": "k", "scopes": ["TICKETS:READ"]},
        {"name": "k", "scopes": []},
        {"name": "k"},
        {"name": "", "scopes": ["tickets:read"]},
        {"name": "k" * 101, "scopes": ["tickets:read"]},
        {"name": "k", "scopes": ["tickets:read"], "prefix": "spk_mine"},
    ],
)
def test_bad_key_requests_are_422(desk: Desk, body: dict[str, Any]) -> None:
    problem(desk.admin().post("/api-keys", json=body), 422)
    assert desk.admin().get("/api-keys").json() == []


def test_a_long_name_within_the_limit_is_kept(desk: Desk) -> None:
    created = issue(desk, "tickets:read", name="n" * 100)
    assert created["name"] == "n" * 100


def test_a_forged_key_is_401(desk: Desk) -> None:
    created = issue(desk, "customers:read")
    forged = created["key"][:-2] + ("AA" if not created["key"].endswith("AA") else "BB")
    problem(desk.with_token(forged).get("/customers"), 401)
    problem(desk.with_token("spk_" + "x" * 300).get("/customers"), 401)
