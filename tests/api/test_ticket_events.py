"""The timeline: what happened to a ticket, who did it, written with the change itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import Database
from tests.factories import Desk, problem


def timeline(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["kind"], e["from"], e["to"], e["actor"] and e["actor"]["role"]) for e in items]


def test_the_timeline_records_every_step_oldest_first(desk: Desk) -> None:
    customer = desk.customer()
    client, user = desk.user("customer", customer_id=customer["id"], name="Mario Rossi")
    agent, agent_row = desk.user("agent", name="Anna Verdi")
    _, other_agent = desk.user("agent", name="Carlos Ruiz")
    ticket = desk.ticket(client, customer)
    desk.move(agent, ticket, "in_progress", note="Preso in carico")
    public = desk.reply(agent, ticket, "Ci serve il file di log.")
    internal = desk.reply(agent, ticket, "Probabile bug della 5.1", visibility="internal")
    desk.move(agent, ticket, "waiting_customer")
    answer = desk.reply(client, ticket, "Allego il log.")
    r = agent.patch(f"/tickets/{ticket['id']}", json={"assignee_id": other_agent["id"]})
    assert r.status_code == 200, r.text
    desk.move(agent, ticket, "resolved", note="Corretto nella 5.2")
    desk.move(client, ticket, "closed")

    staff = agent.get(f"/tickets/{ticket['id']}/events")
    assert staff.status_code == 200, staff.text
    items = staff.json()["items"]
    assert timeline(items) == [
        ("created", None, None, "customer"),
        ("status_changed", "open", "in_progress", "agent"),
        ("assigned", None, None, "agent"),
        ("replied", None, None, "agent"),
        ("replied", None, None, "agent"),
        ("status_changed", "in_progress", "waiting_customer", "agent"),
        ("replied", None, None, "customer"),
        ("status_changed", "waiting_customer", "in_progress", "customer"),
        ("assigned", None, None, "agent"),
        ("status_changed", "in_progress", "resolved", "agent"),
        ("status_changed", "resolved", "closed", "customer"),
    ]
    assert items[0]["actor"] == {"id": user["id"], "name": "Mario Rossi", "role": "customer"}
    assert items[1]["actor"] == {"id": agent_row["id"], "name": "Anna Verdi", "role": "agent"}
    assert items[1]["note"] == "Preso in carico"
    assert items[2]["assignee_id"] == agent_row["id"]
    assert [items[i]["reply_id"] for i in (3, 4, 6)] == [public["id"], internal["id"], answer["id"]]
    assert items[8]["assignee_id"] == other_agent["id"]
    assert items[9]["note"] == "Corretto nella 5.2"
    assert [e["id"] for e in items] == sorted(e["id"] for e in items)
    times = [datetime.fromisoformat(e["created_at"]) for e in items]
    assert all(t.utcoffset() is not None for t in times)
    assert times == sorted(times)

    # The customer sees the same story without the internal note.
    seen = client.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert seen == [e for e in items if e.get("reply_id") != internal["id"]]
    assert len(seen) == len(items) - 1


def test_an_api_keys_moves_are_recorded_in_its_name(desk: Desk) -> None:
    customer = desk.customer(email="ced@cliente.example")
    key = desk.api_key("tickets:read", "tickets:write")
    ticket = desk.ticket(key, customer)
    desk.move(key, ticket, "closed", note="Duplicato")
    items = key.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert timeline(items) == [
        ("created", None, None, "agent"),
        ("status_changed", "open", "closed", "agent"),
    ]
    assert items[1]["actor"]["id"] is None
    assert items[1]["actor"]["name"].startswith("API key")


def test_refused_changes_leave_no_trace(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    url = f"/tickets/{ticket['id']}"
    problem(client.post(f"{url}/status", json={"status": "in_progress"}), 409)
    problem(agent.post(f"{url}/status", json={"status": "resolved"}), 422)
    problem(client.post(f"{url}/replies", json={"body": "x", "visibility": "internal"}), 403)
    problem(agent.patch(url, json={"assignee_id": 999999}), 422)
    assert timeline(agent.get(f"{url}/events").json()["items"]) == [
        ("created", None, None, "customer")
    ]


@pytest.fixture
def failing_timeline(db: Database) -> Iterator[None]:
    """A trigger that makes every insert into the timeline fail, dropped afterwards."""
    if db.dialect == "sqlite":
        db.execute(
            "CREATE TRIGGER test_no_events BEFORE INSERT ON ticket_event "
            "BEGIN SELECT RAISE(ABORT, 'timeline unavailable'); END"
        )
    else:
        db.execute(
            "CREATE FUNCTION test_no_events() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'timeline unavailable'; END $$"
        )
        db.execute(
            "CREATE TRIGGER test_no_events BEFORE INSERT ON ticket_event "
            "FOR EACH ROW EXECUTE FUNCTION test_no_events()"
        )
    try:
        yield
    finally:
        db.execute(
            "DROP TRIGGER IF EXISTS test_no_events"
            + ("" if db.dialect == "sqlite" else " ON ticket_event")
        )
        if db.dialect != "sqlite":
            db.execute("DROP FUNCTION IF EXISTS test_no_events()")


def test_a_change_whose_event_cannot_be_written_does_not_happen(
    desk: Desk, db: Database, request: pytest.FixtureRequest
) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent, agent_row = desk.user("agent")
    ticket = desk.ticket(client, customer)
    before = agent.get(f"/tickets/{ticket['id']}").json()
    request.getfixturevalue("failing_timeline")
    url = f"/tickets/{ticket['id']}"
    another = {"customer_code": customer["code"], "type": "technical", "subject": "Altro"}
    attempts = [
        agent.post(f"{url}/status", json={"status": "in_progress"}),
        agent.post(f"{url}/replies", json={"body": "Risposta"}),
        agent.patch(url, json={"assignee_id": agent_row["id"]}),
        client.post("/tickets", json={**another, "description": "Un'altra richiesta"}),
    ]
    for r in attempts:
        assert r.status_code >= 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "timeline unavailable" not in r.text
    # Nothing of any of them was kept: not the status, not the reply, not the assignee.
    # (The first read marked the ticket read for the agent: that is not one of the changes.)
    assert agent.get(url).json() | {"unread": before["unread"]} == before
    assert db.scalar("SELECT count(*) FROM reply") == 0
    assert db.scalar("SELECT count(*) FROM ticket") == 1
    assert db.scalar("SELECT count(*) FROM ticket_event") == 1


def test_a_customer_cannot_read_another_customers_timeline(desk: Desk) -> None:
    mine, theirs = desk.customer(), desk.customer()
    ticket = desk.ticket(desk.customer_user(theirs), theirs)
    problem(desk.customer_user(mine).get(f"/tickets/{ticket['id']}/events"), 404)
    problem(desk.agent().get("/tickets/999999/events"), 404)
