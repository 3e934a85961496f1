"""Login, logout, tokens, /me, API keys and the throttling of failed logins."""

from __future__ import annotations

import httpx
import pytest

from app.services import auth as auth_service
from tests.conftest import Database
from tests.factories import PASSWORD, Desk


def test_login_gives_a_bearer_token_that_works(desk: Desk) -> None:
    _, user = desk.user("agent")
    r = desk.anonymous().post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_at"].endswith("Z") or "+" in body["expires_at"]
    me = desk.with_token(body["access_token"]).get("/me")
    assert me.status_code == 200
    assert me.json()["email"] == user["email"]


def test_login_email_is_case_insensitive(desk: Desk) -> None:
    _, user = desk.user("agent")
    r = desk.anonymous().post(
        "/auth/login", json={"email": user["email"].upper(), "password": PASSWORD}
    )
    assert r.status_code == 200


def test_bad_credentials_get_the_same_401_whether_the_email_exists_or_not(desk: Desk) -> None:
    _, user = desk.user("agent")
    anon = desk.anonymous()
    wrong = anon.post("/auth/login", json={"email": user["email"], "password": "wrong-password"})
    ghost = anon.post("/auth/login", json={"email": "ghost@example.com", "password": "whatever1"})
    assert wrong.status_code == ghost.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers["www-authenticate"] == "Bearer"
    strip = lambda b: {k: v for k, v in b.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(ghost.json())


def test_calls_without_or_with_a_bad_token_are_401(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = client.get("/me", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["status"] == 401


def test_logout_revokes_the_token_at_once(desk: Desk) -> None:
    agent = desk.agent()
    assert agent.get("/me").status_code == 200
    assert agent.post("/auth/logout").status_code == 204
    assert agent.get("/me").status_code == 401


def test_logout_leaves_other_sessions_alone(desk: Desk) -> None:
    _, user = desk.user("agent")
    first = desk.login(user["email"])
    second = desk.login(user["email"])
    assert first.post("/auth/logout").status_code == 204
    assert second.get("/me").status_code == 200


def test_a_deactivated_user_is_logged_out_and_cannot_log_in(desk: Desk) -> None:
    agent, user = desk.user("agent")
    r = desk.admin().patch(f"/users/{user['id']}", json={"is_active": False})
    assert r.status_code == 200
    assert agent.get("/me").status_code == 401
    r = desk.anonymous().post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert r.status_code == 401


def test_me_update_changes_profile_fields(desk: Desk) -> None:
    agent = desk.agent()
    r = agent.patch("/me", json={"name": "Anna Verdi", "phone": "+39 0541 123456", "locale": "es"})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["phone"], r.json()["locale"]) == (
        "Anna Verdi",
        "+39 0541 123456",
        "es",
    )
    assert agent.get("/me").json()["locale"] == "es"


def test_me_cannot_change_role_or_email(desk: Desk) -> None:
    agent = desk.agent()
    for body in ({"role": "admin"}, {"email": "x@example.com"}, {"customer_id": 1}):
        r = agent.patch("/me", json=body)
        assert r.status_code == 422, body
    assert agent.get("/me").json()["role"] == "agent"


def test_password_change_needs_the_current_password(desk: Desk) -> None:
    _, user = desk.user("agent")
    me = desk.login(user["email"])
    other_session = desk.login(user["email"])
    r = me.patch("/me", json={"password": "a brand new secret"})
    assert r.status_code == 422
    r = me.patch("/me", json={"password": "a brand new secret", "current_password": "wrong!!!"})
    assert r.status_code == 422
    r = me.patch("/me", json={"password": "a brand new secret", "current_password": PASSWORD})
    assert r.status_code == 200
    # The session that changed it stays; the others end; the new password logs in.
    assert me.get("/me").status_code == 200
    assert other_session.get("/me").status_code == 401
    assert desk.login(user["email"], "a brand new secret").get("/me").status_code == 200
    r = desk.anonymous().post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert r.status_code == 401


def test_repeated_failures_for_one_account_are_throttled(desk: Desk) -> None:
    _, user = desk.user("agent")
    anon = desk.anonymous()
    limit = desk.settings.login_max_failures
    for _ in range(limit):
        r = anon.post("/auth/login", json={"email": user["email"], "password": "wrong-password"})
        assert r.status_code == 401
    r = anon.post("/auth/login", json={"email": user["email"], "password": "wrong-password"})
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= desk.settings.login_window_seconds + 1
    assert r.headers["content-type"] == "application/problem+json"
    # Even the right password waits: guessing must stop paying off.
    r = anon.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert r.status_code == 429
    # Another account from the same address is not affected by this pair's lock.
    _, other = desk.user("agent")
    r = anon.post("/auth/login", json={"email": other["email"], "password": PASSWORD})
    assert r.status_code == 200


def test_failures_from_one_address_across_accounts_are_throttled(desk: Desk) -> None:
    anon = desk.anonymous()
    limit = desk.settings.login_max_failures_per_address
    for i in range(limit):
        r = anon.post("/auth/login", json={"email": f"nobody{i}@example.com", "password": "x" * 9})
        assert r.status_code == 401
    r = anon.post("/auth/login", json={"email": "another@example.com", "password": "x" * 9})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0


def test_other_peoples_failures_never_refuse_a_correct_password(desk: Desk) -> None:
    """An office behind one address: others' failures (unknown accounts, wrong passwords of
    other accounts) slow the failing attempts down, never a colleague's right password."""
    _, user = desk.user("agent")
    _, colleague = desk.user("agent")
    anon = desk.anonymous()
    for i in range(desk.settings.login_max_failures_per_address + 5):
        anon.post("/auth/login", json={"email": f"nobody{i}@example.com", "password": "x" * 9})
    for _ in range(desk.settings.login_max_failures + 2):
        anon.post("/auth/login", json={"email": colleague["email"], "password": "wrong-password"})
    r = anon.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    # The failing pair itself stays refused, even with the right password.
    r = anon.post("/auth/login", json={"email": colleague["email"], "password": PASSWORD})
    assert r.status_code == 429


def test_success_clears_the_failure_count(desk: Desk, db: Database) -> None:
    _, user = desk.user("agent")
    anon = desk.anonymous()
    for _ in range(desk.settings.login_max_failures - 1):
        anon.post("/auth/login", json={"email": user["email"], "password": "wrong-password"})
    assert desk.login(user["email"]).get("/me").status_code == 200
    assert db.scalar("SELECT count(*) FROM login_failure WHERE email = :e", e=user["email"]) == 0


def test_tokens_are_stored_hashed(desk: Desk, db: Database) -> None:
    _, user = desk.user("agent")
    r = desk.anonymous().post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    token = r.json()["access_token"]
    stored = db.scalar("SELECT count(*) FROM auth_token WHERE token_hash = :t", t=token)
    assert stored == 0
    hashes = db.scalar("SELECT count(*) FROM auth_token WHERE user_id = :u", u=user["id"])
    assert hashes >= 1
    pw = db.scalar("SELECT password_hash FROM user_account WHERE id = :u", u=user["id"])
    assert pw.startswith("$argon2id$") and PASSWORD not in pw


def test_a_login_token_never_looks_like_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """One random token in 16.7 million starts with the keys' prefix and would be looked for
    among the API keys, in vain, for its whole life: such a draw is taken again."""
    draws = iter(["spk_" + "a" * 39, "spk_" + "b" * 39, "Zz" + "c" * 41])
    monkeypatch.setattr(auth_service.secrets, "token_urlsafe", lambda _n: next(draws))
    assert auth_service.login_token() == "Zz" + "c" * 41
