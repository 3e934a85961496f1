"""Round trips per endpoint, pinned on both databases.

Each request takes one connection from the pool (no pre-ping: that was a ``BEGIN; ;
ROLLBACK`` per checkout), runs in one transaction (authentication and the change together),
and sends a fixed number of statements, whatever the size of the page, of the table or of
the conversation. A change that adds a query to one of these endpoints fails here: if it is
worth its round trip, raise the pin and say why in the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests import samples
from tests.conftest import Database
from tests.factories import Desk
from tests.statements import Recorded, StatementLog

PUBLIC_REPLY = {"body": "Ho provato, la stampa resta bloccata.", "visibility": "public"}


def measure(statements: StatementLog, call: Callable[[], httpx.Response]) -> Recorded:
    with statements.request() as log:
        r = call()
    assert r.status_code < 300, r.text
    assert log.checkouts == 1, log.kinds()
    assert log.transactions == 1, log.kinds()
    return log


def by_dialect(db: Database, *, postgresql: int, sqlite: int) -> int:
    return postgresql if db.dialect == "postgresql" else sqlite


@pytest.fixture
def world(desk: Desk) -> dict[str, Any]:
    customer = desk.customer()
    user = desk.customer_user(customer)
    return {"customer": customer, "user": user, "agent": desk.agent()}


def test_the_pool_does_not_ping_each_connection(statements: StatementLog) -> None:
    assert not statements.pre_ping


def test_a_ticket_read_is_one_transaction_of_two_statements(
    desk: Desk, statements: StatementLog, world: dict[str, Any]
) -> None:
    """The caller, the ticket (with its customer): no query for files it does not have."""
    ticket = desk.ticket(world["user"], world["customer"])
    log = measure(statements, lambda: world["user"].get(f"/tickets/{ticket['id']}"))
    assert log.kinds() == ["SELECT user_account", "SELECT ticket"]


def test_a_ticket_with_files_costs_one_statement_more(
    statements: StatementLog, world: dict[str, Any]
) -> None:
    r = world["user"].post(
        "/tickets",
        data={
            "payload": json.dumps(
                {
                    "customer_code": world["customer"]["code"],
                    "type": "technical",
                    "subject": "Stampa",
                    "description": "Allego la schermata.",
                }
            )
        },
        files=[("files", ("schermata.png", samples.png("s"), "image/png"))],
    )
    assert r.status_code == 201, r.text
    log = measure(statements, lambda: world["agent"].get(f"/tickets/{r.json()['id']}"))
    # A first read by someone else than the last to act records their read marker. Staff
    # also get the ticket's tags and SLA clocks (at most one statement each of these).
    kinds = log.kinds()
    assert kinds[:4] == [
        "SELECT user_account",
        "SELECT ticket",
        "INSERT INTO read_marker",
        "SELECT attachment",
    ]
    extra = kinds[4:]
    assert len(extra) == len(set(extra)) <= 3, kinds
    assert all(k in ("SELECT tag", "SELECT ticket_sla", "SELECT sla_policy") for k in extra), kinds


@pytest.mark.parametrize(
    "who, params, searches",
    [
        ("user", {}, False),
        ("agent", {"status": "open"}, False),
        ("agent", {"sort": "-updated_at", "type": "technical"}, False),
        ("agent", {"q": "stampa"}, True),
    ],
)
def test_a_list_page_costs_the_same_whatever_its_size(
    desk: Desk,
    statements: StatementLog,
    world: dict[str, Any],
    who: str,
    params: dict[str, str],
    searches: bool,
) -> None:
    client = world[who]
    desk.ticket(world["user"], world["customer"])
    first = measure(statements, lambda: client.get("/tickets", params=params))
    for _ in range(11):
        desk.ticket(world["user"], world["customer"])
    full = measure(statements, lambda: client.get("/tickets", params={**params, "limit": "5"}))
    assert full.count == first.count == (3 if searches else 2), full.kinds()
    r = client.get("/tickets", params={**params, "limit": "5"})
    cursor = r.json()["next_cursor"]
    assert cursor
    page = measure(statements, lambda: client.get("/tickets", params={**params, "cursor": cursor}))
    assert page.count == first.count


@pytest.mark.parametrize(
    "who, params", [("user", {}), ("agent", {}), ("agent", {"type": "technical"})]
)
def test_the_counts_per_status_are_one_statement(
    desk: Desk, statements: StatementLog, world: dict[str, Any], who: str, params: dict[str, str]
) -> None:
    for _ in range(3):
        desk.ticket(world["user"], world["customer"])
    log = measure(statements, lambda: world[who].get("/tickets/counts", params=params))
    # The caller, then one grouped count.
    assert log.count == 2, log.kinds()


def test_a_search_that_matches_nothing_reads_no_ticket(
    db: Database, desk: Desk, statements: StatementLog, world: dict[str, Any]
) -> None:
    desk.ticket(world["user"], world["customer"])
    log = measure(statements, lambda: world["agent"].get("/tickets", params={"q": "zanzibar"}))
    # The caller, then the index alone: no ticket is read. On PostgreSQL a search first
    # probes the index entries of the newest tickets, at most WALK of them by primary key
    # (services/tickets/search.py), and asks the index alone when those match too few.
    assert log.count == by_dialect(db, postgresql=3, sqlite=2), log.kinds()
    assert "SELECT ticket" not in log.kinds()


def test_a_creation(db: Database, statements: StatementLog, world: dict[str, Any]) -> None:
    """The caller; the customer with (PostgreSQL) the ticket's number and whether the desk
    has webhooks, routing rules or SLA policies at all, in one statement; the ticket (its
    last public activity in the row), its index entry, the outbox (a confirmation with its
    public link), the timeline, the report facts: nothing read back, not even the answer's
    row (its names and areas are those the session already holds)."""
    body = {
        "customer_code": world["customer"]["code"],
        "type": "technical",
        "subject": "La stampa della fattura non parte",
        "description": "Dal menu Vendite la stampa resta bloccata.",
    }
    log = measure(statements, lambda: world["user"].post("/tickets", json=body))
    # SQLite takes the number with an upsert of its own and writes the two notifications
    # (confirmation, desk) one INSERT each. The answer's row (names, areas; no read marker
    # yet) is built from what the session holds: no SELECT. No webhook, routing rule or
    # SLA policy is read when the customer's statement says there is none
    # (services/probes.py); the report facts (issue 15) are one INSERT, the new ticket's
    # fact row is not looked for.
    assert log.count == by_dialect(db, postgresql=8, sqlite=10), "; ".join(log.kinds())
    assert not any(k.startswith(("UPDATE", "SELECT ticket")) for k in log.kinds()), log.kinds()
    keyed = measure(
        statements,
        lambda: world["user"].post("/tickets", json=body, headers={"Idempotency-Key": "k-1"}),
    )
    # With a key: (on PostgreSQL, a lock on it, then) it is looked up, then a savepoint
    # around the creation and the key.
    assert keyed.count == log.count + by_dialect(db, postgresql=5, sqlite=4), keyed.kinds()


def test_a_reply_costs_the_same_however_long_the_conversation(
    desk: Desk, db: Database, statements: StatementLog, world: dict[str, Any]
) -> None:
    """The caller, the ticket (locked, with whether it has CC addresses and the desk has
    webhooks), the reply, the ticket's update (last public activity and reply count
    included), its index entry (appended to, the conversation is not read again), the
    outbox, the timeline, the report facts (read; the first staff reply updates them)."""
    ticket = desk.ticket(world["user"], world["customer"])
    url = f"/tickets/{ticket['id']}/replies"
    first = measure(statements, lambda: world["agent"].post(url, json=PUBLIC_REPLY))
    # No CC address and no webhook: neither is read (the ticket's load said so).
    assert first.count == 9, first.kinds()
    for _ in range(5):
        desk.reply(world["agent"], ticket)
    later = measure(statements, lambda: world["agent"].post(url, json=PUBLIC_REPLY))
    # No more than the first, however long the conversation (the first also records the
    # ticket's first response among the report facts).
    assert later.count <= first.count, later.kinds()
    internal = measure(
        statements,
        lambda: world["agent"].post(url, json={"body": "Nota", "visibility": "internal"}),
    )
    # Nothing to index, no mail, no public activity; the report facts are read.
    assert internal.count == 6, internal.kinds()


def test_a_status_change(desk: Desk, statements: StatementLog, world: dict[str, Any]) -> None:
    ticket = desk.ticket(world["user"], world["customer"])
    log = measure(
        statements,
        lambda: world["agent"].post(
            f"/tickets/{ticket['id']}/status", json={"status": "in_progress"}
        ),
    )
    # The caller, the ticket (locked, with the CC and webhook answers), its update (the
    # last public activity in it), the outbox, the timeline (status, assignee), the report
    # facts and the status history's one INSERT (the backlog by status), the answer's row
    # and its tags. No CC address, no webhook: neither is read.
    assert log.count == 10, log.kinds()
    assert "INSERT INTO ticket_status_change" in log.kinds(), log.kinds()
