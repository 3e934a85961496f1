"""Who sees what: another customer's ticket, and everything under it, is 404 and never listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Database
from tests.factories import Desk, problem

Call = Callable[[httpx.Client, int], httpx.Response]

FOLLOW_UP = {"subject": "Seguito", "description": "Il problema è tornato."}

# Every endpoint under /tickets/{id}, with a request that would succeed for the owner.
READS: dict[str, Call] = {
    "GET ticket": lambda c, i: c.get(f"/tickets/{i}"),
    "GET events": lambda c, i: c.get(f"/tickets/{i}/events"),
    "GET replies": lambda c, i: c.get(f"/tickets/{i}/replies"),
}
WRITES: dict[str, Call] = {
    "PATCH ticket": lambda c, i: c.patch(f"/tickets/{i}", json={"severity": "blocking"}),
    "POST status": lambda c, i: c.post(f"/tickets/{i}/status", json={"status": "closed"}),
    "POST reply": lambda c, i: c.post(f"/tickets/{i}/replies", json={"body": "Salve"}),
    "POST follow-up": lambda c, i: c.post(f"/tickets/{i}/follow-ups", json=FOLLOW_UP),
}
ENDPOINTS = {**READS, **WRITES}
# What the owner's colleague gets: customers may do all but edit.
OWNER_STATUS = {"PATCH ticket": 403, "POST reply": 201, "POST follow-up": 201}


def counts(db: Database) -> list[int]:
    return [
        db.scalar("SELECT count(*) FROM ticket"),
        db.scalar("SELECT count(*) FROM reply"),
        db.scalar("SELECT count(*) FROM ticket_event"),
    ]


@pytest.fixture
def foreign(desk: Desk) -> dict[str, Any]:
    """A resolved ticket of another customer, with a public reply and an internal note."""
    theirs = desk.customer(code="THEIRS", email="it@theirs.example")
    owner = desk.customer_user(theirs)
    agent = desk.agent()
    ticket = desk.ticket(owner, theirs, subject="Fattura riservata", description="Segreto.")
    desk.reply(agent, ticket, "Risposta pubblica sulla fattura.")
    desk.reply(agent, ticket, "Nota interna sulla fattura.", visibility="internal")
    return desk.move(agent, ticket, "resolved", solution="Fattura corretta.")


def test_another_customers_ticket_is_404_on_every_endpoint(
    desk: Desk, db: Database, foreign: dict[str, Any]
) -> None:
    mine = desk.customer(code="MINE")
    stranger = desk.customer_user(mine)
    before = desk.admin().get(f"/tickets/{foreign['id']}").json()
    before_counts = counts(db)
    for endpoint, call in ENDPOINTS.items():
        hidden = problem(call(stranger, foreign["id"]), 404)
        missing = problem(call(stranger, 999999), 404)
        # Exactly the answer for a ticket that does not exist: nothing to tell them apart.
        assert (hidden["title"], hidden["detail"]) == (missing["title"], missing["detail"]), (
            endpoint
        )
        assert "Fattura" not in str(hidden), endpoint
    after = desk.admin().get(f"/tickets/{foreign['id']}").json()
    # (The first read marked the ticket read for the admin: that is not the stranger's doing.)
    assert after | {"unread": before["unread"]} == before
    assert counts(db) == before_counts


def test_a_colleague_sees_and_acts_on_their_customers_ticket(
    desk: Desk, foreign: dict[str, Any]
) -> None:
    theirs = desk.admin().get("/customers", params={"code": "THEIRS"}).json()["items"][0]
    colleague = desk.customer_user(theirs)
    # In an order that keeps each call legal: follow up the resolved ticket, then reopen
    # it with a reply, then withdraw it.
    for endpoint in [*READS, "PATCH ticket", "POST follow-up", "POST reply", "POST status"]:
        r = ENDPOINTS[endpoint](colleague, foreign["id"])
        assert r.status_code == OWNER_STATUS.get(endpoint, 200), (endpoint, r.text)


def test_lists_and_searches_show_nothing_of_other_customers(
    desk: Desk, foreign: dict[str, Any]
) -> None:
    mine = desk.customer(code="MINE", email="ced@mine.example")
    stranger = desk.customer_user(mine)
    own = desk.ticket(stranger, mine, subject="La mia fattura", description="Fattura di ottobre.")
    theirs_id = foreign["customer_id"]
    for params in [
        {},
        {"q": "fattura"},
        {"q": "fatture"},
        {"q": "riservata"},
        {"q": "segreto"},
        {"q": "corretta"},
        {"q": "pubblica"},
        {"q": "interna"},
        {"customer_id": theirs_id},
        {"customer_id": theirs_id, "q": "fattura"},
        {"status": "resolved"},
        {"sort": "severity", "limit": 1},
    ]:
        r = stranger.get("/tickets", params=params)
        assert r.status_code == 200, (params, r.text)
        ids = [t["id"] for t in r.json()["items"]]
        assert foreign["id"] not in ids, params
        assert set(ids) <= {own["id"]}, params
        assert "riservata" not in r.text
    # Staff find both, and the internal note's words are no search term for anyone.
    agent = desk.agent()
    found = [t["id"] for t in agent.get("/tickets", params={"q": "fattura"}).json()["items"]]
    assert sorted(found) == sorted([own["id"], foreign["id"]])
    assert agent.get("/tickets", params={"q": "interna"}).json()["items"] == []


def test_customers_never_see_internal_notes_or_their_events(
    desk: Desk, foreign: dict[str, Any]
) -> None:
    theirs = desk.admin().get("/customers", params={"code": "THEIRS"}).json()["items"][0]
    owner = desk.customer_user(theirs)
    replies = owner.get(f"/tickets/{foreign['id']}/replies")
    events = owner.get(f"/tickets/{foreign['id']}/events")
    assert "Nota interna" not in replies.text
    assert [r["visibility"] for r in replies.json()["items"]] == ["public"]
    assert [e["kind"] for e in events.json()["items"]].count("replied") == 1
    staff_events = desk.agent().get(f"/tickets/{foreign['id']}/events").json()["items"]
    assert [e["kind"] for e in staff_events].count("replied") == 2


def test_a_read_only_key_reads_but_cannot_write(
    desk: Desk, db: Database, foreign: dict[str, Any]
) -> None:
    reader = desk.api_key("tickets:read")
    for endpoint, call in READS.items():
        r = call(reader, foreign["id"])
        assert r.status_code == 200, (endpoint, r.text)
    assert [t["id"] for t in reader.get("/tickets").json()["items"]] == [foreign["id"]]
    before = counts(db)
    for endpoint, call in WRITES.items():
        assert problem(call(reader, foreign["id"]), 403)["status"] == 403, endpoint
    body = {"customer_code": "THEIRS", "type": "technical", "subject": "x", "description": "y"}
    problem(reader.post("/tickets", json=body), 403)
    assert counts(db) == before


def test_a_key_without_ticket_scopes_gets_403_everywhere(
    desk: Desk, foreign: dict[str, Any]
) -> None:
    key = desk.api_key("customers:read", "customers:write", "orders:read", "orders:write")
    for name, call in ENDPOINTS.items():
        assert problem(call(key, foreign["id"]), 403)["status"] == 403, name
    problem(key.get("/tickets"), 403)
    problem(key.get("/tickets", params={"q": "fattura"}), 403)
    problem(key.get("/categories"), 403)
    body = {"customer_code": "THEIRS", "type": "technical", "subject": "x", "description": "y"}
    problem(key.post("/tickets", json=body), 403)


def test_without_credentials_everything_is_401(desk: Desk, foreign: dict[str, Any]) -> None:
    anonymous = desk.anonymous()
    for call in ENDPOINTS.values():
        r = call(anonymous, foreign["id"])
        problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    problem(anonymous.get("/tickets"), 401)
    problem(anonymous.post("/tickets", json={}), 401)
