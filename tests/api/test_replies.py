"""Replies (public answers, internal notes, what they do to the status) and follow-ups."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Database
from tests.factories import Desk, problem


def bodies(items: list[dict[str, Any]]) -> list[str]:
    return [r["body"] for r in items]


def test_an_agent_answers_and_the_customer_reads_it(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent, agent_row = desk.user("agent", name="Anna Verdi")
    ticket = desk.move(agent, desk.ticket(client, customer), "in_progress")
    r = agent.post(
        f"/tickets/{ticket['id']}/replies",
        json={"body": "Può inviarci uno screenshot dell'errore?"},
    )
    assert r.status_code == 201, r.text
    reply = r.json()
    assert r.headers["location"] == f"/api/v1/tickets/{ticket['id']}/replies/{reply['id']}"
    assert reply | {"id": 0, "created_at": ""} == {
        "id": 0,
        "ticket_id": ticket["id"],
        "author_id": agent_row["id"],
        "author_name": "Anna Verdi",
        "author_role": "agent",
        "body": "Può inviarci uno screenshot dell'errore?",
        "visibility": "public",
        "channel": "portal",
        "created_at": "",
        "attachments": [],
    }
    listed = client.get(f"/tickets/{ticket['id']}/replies")
    assert listed.status_code == 200
    assert listed.json() == {"items": [reply], "next_cursor": None}
    # An agent's reply moves nothing.
    assert client.get(f"/tickets/{ticket['id']}").json()["status"] == "in_progress"


def test_internal_notes_are_for_staff_only(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    desk.reply(agent, ticket, "Buongiorno, verifichiamo subito.")
    desk.reply(agent, ticket, "Cliente moroso, sentire l'amministrazione.", visibility="internal")
    desk.reply(client, ticket, "Grazie.")
    staff_view = bodies(desk.admin().get(f"/tickets/{ticket['id']}/replies").json()["items"])
    assert staff_view == [
        "Buongiorno, verifichiamo subito.",
        "Cliente moroso, sentire l'amministrazione.",
        "Grazie.",
    ]
    customer_view = client.get(f"/tickets/{ticket['id']}/replies")
    assert bodies(customer_view.json()["items"]) == ["Buongiorno, verifichiamo subito.", "Grazie."]
    assert "moroso" not in customer_view.text
    # A customer cannot write one.
    note = {"body": "Nota riservata", "visibility": "internal"}
    problem(client.post(f"/tickets/{ticket['id']}/replies", json=note), 403)
    assert db.scalar("SELECT count(*) FROM reply") == 3


def test_a_customers_reply_to_a_ticket_waiting_for_them_moves_it_back_to_work(desk: Desk) -> None:
    customer = desk.customer()
    client, user = desk.user("customer", customer_id=customer["id"])
    agent = desk.agent()
    ticket = desk.move(agent, desk.ticket(client, customer), "waiting_customer")
    # The agent's own answer while waiting moves nothing.
    desk.reply(agent, ticket, "Le abbiamo scritto ieri, attendiamo i dati.")
    assert agent.get(f"/tickets/{ticket['id']}").json()["status"] == "waiting_customer"
    r = client.post(f"/tickets/{ticket['id']}/replies", json={"body": "Ecco i dati richiesti."})
    assert r.status_code == 201
    assert r.headers["etag"] == client.get(f"/tickets/{ticket['id']}").headers["etag"]
    assert client.get(f"/tickets/{ticket['id']}").json()["status"] == "in_progress"
    [change] = [
        e
        for e in agent.get(f"/tickets/{ticket['id']}/events").json()["items"]
        if e["kind"] == "status_changed" and e["from"] == "waiting_customer"
    ]
    assert change["to"] == "in_progress"
    assert change["actor"] == {"id": user["id"], "name": user["name"], "role": "customer"}


def test_a_customers_reply_reopens_a_resolved_ticket(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.move(agent, desk.ticket(client, customer), "resolved")
    # An internal note on a resolved ticket moves nothing.
    desk.reply(agent, ticket, "Verificato con il cliente.", visibility="internal")
    assert agent.get(f"/tickets/{ticket['id']}").json()["status"] == "resolved"
    desk.reply(client, ticket, "Il problema si ripresenta.")
    reopened = client.get(f"/tickets/{ticket['id']}").json()
    assert (reopened["status"], reopened["resolved_at"]) == ("open", None)


@pytest.mark.parametrize("status", ["open", "in_progress", "waiting_third_party", "improvement"])
def test_a_customers_reply_elsewhere_moves_nothing(desk: Desk, status: str) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    desk.set_status(ticket, status)
    desk.reply(client, ticket, "Aggiungo un dettaglio.")
    assert client.get(f"/tickets/{ticket['id']}").json()["status"] == status


def test_a_closed_ticket_takes_no_reply(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.move(client, desk.ticket(client, customer), "closed")
    for c, visibility in ((client, "public"), (agent, "public"), (agent, "internal")):
        body = {"body": "Ancora una cosa", "visibility": visibility}
        err = problem(c.post(f"/tickets/{ticket['id']}/replies", json=body), 409)
        assert "follow-up" in err["detail"]
    assert db.scalar("SELECT count(*) FROM reply") == 0
    assert client.get(f"/tickets/{ticket['id']}").json()["status"] == "closed"


def test_replies_come_oldest_first(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    said = [f"Messaggio {i}" for i in range(5)]
    for i, text in enumerate(said):
        desk.reply(client if i % 2 else agent, ticket, text)
    items = client.get(f"/tickets/{ticket['id']}/replies").json()["items"]
    assert bodies(items) == said
    assert [r["created_at"] for r in items] == sorted(r["created_at"] for r in items)


def test_an_api_key_replies_in_its_own_name(desk: Desk) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.admin(), customer)
    key = desk.api_key("tickets:read", "tickets:write")
    reply = desk.reply(key, ticket, "Sincronizzato dal CRM.")
    assert reply["author_id"] is None
    assert reply["author_role"] == "agent" and reply["author_name"].startswith("API key")
    reader = desk.api_key("tickets:read")
    assert bodies(reader.get(f"/tickets/{ticket['id']}/replies").json()["items"]) == [
        "Sincronizzato dal CRM."
    ]
    problem(reader.post(f"/tickets/{ticket['id']}/replies", json={"body": "No"}), 403)


@pytest.mark.parametrize(
    "body",
    [
        {"body": ""},
        {"body": "  \n "},
        {"body": "x" * 20_001},
        {"body": "Ecco\x00"},
        {"body": "ok", "visibility": "secret"},
        {"visibility": "public"},
        {"body": "ok", "author_id": 1},
    ],
)
def test_bad_replies_are_422(desk: Desk, db: Database, body: dict[str, Any]) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.admin(), customer)
    problem(desk.admin().post(f"/tickets/{ticket['id']}/replies", json=body), 422)
    assert db.scalar("SELECT count(*) FROM reply") == 0


def test_a_long_reply_is_kept_whole(desk: Desk) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.admin(), customer)
    text = "  riga uno\n\n  riga due  " + "x" * 19_976
    assert len(text) == 20_000
    assert desk.reply(desk.admin(), ticket, text)["body"] == text


# --- follow-ups ----------------------------------------------------------------------------


def test_a_follow_up_continues_a_closed_ticket(desk: Desk) -> None:
    customer = desk.customer(email="ced@cliente.example")
    client, user = desk.user("customer", customer_id=customer["id"])
    agent = desk.agent()
    area = desk.category("technical", "Magazzino")
    parent = desk.ticket(client, customer, category_id=area["id"], severity="blocking")
    desk.move(agent, parent, "resolved")
    parent = desk.move(client, parent, "closed")
    body = {"subject": "Di nuovo l'inventario", "description": "Dopo l'aggiornamento non torna."}
    r = client.post(f"/tickets/{parent['id']}/follow-ups", json=body)
    assert r.status_code == 201, r.text
    child = r.json()
    assert r.headers["location"] == f"/api/v1/tickets/{child['id']}"
    assert child["id"] != parent["id"] and child["number"] != parent["number"]
    assert child["parent_id"] == parent["id"]
    # Customer, type and category default from the followed ticket; the rest is new.
    assert (child["customer_code"], child["type"], child["category_id"]) == (
        customer["code"],
        "technical",
        area["id"],
    )
    assert (child["status"], child["severity"], child["requester_id"]) == (
        "open",
        "normal",
        user["id"],
    )
    assert child["subject"] == "Di nuovo l'inventario"
    assert client.get(f"/tickets/{child['id']}").json() == child
    # The followed ticket stays as it was.
    assert client.get(f"/tickets/{parent['id']}").json()["status"] == "closed"


def test_a_follow_up_of_a_resolved_ticket_and_its_overrides(desk: Desk) -> None:
    customer = desk.customer()
    agent = desk.agent()
    order = desk.order(customer)
    area = desk.category("order", "Spedizione")
    billing = desk.category("administrative", "Duplicato fattura")
    parent = desk.ticket(
        agent, customer, type="order", order_id=order["id"], category_id=area["id"]
    )
    desk.move(agent, parent, "resolved")
    same = agent.post(
        f"/tickets/{parent['id']}/follow-ups",
        json={"subject": "Ancora la spedizione", "description": "Il corriere non è passato."},
    )
    assert same.status_code == 201, same.text
    assert (same.json()["order_id"], same.json()["category_id"]) == (order["id"], area["id"])
    # Another type drops the parent's category (it belongs to the parent's type).
    other = agent.post(
        f"/tickets/{parent['id']}/follow-ups",
        json={"subject": "Fattura", "description": "Serve il duplicato.", "type": "administrative"},
    )
    assert other.status_code == 201, other.text
    assert (other.json()["type"], other.json()["category_id"]) == ("administrative", None)
    chosen = agent.post(
        f"/tickets/{parent['id']}/follow-ups",
        json={
            "subject": "Fattura",
            "description": "Serve il duplicato.",
            "type": "administrative",
            "category_id": billing["id"],
            "severity": "blocking",
        },
    )
    assert chosen.status_code == 201, chosen.text
    assert (chosen.json()["category_id"], chosen.json()["severity"]) == (billing["id"], "blocking")
    wrong = {"subject": "x", "description": "y", "category_id": billing["id"]}
    problem(agent.post(f"/tickets/{parent['id']}/follow-ups", json=wrong), 422)
    # A follow-up stays with the customer of its ticket.
    elsewhere = {"subject": "x", "description": "y", "customer_code": desk.customer()["code"]}
    problem(agent.post(f"/tickets/{parent['id']}/follow-ups", json=elsewhere), 422)


@pytest.mark.parametrize("status", ["open", "in_progress", "waiting_customer", "improvement"])
def test_a_ticket_still_in_work_is_not_followed_up(desk: Desk, db: Database, status: str) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    desk.set_status(ticket, status)
    body = {"subject": "Seguito", "description": "Altro problema"}
    problem(client.post(f"/tickets/{ticket['id']}/follow-ups", json=body), 409)
    assert db.scalar("SELECT count(*) FROM ticket") == 1


def test_follow_ups_need_the_write_scope_and_honour_idempotency(desk: Desk, db: Database) -> None:
    customer = desk.customer(phone="+39 0541 123456")
    ticket = desk.ticket(desk.admin(), customer)
    desk.set_status(ticket, "closed")
    body = {"subject": "Seguito", "description": "Altro problema"}
    url = f"/tickets/{ticket['id']}/follow-ups"
    problem(desk.api_key("tickets:read").post(url, json=body), 403)
    # Read-only keys are refused before the ticket's state is even considered.
    desk.set_status(ticket, "open")
    problem(desk.api_key("tickets:read").post(url, json=body), 403)
    desk.set_status(ticket, "closed")
    key = desk.api_key("tickets:read", "tickets:write")
    headers = {"Idempotency-Key": "fu-1"}
    first = key.post(url, json=body, headers=headers)
    again = key.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    problem(key.post(url, json={**body, "subject": "Altro"}, headers=headers), 422)
    assert db.scalar("SELECT count(*) FROM ticket") == 2
