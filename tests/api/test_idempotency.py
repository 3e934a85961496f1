"""Idempotency-Key on every creating POST: a retry gets the first answer, replayed, and
creates nothing; the same key with another request is 422."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Database
from tests.factories import Desk, problem, unique
from tests.samples import png

Setup = Callable[[Desk], tuple[httpx.Client, str, dict[str, Any], str]]
"""Builds the world; returns the caller, the path, a body, and the table whose rows count."""


def _customer(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    return desk.admin(), "/customers", {"code": unique("IDEM"), "name": "Cliente"}, "customer"


def _user(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    customer = desk.customer()
    body = {
        "email": unique("idem") + "@example.com",
        "name": "Nuovo Utente",
        "password": "una-password-lunga",
        "role": "customer",
        "customer_id": customer["id"],
    }
    return desk.admin(), "/users", body, "user_account"


def _order(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    customer = desk.customer()
    body = {"customer_id": customer["id"], "number": unique("ORD-"), "kind": "purchase"}
    return desk.admin(), "/orders", body, "customer_order"


def _article(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    body = {
        "title": "Come rinnovare il certificato",
        "body": "Aprire le impostazioni.",
        "locale": "it",
    }
    return desk.agent(), "/kb/articles", body, "kb_article"


def _category(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    return desk.admin(), "/categories", {"type": "technical", "name": unique("Area ")}, "category"


def _reply(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    customer = desk.customer()
    ticket = desk.ticket(desk.customer_user(customer), customer)
    body = {"body": "Stiamo verificando.", "visibility": "public"}
    return desk.agent(), f"/tickets/{ticket['id']}/replies", body, "reply"


def _status(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    customer = desk.customer()
    ticket = desk.ticket(desk.customer_user(customer), customer)
    return (
        desk.agent(),
        f"/tickets/{ticket['id']}/status",
        {"status": "in_progress", "note": "Presa"},
        "ticket_event",
    )


def _follow_up(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    desk.set_status(ticket, "closed")
    body = {"subject": "Di nuovo", "description": "Il problema è tornato."}
    return client, f"/tickets/{ticket['id']}/follow-ups", body, "ticket"


def _webhook(desk: Desk) -> tuple[httpx.Client, str, dict[str, Any], str]:
    body = {"url": "https://hooks.example.com/in", "kinds": ["created"], "description": "CRM"}
    return desk.admin(), "/webhooks", body, "webhook"


@pytest.mark.parametrize(
    "setup",
    [_customer, _user, _order, _article, _category, _reply, _status, _follow_up, _webhook],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_retried_creation_is_answered_once(desk: Desk, db: Database, setup: Setup) -> None:
    client, path, body, table = setup(desk)
    before = db.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post(path, json=body, headers=headers)
    assert first.status_code in (200, 201), first.text
    created = db.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608
    assert created > before
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers.get("location") == first.headers.get("location")
    assert db.scalar(f"SELECT count(*) FROM {table}") == created, "nothing new"  # noqa: S608

    # The same key with another body (one text changed) is refused, and creates nothing.
    text = next(k for k, v in body.items() if isinstance(v, str) and k not in FIXED)
    changed = {**body, text: body[text] + "B"}
    err = problem(client.post(path, json=changed, headers=headers), 422)
    assert err["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert db.scalar(f"SELECT count(*) FROM {table}") == created  # noqa: S608


FIXED = {"role", "kind", "type", "visibility", "locale", "status", "email", "url"}


def test_a_retried_upload_stores_the_files_once(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    files = [("files", ("schermata.png", png("idem"), "image/png"))]
    headers = {"Idempotency-Key": "upload-1"}
    path = f"/tickets/{ticket['id']}/attachments"
    first = client.post(path, files=files, headers=headers)
    again = client.post(path, files=files, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert db.scalar("SELECT count(*) FROM attachment") == 1
    other = [("files", ("altra.png", png("other"), "image/png"))]
    problem(client.post(path, files=other, headers=headers), 422)


def test_a_replayed_ticket_says_so(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    body = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Stampa bloccata",
        "description": "La stampa non parte.",
    }
    first = client.post("/tickets", json=body, headers={"Idempotency-Key": "t-1"})
    again = client.post("/tickets", json=body, headers={"Idempotency-Key": "t-1"})
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    # The key of a ticket is not reusable for another kind of creation.
    r = desk.admin().post(
        "/customers", json={"code": "X1", "name": "X"}, headers={"Idempotency-Key": "t-1"}
    )
    assert r.status_code == 201, "keys belong to their caller: the admin's own key space"
    err = problem(
        client.post(
            f"/tickets/{first.json()['id']}/replies",
            json={"body": "x"},
            headers={"Idempotency-Key": "t-1"},
        ),
        422,
    )
    assert err["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_refused_creation_leaves_the_key_free(desk: Desk, db: Database) -> None:
    admin = desk.admin()
    code = unique("DUP")
    assert admin.post("/customers", json={"code": code, "name": "A"}).status_code == 201
    headers = {"Idempotency-Key": "dup-1"}
    problem(admin.post("/customers", json={"code": code, "name": "A"}, headers=headers), 409)
    ok = admin.post("/customers", json={"code": code + "B", "name": "A"}, headers=headers)
    assert ok.status_code == 201 and "Idempotent-Replayed" not in ok.headers
