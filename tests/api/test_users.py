"""Users: admins manage everyone, agents manage customer users only, customers nobody."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Database
from tests.factories import PASSWORD, Desk, unique


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def user_body(role: str, customer_id: int | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "email": unique(role) + "@example.com",
        "name": "Someone",
        "password": PASSWORD,
        "role": role,
        "customer_id": customer_id,
        **fields,
    }


def can_log_in(desk: Desk, email: str, password: str = PASSWORD) -> bool:
    r = desk.anonymous().post("/auth/login", json={"email": email, "password": password})
    return r.status_code == 200


@pytest.mark.parametrize("role", ["customer", "agent", "admin"])
def test_an_admin_creates_users_of_any_role(desk: Desk, role: str) -> None:
    customer_id = desk.customer()["id"] if role == "customer" else None
    body = user_body(role, customer_id, phone="+39 333 1234567", locale="es")
    r = desk.admin().post("/users", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/api/v1/users/{created['id']}"
    assert (created["email"], created["role"], created["customer_id"]) == (
        body["email"],
        role,
        customer_id,
    )
    assert (created["phone"], created["locale"], created["is_active"]) == (
        "+39 333 1234567",
        "es",
        True,
    )
    assert "password" not in created and "password_hash" not in created
    me = desk.login(body["email"]).get("/me").json()
    assert (me["id"], me["role"]) == (created["id"], role)


def test_an_agent_creates_customer_users_only(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    r = agent.post("/users", json=user_body("customer", customer["id"]))
    assert r.status_code == 201, r.text
    for role in ("agent", "admin"):
        body = user_body(role)
        problem(agent.post("/users", json=body), 403)
        assert not can_log_in(desk, body["email"])


def test_customer_users_may_not_create_or_read_users(desk: Desk) -> None:
    customer = desk.customer()
    user, me = desk.user("customer", customer_id=customer["id"])
    problem(user.post("/users", json=user_body("customer", customer["id"])), 403)
    problem(user.get("/users"), 403)
    problem(user.get(f"/users/{me['id']}"), 403)
    problem(user.patch(f"/users/{me['id']}", json={"name": "Self-promoted"}), 403)


def test_a_customer_user_needs_a_customer(desk: Desk) -> None:
    err = problem(desk.admin().post("/users", json=user_body("customer", None)), 422)
    assert err["errors"][0]["loc"] == ["body", "customer_id"]


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_staff_belong_to_no_customer(desk: Desk, role: str) -> None:
    customer = desk.customer()
    err = problem(desk.admin().post("/users", json=user_body(role, customer["id"])), 422)
    assert err["errors"][0]["loc"] == ["body", "customer_id"]


@pytest.mark.parametrize("customer_id", [999999, 2**31 - 1, 2**31, 2**63, 0, -1])
def test_a_customer_user_of_a_nonexistent_customer_is_422(desk: Desk, customer_id: int) -> None:
    body = user_body("customer", customer_id)
    err = problem(desk.admin().post("/users", json=body), 422)
    assert err["errors"][0]["loc"][-1] == "customer_id"
    assert not can_log_in(desk, body["email"])


def test_a_duplicate_email_is_409_whatever_its_case(desk: Desk) -> None:
    admin = desk.admin()
    body = user_body("agent", email="Anna.Verdi@Example.com")
    r = admin.post("/users", json=body)
    assert r.status_code == 201
    assert r.json()["email"] == "anna.verdi@example.com"
    for email in ("anna.verdi@example.com", "ANNA.VERDI@EXAMPLE.COM"):
        problem(admin.post("/users", json=user_body("agent", email=email)), 409)
    other = admin.post("/users", json=user_body("agent")).json()
    problem(admin.patch(f"/users/{other['id']}", json={"email": "ANNA.verdi@example.com"}), 409)
    assert admin.get("/users", params={"role": "agent"}).json()["items"][0]["email"] == (
        "anna.verdi@example.com"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "short"),
        ("email", "not-an-email"),
        ("role", "superuser"),
        ("locale", "de"),
        ("name", ""),
        ("is_admin", True),
    ],
)
def test_bad_fields_are_422(desk: Desk, field: str, value: Any) -> None:
    body = {**user_body("agent"), field: value}
    err = problem(desk.admin().post("/users", json=body), 422)
    assert any(e["loc"][-1] == field for e in err["errors"]), err


def test_list_filters_by_role_and_customer_and_pages(desk: Desk) -> None:
    admin = desk.admin()
    admin_id = admin.get("/me").json()["id"]
    first, second = desk.customer(), desk.customer()
    firsts = [desk.user("customer", customer_id=first["id"])[1]["id"] for _ in range(3)]
    seconds = [desk.user("customer", customer_id=second["id"])[1]["id"]]
    agents = [desk.user("agent")[1]["id"] for _ in range(2)]

    def ids(**params: Any) -> list[int]:
        seen: list[int] = []
        cursor: str | None = None
        while True:
            r = admin.get("/users", params={**params, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            seen.extend(u["id"] for u in r.json()["items"])
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return seen

    assert ids(role="agent") == agents
    assert ids(role="admin") == [admin_id]
    assert ids(customer_id=first["id"]) == firsts
    assert ids(customer_id=second["id"], role="customer") == seconds
    assert ids(customer_id=first["id"], role="agent") == []
    everyone = sorted([admin_id, *firsts, *seconds, *agents])
    assert ids(limit=2) == everyone
    page = admin.get("/users", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    problem(admin.get("/users", params={"role": "boss"}), 422)
    problem(admin.get("/users", params={"cursor": "not a cursor"}), 400)


def test_get_user_and_404(desk: Desk) -> None:
    agent = desk.agent()
    _, user = desk.user("agent")
    r = agent.get(f"/users/{user['id']}")
    assert r.status_code == 200
    assert r.json()["email"] == user["email"]
    problem(agent.get("/users/999999"), 404)
    problem(desk.admin().patch("/users/999999", json={"name": "Nobody"}), 404)


@pytest.mark.parametrize("user_id", ["0", "2147483648", "99999999999999999999999", "abc"])
def test_an_id_no_user_can_have_is_422_not_a_server_error(desk: Desk, user_id: str) -> None:
    problem(desk.admin().get(f"/users/{user_id}"), 422)
    problem(desk.admin().get("/users", params={"customer_id": user_id}), 422)


def test_an_agent_edits_customer_users(desk: Desk) -> None:
    agent = desk.agent()
    customer, other = desk.customer(), desk.customer()
    _, user = desk.user("customer", customer_id=customer["id"])
    r = agent.patch(
        f"/users/{user['id']}",
        json={"name": "Mario Bianchi", "phone": "+39 333 0000000", "customer_id": other["id"]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["customer_id"]) == ("Mario Bianchi", other["id"])
    problem(agent.patch(f"/users/{user['id']}", json={"customer_id": 999999}), 422)
    problem(agent.patch(f"/users/{user['id']}", json={"customer_id": None}), 422)


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_an_agent_cannot_edit_staff(desk: Desk, role: str) -> None:
    agent = desk.agent()
    _, staff = desk.user(role)
    problem(agent.patch(f"/users/{staff['id']}", json={"name": "Renamed"}), 403)
    problem(agent.patch(f"/users/{staff['id']}", json={"is_active": False}), 403)
    assert can_log_in(desk, staff["email"])
    assert desk.admin().get(f"/users/{staff['id']}").json()["name"] == staff["name"]


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_an_agent_cannot_promote_a_customer_user(desk: Desk, role: str) -> None:
    agent = desk.agent()
    customer_client, user = desk.user("customer", customer_id=desk.customer()["id"])
    problem(
        agent.patch(f"/users/{user['id']}", json={"role": role, "customer_id": None}),
        403,
    )
    assert customer_client.get("/me").json()["role"] == "customer"


def test_an_admin_changes_a_role(desk: Desk) -> None:
    admin = desk.admin()
    agent_client, agent = desk.user("agent")
    r = admin.patch(f"/users/{agent['id']}", json={"role": "admin"})
    assert r.status_code == 200
    assert r.json()["role"] == "admin"
    # The promotion takes effect on the open session at once.
    assert agent_client.get("/me").json()["role"] == "admin"
    assert agent_client.get("/api-keys").status_code == 200
    # A staff member becomes a customer user only together with a customer.
    problem(admin.patch(f"/users/{agent['id']}", json={"role": "customer"}), 422)
    customer = desk.customer()
    r = admin.patch(
        f"/users/{agent['id']}", json={"role": "customer", "customer_id": customer["id"]}
    )
    assert r.status_code == 200
    assert (r.json()["role"], r.json()["customer_id"]) == ("customer", customer["id"])
    problem(agent_client.get("/users"), 403)


def test_an_admin_cannot_demote_or_deactivate_themself(desk: Desk) -> None:
    admin = desk.admin()
    me = admin.get("/me").json()
    for change in ({"role": "agent"}, {"is_active": False}):
        problem(admin.patch(f"/users/{me['id']}", json=change), 403)
    assert admin.get("/me").json()["role"] == "admin"
    # Another admin may.
    other_admin, _ = desk.user("admin")
    r = other_admin.patch(f"/users/{me['id']}", json={"role": "agent"})
    assert r.status_code == 200
    assert admin.get("/me").json()["role"] == "agent"


@pytest.mark.parametrize("change", [{"role": "agent"}, {"is_active": False}])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    desk: Desk, db: Database, change: dict[str, Any]
) -> None:
    """Each may demote the other, not both: the desk would be left with no administrator
    (no one to manage users, categories or keys), which the rule on oneself is there to
    prevent."""
    first = desk.admin()
    second, _ = desk.user("admin")
    ids = [first.get("/me").json()["id"], second.get("/me").json()["id"]]
    barrier = threading.Barrier(2)

    def demote(i: int) -> httpx.Response:
        barrier.wait(timeout=30)
        return [first, second][i].patch(f"/users/{ids[1 - i]}", json=change)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(demote, range(2)))
    # The loser is refused however far it got: already demoted when it authenticated (403),
    # its session ended by the deactivation (401), or the other the last admin (409).
    statuses = sorted(r.status_code for r in answers)
    assert statuses[0] == 200 and statuses[1] in (401, 403, 409), [r.text for r in answers]
    admins = "SELECT count(*) FROM user_account WHERE role = 'admin' AND is_active = :yes"
    assert db.scalar(admins, yes=True) == 1
    # One after the other, the same: the last active admin stays one.
    [survivor] = [c for c, r in zip([first, second], answers, strict=True) if r.status_code == 200]
    third = survivor.post("/users", json=user_body("admin"))
    assert third.status_code == 201, third.text
    assert survivor.patch(f"/users/{third.json()['id']}", json=change).status_code == 200
    assert db.scalar(admins, yes=True) == 1


def test_a_new_password_set_by_an_admin_ends_the_users_sessions(desk: Desk) -> None:
    session, user = desk.user("agent")
    second = desk.login(user["email"])
    r = desk.admin().patch(f"/users/{user['id']}", json={"password": "set by the admin"})
    assert r.status_code == 200
    assert session.get("/me").status_code == 401
    assert second.get("/me").status_code == 401
    assert not can_log_in(desk, user["email"])
    assert can_log_in(desk, user["email"], "set by the admin")


def test_a_profile_change_keeps_the_users_sessions(desk: Desk) -> None:
    session, user = desk.user("agent")
    r = desk.admin().patch(f"/users/{user['id']}", json={"name": "Anna Maria Verdi"})
    assert r.status_code == 200
    assert session.get("/me").json()["name"] == "Anna Maria Verdi"


def test_a_reactivated_user_can_log_in_again(desk: Desk) -> None:
    admin = desk.admin()
    _, user = desk.user("agent")
    assert admin.patch(f"/users/{user['id']}", json={"is_active": False}).status_code == 200
    assert not can_log_in(desk, user["email"])
    r = admin.patch(f"/users/{user['id']}", json={"is_active": True})
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert can_log_in(desk, user["email"])


@pytest.mark.parametrize("field", ["email", "name", "password", "role", "locale", "is_active"])
def test_required_fields_cannot_be_set_to_null(desk: Desk, field: str) -> None:
    _, user = desk.user("agent")
    problem(desk.admin().patch(f"/users/{user['id']}", json={field: None}), 422)


def test_api_keys_get_403_on_users(desk: Desk) -> None:
    key = desk.api_key(
        "tickets:read",
        "tickets:write",
        "customers:read",
        "customers:write",
        "orders:read",
        "orders:write",
    )
    _, user = desk.user("agent")
    customer = desk.customer()
    problem(key.get("/users"), 403)
    problem(key.get(f"/users/{user['id']}"), 403)
    problem(key.post("/users", json=user_body("customer", customer["id"])), 403)
    problem(key.patch(f"/users/{user['id']}", json={"name": "By a key"}), 403)
