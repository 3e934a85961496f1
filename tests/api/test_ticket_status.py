"""The state machine through HTTP: who may make which move, the 409, solutions, times, labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.factories import Desk, problem

STATUSES = [
    "open",
    "in_progress",
    "waiting_customer",
    "waiting_third_party",
    "improvement",
    "resolved",
    "closed",
]
WORK = ["open", "in_progress", "waiting_customer", "waiting_third_party", "improvement"]

# The contract's table, written out by hand: (from, to) -> who may make the move.
AGENT_MOVES = {
    ("open", "in_progress"),
    ("open", "waiting_customer"),
    ("in_progress", "waiting_customer"),
    ("in_progress", "waiting_third_party"),
    ("in_progress", "improvement"),
    ("waiting_customer", "in_progress"),
    ("waiting_third_party", "in_progress"),
    ("improvement", "in_progress"),
    ("resolved", "in_progress"),
    ("resolved", "closed"),
    *((s, "resolved") for s in WORK),
    *((s, "closed") for s in WORK),
}
CUSTOMER_MOVES = {("resolved", "open"), ("resolved", "closed"), *((s, "closed") for s in WORK)}


def allowed(moves: set[tuple[str, str]], frm: str) -> list[str]:
    return [to for to in STATUSES if (frm, to) in moves]


def caller(desk: Desk, who: str, customer: dict[str, Any]) -> httpx.Client:
    if who == "customer":
        return desk.customer_user(customer)
    if who == "agent":
        return desk.agent()
    if who == "admin":
        return desk.admin()
    return desk.api_key("tickets:read", "tickets:write")


@pytest.mark.parametrize("who", ["customer", "agent", "admin", "api_key"])
def test_every_move_is_allowed_or_refused_as_the_contract_says(desk: Desk, who: str) -> None:
    customer = desk.customer(email="ced@cliente.example")
    client = caller(desk, who, customer)
    moves = CUSTOMER_MOVES if who == "customer" else AGENT_MOVES
    ticket = desk.ticket(desk.admin(), customer)
    url = f"/tickets/{ticket['id']}/status"
    # Admins and keys make the agent's moves: each legal one is tried, and of the refusals
    # those back to open (resolved -> open is the customer's alone).
    exhaustive = who in ("customer", "agent")
    for frm in STATUSES:
        expected = allowed(moves, frm)
        for to in STATUSES:
            if not exhaustive and (frm, to) not in moves and to != "open":
                continue
            desk.set_status(ticket, frm)
            if to == frm:
                shown = client.get(f"/tickets/{ticket['id']}")
                assert shown.json()["allowed_transitions"] == expected, (who, frm)
            body: dict[str, Any] = {"status": to, "note": f"{frm} -> {to}"}
            if to == "resolved":
                body["solution"] = "Aggiornato il modulo di stampa."
            r = client.post(url, json=body)
            if (frm, to) in moves:
                assert r.status_code == 200, (who, frm, to, r.text)
                assert r.json()["status"] == to
                assert r.json()["allowed_transitions"] == allowed(moves, to)
            else:
                err = problem(r, 409)
                assert err["allowed"] == expected, (who, frm, to)
                assert err["type"].endswith("illegal-transition")
                assert client.get(f"/tickets/{ticket['id']}").json()["status"] == frm


def test_an_agent_works_a_ticket_from_open_to_closed(desk: Desk) -> None:
    customer = desk.customer()
    agent, agent_row = desk.user("agent", name="Anna Verdi")
    ticket = desk.ticket(desk.customer_user(customer), customer)
    path = [
        "in_progress",
        "waiting_customer",
        "in_progress",
        "waiting_third_party",
        "in_progress",
        "improvement",
        "in_progress",
        "resolved",
        "closed",
    ]
    for to in path:
        ticket = desk.move(agent, ticket, to)
        assert ticket["status"] == to
    assert ticket["assignee_id"] == agent_row["id"]
    assert ticket["allowed_transitions"] == []
    assert ticket["closed_at"] is not None and ticket["resolved_at"] is not None


def test_taking_in_charge_assigns_the_agent_when_unassigned(desk: Desk) -> None:
    customer = desk.customer()
    first, first_row = desk.user("agent")
    second, second_row = desk.user("agent")
    ticket = desk.ticket(desk.admin(), customer)
    assert ticket["assignee_id"] is None
    taken = desk.move(first, ticket, "in_progress")
    assert taken["assignee_id"] == first_row["id"]
    # Taken up again by someone else, it keeps its assignee.
    desk.move(first, taken, "waiting_third_party")
    again = desk.move(second, taken, "in_progress")
    assert again["assignee_id"] == first_row["id"]
    # An agent already named by staff stays the assignee.
    other = desk.ticket(desk.admin(), customer)
    r = desk.admin().patch(f"/tickets/{other['id']}", json={"assignee_id": second_row["id"]})
    assert r.status_code == 200, r.text
    assert desk.move(first, other, "in_progress")["assignee_id"] == second_row["id"]
    # Other moves assign nobody; an API key is nobody to assign.
    waiting = desk.move(first, desk.ticket(desk.admin(), customer), "waiting_customer")
    assert waiting["assignee_id"] is None
    key = desk.api_key("tickets:read", "tickets:write")
    by_key = desk.move(key, desk.ticket(desk.admin(), customer), "in_progress")
    assert by_key["assignee_id"] is None


@pytest.mark.parametrize("solution", [None, "", "   \n "])
def test_resolving_needs_a_solution(desk: Desk, solution: str | None) -> None:
    customer = desk.customer()
    agent = desk.agent()
    ticket = desk.move(agent, desk.ticket(agent, customer), "in_progress")
    body: dict[str, Any] = {"status": "resolved"}
    if solution is not None:
        body["solution"] = solution
    err = problem(agent.post(f"/tickets/{ticket['id']}/status", json=body), 422)
    assert err["errors"][0]["loc"] == ["body", "solution"]
    after = agent.get(f"/tickets/{ticket['id']}").json()
    assert (after["status"], after["solution"], after["resolved_at"]) == ("in_progress", None, None)


def test_resolution_and_closing_times(desk: Desk) -> None:
    customer = desk.customer()
    agent = desk.agent()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    resolved = desk.move(agent, ticket, "resolved", solution="  Aggiornare alla versione 5.2.  ")
    assert resolved["solution"] == "Aggiornare alla versione 5.2."
    resolved_at = datetime.fromisoformat(resolved["resolved_at"])
    assert resolved_at >= datetime.fromisoformat(ticket["created_at"])
    assert resolved["closed_at"] is None
    assert resolved["updated_at"] == resolved["resolved_at"]
    # Taken up again: the resolution time goes, and so does the current solution; the
    # timeline keeps it on the event of the resolution.
    again = desk.move(agent, resolved, "in_progress")
    assert (again["resolved_at"], again["solution"]) == (None, None)
    events = client.get(f"/tickets/{ticket['id']}/events").json()["items"]
    kept = [
        e["solution"] for e in events if e["kind"] == "status_changed" and e["to"] == "resolved"
    ]
    assert kept == ["Aggiornare alla versione 5.2."]
    second = desk.move(agent, again, "resolved", solution="Corretto il modello di stampa.")
    assert second["solution"] == "Corretto il modello di stampa."
    assert datetime.fromisoformat(second["resolved_at"]) > resolved_at
    # The customer closes it: closed_at set, the resolution kept.
    closed = desk.move(client, second, "closed")
    assert closed["resolved_at"] == second["resolved_at"]
    assert datetime.fromisoformat(closed["closed_at"]) >= datetime.fromisoformat(
        second["resolved_at"]
    )


def test_a_customer_reopens_or_withdraws_their_ticket(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    colleague = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    err = problem(
        client.post(f"/tickets/{ticket['id']}/status", json={"status": "in_progress"}), 409
    )
    assert err["allowed"] == ["closed"]
    resolved = desk.move(agent, ticket, "resolved")
    reopened = desk.move(colleague, resolved, "open")
    assert (reopened["status"], reopened["resolved_at"]) == ("open", None)
    withdrawn = desk.move(client, reopened, "closed", note="Risolto da solo, grazie.")
    assert withdrawn["status"] == "closed"


def test_a_closed_ticket_moves_no_more(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.move(agent, desk.ticket(client, customer), "closed")
    for c in (client, agent, desk.admin()):
        assert c.get(f"/tickets/{ticket['id']}").json()["allowed_transitions"] == []
        for to in STATUSES:
            body = {"status": to, "solution": "x"}
            assert (
                problem(c.post(f"/tickets/{ticket['id']}/status", json=body), 409)["allowed"] == []
            )


@pytest.mark.parametrize(
    "body",
    [
        {"status": "reopened"},
        {},
        {"status": "closed", "note": "n" * 2001},
        {"status": "closed", "assignee_id": 1},
        {"status": "resolved", "solution": "s" * 20_001},
        {"status": "resolved", "solution": "Fatto\x00"},
        {"status": "closed", "note": "Nota\x00"},
    ],
)
def test_bad_status_bodies_are_422(desk: Desk, body: dict[str, Any]) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.admin(), customer)
    problem(desk.admin().post(f"/tickets/{ticket['id']}/status", json=body), 422)
    assert desk.admin().get(f"/tickets/{ticket['id']}").json()["status"] == "open"


def test_api_keys_need_the_write_scope_to_move(desk: Desk) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.admin(), customer)
    reader = desk.api_key("tickets:read")
    assert reader.get(f"/tickets/{ticket['id']}").status_code == 200
    problem(reader.post(f"/tickets/{ticket['id']}/status", json={"status": "in_progress"}), 403)
    problem(desk.api_key("customers:read").get(f"/tickets/{ticket['id']}"), 403)
    assert desk.admin().get(f"/tickets/{ticket['id']}").json()["status"] == "open"


# --- /meta/statuses ------------------------------------------------------------------------

LABELS = {
    "it": {"open": "Aperto", "resolved": "Risolto", "closed": "Chiuso"},
    "es": {"open": "Abierto", "resolved": "Resuelto", "closed": "Cerrado"},
    "en": {"open": "Open", "resolved": "Resolved", "closed": "Closed"},
}


@pytest.mark.parametrize("lang", ["it", "es", "en"])
def test_meta_statuses_in_three_languages(desk: Desk, lang: str) -> None:
    client = desk.customer_user(desk.customer())
    r = client.get("/meta/statuses", params={"lang": lang})
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["lang"] == lang
    assert [s["value"] for s in meta["statuses"]] == STATUSES
    labels = {s["value"]: s["label"] for s in meta["statuses"]}
    assert LABELS[lang].items() <= labels.items()
    assert all(labels.values()) and len(set(labels.values())) == len(STATUSES)
    # The table of moves is the contract's, with who may make each move.
    table = {(m["from"], m["to"]): set(m["who"]) for m in meta["moves"]}
    for move in AGENT_MOVES | CUSTOMER_MOVES:
        who = {"agent"} if move in AGENT_MOVES else set()
        who |= {"customer"} if move in CUSTOMER_MOVES else set()
        assert who <= table[move], move
    assert set(table) == AGENT_MOVES | CUSTOMER_MOVES
    assert "system" in table[("waiting_customer", "resolved")]
    assert "system" in table[("resolved", "closed")]
    reply_moves = {(m["from"], m["to"]) for m in meta["reply_moves"]}
    assert reply_moves == {("waiting_customer", "in_progress"), ("resolved", "open")}


def test_meta_statuses_default_to_the_users_locale_and_refuse_other_languages(
    desk: Desk,
) -> None:
    client = desk.agent(locale="en")
    labels = {s["value"]: s["label"] for s in client.get("/meta/statuses").json()["statuses"]}
    assert labels["waiting_customer"] == "Waiting for the customer"
    italian = desk.agent(locale="it")
    labels = {s["value"]: s["label"] for s in italian.get("/meta/statuses").json()["statuses"]}
    assert labels["waiting_customer"] == "In attesa del cliente"
    problem(client.get("/meta/statuses", params={"lang": "fr"}), 422)
    problem(desk.anonymous().get("/meta/statuses"), 401)
