"""What a portal's ticket list needs in one call: rows, counts, unread markers, numbers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Database, LiveServer
from tests.factories import Desk, problem


class StatementCounter:
    """Counts the SQL statements the app's own engine sends (both databases)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> None:
        with self._lock:
            self.count += 1


@pytest.fixture
def statements(server: LiveServer) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engine = server.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def _world(desk: Desk, tickets: int) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    customer = desk.customer()
    agent, agent_row = desk.user("agent", name="Anna Verdi")
    client, client_row = desk.user("customer", customer_id=customer["id"], name="Mario Rossi")
    area = desk.category(name="Fatturazione")
    sub = desk.category(name="Firma digitale", parent=area)
    for i in range(tickets):
        ticket = desk.ticket(client, customer, category_id=sub["id"] if i % 2 else area["id"])
        if i % 3 == 0:
            desk.move(agent, ticket, "in_progress")
            desk.reply(agent, ticket, f"Risposta {i}")
            desk.reply(agent, ticket, "Nota interna", visibility="internal")
    return agent, client, agent_row, client_row


def test_statements_per_list_page_do_not_grow_with_the_page(
    desk: Desk, statements: StatementCounter
) -> None:
    agent, client, _, _ = _world(desk, 12)
    for caller in (agent, client):
        seen = {}
        for limit in (1, 4, 12):
            for sort in ("-created_at", "severity"):
                statements.count = 0
                r = caller.get("/tickets", params={"limit": limit, "sort": sort})
                assert r.status_code == 200, r.text
                assert len(r.json()["items"]) == limit
                seen[(limit, sort)] = statements.count
        # Whatever the page size, the same statements: no query per row.
        assert seen[(1, "-created_at")] == seen[(4, "-created_at")] == seen[(12, "-created_at")]
        assert seen[(1, "severity")] <= seen[(12, "severity")] <= seen[(1, "severity")] + 1
        # Authentication (token look-up) plus one statement for the page.
        assert seen[(12, "-created_at")] <= 4, seen


def test_list_items_carry_what_a_row_shows(desk: Desk) -> None:
    customer = desk.customer()
    agent, agent_row = desk.user("agent", name="Anna Verdi", email="anna@desk.example")
    client, client_row = desk.user("customer", customer_id=customer["id"], name="Mario Rossi")
    area = desk.category(name="Fatturazione")
    sub = desk.category(name="Firma digitale", parent=area)
    ticket = desk.ticket(client, customer, category_id=sub["id"])
    desk.move(agent, ticket, "in_progress")
    desk.reply(agent, ticket, "Controllo il certificato.")
    desk.reply(agent, ticket, "Nota per i colleghi.", visibility="internal")
    for caller, moves in ((client, ["closed"]), (agent, None)):
        [item] = caller.get("/tickets").json()["items"]
        assert item["requester"] == {"id": client_row["id"], "name": "Mario Rossi"}
        # A customer sees the agent's display name and id, nothing else of them.
        assert item["assignee"] == {"id": agent_row["id"], "name": "Anna Verdi"}
        assert "anna@desk.example" not in str(item)
        assert item["category"] == {"id": area["id"], "name": "Fatturazione"}
        assert item["sub_category"] == {"id": sub["id"], "name": "Firma digitale"}
        assert item["reply_count"] == 1  # public replies only
        assert item["last_activity"]["actor"] == {"id": agent_row["id"], "name": "Anna Verdi"}
        if moves is not None:
            assert item["allowed_transitions"] == moves
        else:
            assert "resolved" in item["allowed_transitions"]
    # An area without a sub-area: the area, no sub-category.
    other = desk.ticket(client, customer, category_id=area["id"])
    item = client.get("/tickets", params={"number": other["number"]}).json()["items"][0]
    assert (item["category"]["id"], item["sub_category"]) == (area["id"], None)


