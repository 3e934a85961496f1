"""``PATCH /me`` with a new e-mail: it takes effect only through the link sent to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Database
from tests.factories import PASSWORD, Desk, problem, unique
from tests.smtp import SmtpSink, dispatch

LINK = re.compile(r"http://sportello\.test/api/v1/auth/email-confirmations/([A-Za-z0-9_-]+)")


def ask(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.patch("/me", json={"email": email, "current_password": password})


def token_from(mailbox: SmtpSink, address: str) -> str:
    mail = mailbox.one_to(address)
    found = LINK.search(mail.text)
    assert found, mail.text
    assert found.group(0) in mail.html
    return found.group(1)


def test_the_new_address_is_used_only_after_its_link_is_opened(
    desk: Desk, mailbox: SmtpSink, db: Database, client: httpx.Client
) -> None:
    user, me = desk.user("agent", locale="it")
    new = unique("nuovo") + "@example.com"
    r = ask(user, new.upper())
    assert r.status_code == 200, r.text
    assert r.json()["email"] == me["email"]  # not yet
    assert mailbox.messages == []  # nothing sent inside the request
    dispatch(db)
    mail = mailbox.one_to(new)
    assert mail.subject == "Conferma il tuo nuovo indirizzo e-mail"
    token = token_from(mailbox, new)
    assert mailbox.to(me["email"]) == []

    r = client.get(f"/auth/email-confirmations/{token}")
    assert r.status_code == 200, r.text
    assert r.json() == {"email": new}
    assert user.get("/me").json()["email"] == new  # the session goes on
    assert desk.login(new).get("/me").status_code == 200
    old = client.post("/auth/login", json={"email": me["email"], "password": PASSWORD})
    assert old.status_code == 401
    # A link works once.
    problem(client.post("/auth/email-confirmations", json={"token": token}), 404)


def test_the_change_needs_the_current_password_and_a_free_address(desk: Desk) -> None:
    user, _ = desk.user("agent")
    _, other = desk.user("agent")
    problem(user.patch("/me", json={"email": "x@example.com"}), 422)
    problem(ask(user, "x@example.com", password="wrong password"), 422)
    problem(ask(user, other["email"]), 409)
    problem(ask(user, "not an address"), 422)


def test_a_new_request_replaces_the_old_and_links_expire(
    desk: Desk, mailbox: SmtpSink, db: Database, client: httpx.Client
) -> None:
    user, me = desk.user("customer", customer_id=desk.customer()["id"], locale="es")
    first, second = unique("a") + "@example.com", unique("b") + "@example.com"
    assert ask(user, first).status_code == 200
    assert ask(user, second).status_code == 200
    dispatch(db)
    old_token, new_token = token_from(mailbox, first), token_from(mailbox, second)
    assert "Confirme su nueva dirección" in mailbox.one_to(second).subject
    problem(client.get(f"/auth/email-confirmations/{old_token}"), 404)
    db.execute(
        "UPDATE email_change SET expires_at = :at",
        at=desk.db_time(datetime.now(UTC) - timedelta(minutes=1)),
    )
    problem(client.get(f"/auth/email-confirmations/{new_token}"), 404)
    assert user.get("/me").json()["email"] == me["email"]


def test_an_address_taken_meanwhile_is_409_and_unknown_tokens_are_404(
    desk: Desk, mailbox: SmtpSink, db: Database, client: httpx.Client
) -> None:
    user, _ = desk.user("agent")
    wanted = unique("conteso") + "@example.com"
    assert ask(user, wanted).status_code == 200
    dispatch(db)
    token = token_from(mailbox, wanted)
    desk.user("agent", email=wanted)
    problem(client.get(f"/auth/email-confirmations/{token}"), 409)
    problem(client.get("/auth/email-confirmations/" + "x" * 43), 404)
    problem(client.post("/auth/email-confirmations", json={"token": "short"}), 404)


def test_a_new_password_or_a_deactivation_cancels_a_pending_change(
    desk: Desk, mailbox: SmtpSink, db: Database, client: httpx.Client
) -> None:
    """Whoever knew the old password may have asked for the change: a new password (set
    by the user or by staff), a deactivation or an address set by staff ends it, as it
    ends the sessions, so the link cannot take the account's login afterwards."""
    customer = desk.customer()
    admin, agent = desk.admin(), desk.agent()
    cases = {
        "own new password": lambda u, me: u.patch(
            "/me", json={"password": "a fresh password", "current_password": PASSWORD}
        ),
        "password set by an admin": lambda u, me: admin.patch(
            f"/users/{me['id']}", json={"password": "a fresh password"}
        ),
        "password set by an agent": lambda u, me: agent.patch(
            f"/users/{me['id']}", json={"password": "a fresh password"}
        ),
        "deactivation": lambda u, me: admin.patch(f"/users/{me['id']}", json={"is_active": False}),
        "address set by staff": lambda u, me: agent.patch(
            f"/users/{me['id']}", json={"email": unique("staff") + "@example.com"}
        ),
    }
    for case, reset in cases.items():
        user, me = desk.user("customer", customer_id=customer["id"])
        intruder = unique("intruso") + "@evil.example"
        assert ask(user, intruder).status_code == 200, case
        dispatch(db)
        token = token_from(mailbox, intruder)
        r = reset(user, me)
        assert r.status_code == 200, (case, r.text)
        problem(client.get(f"/auth/email-confirmations/{token}"), 404)
        assert db.scalar("SELECT count(*) FROM email_change WHERE user_id = :u", u=me["id"]) == 0
        assert admin.get(f"/users/{me['id']}").json()["email"] != intruder, case
    # A change asked together with the new password is the one that stays pending.
    user, me = desk.user("customer", customer_id=customer["id"])
    assert ask(user, unique("vecchio") + "@example.com").status_code == 200
    wanted = unique("nuovo") + "@example.com"
    both = user.patch(
        "/me",
        json={"email": wanted, "password": "a fresh password", "current_password": PASSWORD},
    )
    assert both.status_code == 200, both.text
    assert db.scalar("SELECT new_email FROM email_change WHERE user_id = :u", u=me["id"]) == wanted