def test_unread_markers(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    agent = desk.agent()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    url = f"/tickets/{ticket['id']}"

    def unread(caller: Any, **params: Any) -> list[int]:
        items = caller.get("/tickets", params=params).json()["items"]
        return [t["id"] for t in items if t["unread"]]

    # Their own ticket is not news to the customer; it is to the agent.
    assert unread(client) == [] and unread(agent) == [ticket["id"]]
    assert [t["id"] for t in agent.get("/tickets", params={"unread": True}).json()["items"]] == [
        ticket["id"]
    ]
    # The detail says so too (as it was before this read), and the read marks it.
    assert agent.get(url).json()["unread"] is True
    assert unread(agent) == [] and agent.get(url).json()["unread"] is False
    assert agent.get("/tickets", params={"unread": True}).json()["items"] == []
    # Reading again writes nothing: the marker only moves forward.
    marker = db.scalar("SELECT read_at FROM read_marker")
    agent.get(url)
    assert db.scalar("SELECT read_at FROM read_marker") == marker
    assert db.scalar("SELECT count(*) FROM read_marker") == 1
    # The agent's public reply is news to the customer, an internal note is not.
    desk.reply(agent, ticket, "Ci stiamo lavorando.")
    assert unread(client) == [ticket["id"]]
    client.get(url)
    desk.reply(agent, ticket, "Solo per noi.", visibility="internal")
    assert unread(client) == []
    counts = client.get("/tickets/counts", params={"unread": True}).json()
    assert counts["total"] == 0
    # API keys have no markers: never unread, and the filter is refused.
    key = desk.api_key("tickets:read")
    assert unread(key) == []
    problem(key.get("/tickets", params={"unread": True}), 422)


def test_counts_per_status_with_the_list_filters(desk: Desk) -> None:
    customer = desk.customer()
    other = desk.customer()
    agent = desk.agent()
    client = desk.customer_user(customer)
    stranger = desk.customer_user(other)
    tickets = [desk.ticket(client, customer) for _ in range(4)]
    desk.ticket(stranger, other, severity="blocking")
    desk.move(agent, tickets[0], "in_progress")
    desk.move(agent, tickets[1], "resolved")
    r = client.get("/tickets/counts")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {
        "open": 2,
        "in_progress": 1,
        "waiting_customer": 0,
        "waiting_third_party": 0,
        "improvement": 0,
        "resolved": 1,
        "closed": 0,
    }
    assert body["total"] == 4
    # The list's filters apply; staff see every customer's.
    assert agent.get("/tickets/counts", params={"severity": "blocking"}).json()["total"] == 1
    assert agent.get("/tickets/counts").json()["counts"]["open"] == 3
    assert agent.get("/tickets/counts", params={"customer_id": customer["id"]}).json()["total"] == 4
    problem(client.get("/tickets/counts", params={"stauts": "open"}), 422)


def test_find_a_ticket_by_its_number(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    stranger = desk.customer_user(desk.customer())
    first = desk.ticket(client, customer)
    desk.ticket(client, customer)
    for params in (
        {"number": first["number"]},
        {"number": first["number"].lower()},
        {"q": f" {first['number']} "},
    ):
        items = client.get("/tickets", params=params).json()["items"]
        assert [t["id"] for t in items] == [first["id"]], params
    # Another customer's number finds nothing; a malformed one is a 422 naming the parameter.
    assert stranger.get("/tickets", params={"number": first["number"]}).json()["items"] == []
    body = problem(client.get("/tickets", params={"number": "fattura"}), 422)
    assert body["errors"][0]["loc"] == ["query", "number"]


def test_an_unknown_query_parameter_is_a_422_naming_it(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    # A mistyped filter would otherwise answer every ticket.
    for path in ("/tickets", f"/tickets/{ticket['id']}", "/me", "/categories", "/meta/statuses"):
        body = problem(client.get(path, params={"stauts": "open"}), 422)
        assert [e["loc"] for e in body["errors"]] == [["query", "stauts"]], path
    assert client.get("/tickets", params={"status": "open"}).status_code == 200


def test_if_none_match_on_ticket_reads_and_lists(desk: Desk) -> None:
    customer = desk.customer()
    agent = desk.agent()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    url = f"/tickets/{ticket['id']}"
    for path in (url, "/tickets"):
        first = client.get(path)
        etag = first.headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
    list_etag = client.get("/tickets").headers["etag"]
    detail_etag = client.get(url).headers["etag"]
    desk.reply(agent, ticket, "Una risposta.")
    assert client.get(url, headers={"If-None-Match": detail_etag}).status_code == 200
    assert client.get("/tickets", headers={"If-None-Match": list_etag}).status_code == 200


def test_the_timeline_and_replies_come_in_keyset_pages(desk: Desk) -> None:
    customer = desk.customer()
    agent = desk.agent()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    for i in range(5):
        desk.reply(agent if i % 2 else client, ticket, f"Messaggio {i}")
    for path in (f"/tickets/{ticket['id']}/events", f"/tickets/{ticket['id']}/replies"):
        whole = client.get(path).json()
        assert whole["next_cursor"] is None
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = client.get(path, params=params).json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [item["id"] for item in whole["items"]], path
        etag = client.get(path).headers["etag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        problem(client.get(path, params={"cursor": "bm9wZQ"}), 400)
    assert len(client.get(f"/tickets/{ticket['id']}/replies").json()["items"]) == 5


def test_a_reply_honours_if_match(desk: Desk) -> None:
    customer = desk.customer()
    agent = desk.agent()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    url = f"/tickets/{ticket['id']}"
    seen = client.get(url).headers["etag"]
    desk.reply(agent, ticket, "Nel frattempo rispondo io.")
    stale = client.post(f"{url}/replies", json={"body": "Ok"}, headers={"If-Match": seen})
    problem(stale, 412)
    fresh = client.get(url).headers["etag"]
    r = client.post(f"{url}/replies", json={"body": "Ok"}, headers={"If-Match": fresh})
    assert r.status_code == 201, r.text
