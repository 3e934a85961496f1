"""Opening a ticket: every rule of the contract, numbering under concurrency, idempotent retries."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import Database
from tests.factories import Desk, problem

T = TypeVar("T")
NUMBER = re.compile(r"^T-(\d{4})-(\d{6})$")


def body_for(customer: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Errore nell'invio allo SdI",
        "description": "La fattura n. 12 risulta scartata con codice 00404.",
        **overrides,
    }


def ticket_count(db: Database) -> int:
    return int(db.scalar("SELECT count(*) FROM ticket"))


def all_at_once(n: int, threads: int, call: Callable[[int], T]) -> list[T]:
    """``call(i)`` for i in range(n) from ``threads`` threads released together."""
    barrier = threading.Barrier(min(n, threads))

    def go(i: int) -> T:
        if i < threads:
            barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(go, range(n)))


def test_a_customer_user_opens_a_ticket_for_their_customer(desk: Desk) -> None:
    customer = desk.customer(code="AGRI-BIANCHI")
    client, user = desk.user(
        "customer", customer_id=customer["id"], name="Mario Rossi", phone="+39 333 1234567"
    )
    r = client.post("/tickets", json=body_for(customer))
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert r.headers["location"] == f"/api/v1/tickets/{ticket['id']}"
    assert r.headers["etag"]
    match = NUMBER.match(ticket["number"])
    assert match and int(match[1]) == datetime.now(UTC).year
    assert ticket["last_activity"]["at"] >= ticket["created_at"]
    overlay = {"id": 0, "number": "", "created_at": "", "updated_at": ""}
    assert ticket | overlay | {"last_activity": {**ticket["last_activity"], "at": ""}} == {
        "id": 0,
        "number": "",
        "customer_id": customer["id"],
        "customer_code": "AGRI-BIANCHI",
        "requester_id": user["id"],
        "type": "technical",
        "category_id": None,
        "order_id": None,
        "subject": "Errore nell'invio allo SdI",
        "description": "La fattura n. 12 risulta scartata con codice 00404.",
        "severity": "normal",
        "status": "open",
        "assignee_id": None,
        "solution": None,
        "parent_id": None,
        # The contact defaults from the caller's profile.
        "contact": {
            "name": "Mario Rossi",
            "phone": "+39 333 1234567",
            "email": user["email"],
            "preferred_channel": "email",
        },
        "channel": "portal",
        "created_at": "",
        "updated_at": "",
        "resolved_at": None,
        "closed_at": None,
        "allowed_transitions": ["closed"],
        "attachments": [],
        # What a portal's row shows: names, not ids to look up; the opening is the last
        # public activity, by the caller, so nothing is unread for them.
        "requester": {"id": user["id"], "name": "Mario Rossi"},
        "assignee": None,
        "category": None,
        "sub_category": None,
        "reply_count": 0,
        "last_activity": {"at": "", "actor": {"id": user["id"], "name": "Mario Rossi"}},
        "unread": False,
        # The desk's organisation is not shown to customers.
        "team_id": None,
        "sla_policy_id": None,
        "sla_due_at": None,
        "tags": None,
        "sla": None,
    }
    created = datetime.fromisoformat(ticket["created_at"])
    assert created.utcoffset() is not None
    assert ticket["updated_at"] == ticket["created_at"]
    # What was answered is what is stored.
    assert client.get(r.headers["location"].removeprefix("/api/v1")).json() == ticket


def test_the_customer_code_is_required_and_matched_regardless_of_case(desk: Desk) -> None:
    customer = desk.customer(code="HOST-MARTINEZ")
    client = desk.customer_user(customer)
    err = problem(client.post("/tickets", json=body_for(customer, customer_code=None)), 422)
    assert err["errors"][0]["loc"] == ["body", "customer_code"]
    body = body_for(customer)
    del body["customer_code"]
    problem(client.post("/tickets", json=body), 422)
    ticket = desk.ticket(client, customer, customer_code="  host-martinez ")
    assert ticket["customer_code"] == "HOST-MARTINEZ"


def test_a_customer_user_cannot_open_a_ticket_for_another_customer(
    desk: Desk, db: Database
) -> None:
    mine, theirs = desk.customer(), desk.customer()
    client = desk.customer_user(mine)
    foreign = problem(client.post("/tickets", json=body_for(theirs)), 422)
    unknown = problem(client.post("/tickets", json=body_for(mine, customer_code="NOPE")), 422)
    assert foreign["errors"][0]["loc"] == ["body", "customer_code"]
    # The same answer as for a code that does not exist: codes cannot be probed.
    assert foreign["detail"] == unknown["detail"]
    assert ticket_count(db) == 0


def test_staff_open_tickets_for_any_customer(desk: Desk) -> None:
    first, second = desk.customer(), desk.customer()
    agent, agent_row = desk.user("agent", name="Anna Verdi", phone="+39 02 1234567")
    one = desk.ticket(agent, first)
    two = desk.ticket(desk.admin(), second)
    assert (one["customer_id"], two["customer_id"]) == (first["id"], second["id"])
    assert one["requester_id"] == agent_row["id"]
    assert one["contact"]["name"] == "Anna Verdi"
    # Staff may move it at once.
    assert "in_progress" in one["allowed_transitions"]
    problem(agent.post("/tickets", json=body_for(first, customer_code="UNKNOWN")), 422)


def test_an_api_key_opens_tickets_with_the_customers_contact(desk: Desk) -> None:
    customer = desk.customer(
        name="Hostelería Martínez S.L.",
        email="administracion@hosteleriamartinez.example",
        phone="+34 91 123 45 67",
    )
    key = desk.api_key("tickets:write", "tickets:read")
    ticket = desk.ticket(key, customer)
    assert ticket["requester_id"] is None
    assert ticket["contact"] == {
        "name": "Hostelería Martínez S.L.",
        "phone": "+34 91 123 45 67",
        "email": "administracion@hosteleriamartinez.example",
        "preferred_channel": "email",
    }
    problem(desk.api_key("tickets:read").post("/tickets", json=body_for(customer)), 403)
    # With nothing on file to reach the customer by, the request must say how.
    silent = desk.customer()
    err = problem(key.post("/tickets", json=body_for(silent)), 422)
    assert err["errors"][0]["loc"] == ["body", "contact"]
    given = body_for(silent, contact={"email": "it@silent.example"})
    assert key.post("/tickets", json=given).status_code == 201


def test_given_contact_parts_win_and_the_rest_come_from_the_profile(desk: Desk) -> None:
    customer = desk.customer()
    client, user = desk.user("customer", customer_id=customer["id"], name="Giulia Bianchi")
    ticket = desk.ticket(
        client,
        customer,
        contact={"phone": "+39 347 7654321", "preferred_channel": "phone"},
    )
    assert ticket["contact"] == {
        "name": "Giulia Bianchi",
        "phone": "+39 347 7654321",
        "email": user["email"],
        "preferred_channel": "phone",
    }
    other = desk.ticket(client, customer, contact={"name": "Ufficio acquisti"})
    assert other["contact"]["name"] == "Ufficio acquisti"
    assert other["contact"]["email"] == user["email"]


def test_a_call_back_needs_a_phone_number(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)  # no phone in the profile
    body = body_for(customer, contact={"preferred_channel": "phone"})
    err = problem(client.post("/tickets", json=body), 422)
    assert err["errors"][0]["loc"] == ["body", "contact"]
    assert ticket_count(db) == 0


@pytest.mark.parametrize(
    "contact",
    [
        {"email": "not an address"},
        {"phone": "call me maybe"},
        {"preferred_channel": "fax"},
        {"name": "x" * 201},
        {"pager": "123"},
    ],
)
def test_a_bad_contact_is_422(desk: Desk, contact: dict[str, Any]) -> None:
    customer = desk.customer()
    problem(desk.admin().post("/tickets", json=body_for(customer, contact=contact)), 422)


def test_the_category_must_be_one_of_the_tickets_type(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    area = desk.category("technical", "Fatturazione elettronica")
    sub = desk.category("technical", "Invio allo SdI", parent=area)
    billing = desk.category("administrative", "Fatture ed estratto conto")
    assert desk.ticket(client, customer, category_id=sub["id"])["category_id"] == sub["id"]
    assert desk.ticket(client, customer, category_id=area["id"])["category_id"] == area["id"]
    for category_id in (billing["id"], 999999):
        err = problem(
            client.post("/tickets", json=body_for(customer, category_id=category_id)), 422
        )
        assert err["errors"][0]["loc"] == ["body", "category_id"]
    ok = body_for(customer, type="administrative", category_id=billing["id"])
    assert client.post("/tickets", json=ok).status_code == 201
    assert ticket_count(db) == 3


def test_an_order_ticket_needs_an_order_of_that_customer(desk: Desk, db: Database) -> None:
    customer, other = desk.customer(), desk.customer()
    own = desk.order(customer, number="SUB-ES-55021", kind="subscription")
    foreign = desk.order(other)
    client = desk.customer_user(customer)
    for order_id in (None, foreign["id"], 999999):
        body = body_for(customer, type="order", order_id=order_id)
        err = problem(client.post("/tickets", json=body), 422)
        assert err["errors"][0]["loc"] == ["body", "order_id"]
    ticket = desk.ticket(client, customer, type="order", order_id=own["id"])
    assert (ticket["type"], ticket["order_id"]) == ("order", own["id"])
    # Another type may name an order too, but still only one of that customer.
    problem(client.post("/tickets", json=body_for(customer, order_id=foreign["id"])), 422)
    assert desk.ticket(client, customer, order_id=own["id"])["order_id"] == own["id"]
    assert ticket_count(db) == 2


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("subject", "s" * 200, True),
        ("subject", "s" * 201, False),
        ("subject", "", False),
        ("subject", "   ", False),
        # NUL cannot be stored in PostgreSQL text: refused for every database alike.
        ("subject", "Stampa\x00", False),
        ("subject", "Riga\x07", False),
        ("description", "Prima riga\n\tseconda riga\r\n", True),
        ("description", "Testo\x00nascosto", False),
        ("description", "d", True),
        ("description", "d" * 20_000, True),
        ("description", "d" * 20_001, False),
        ("description", "", False),
        ("description", " \n\t ", False),
        ("severity", "blocking", True),
        ("severity", "urgent", False),
        ("type", "commercial", True),
        ("type", "support", False),
        ("category_id", 0, False),
        ("order_id", 2**31, False),
        ("status", "closed", False),
        ("assignee_id", 1, False),
    ],
)
def test_field_limits(desk: Desk, db: Database, field: str, value: Any, ok: bool) -> None:
    customer = desk.customer()
    r = desk.admin().post("/tickets", json=body_for(customer, **{field: value}))
    if ok:
        assert r.status_code == 201, r.text
        assert r.json()[field] == value
    else:
        err = problem(r, 422)
        assert any(e["loc"][-1] == field for e in err["errors"]), err
        assert ticket_count(db) == 0


def test_the_subject_is_trimmed_and_severity_defaults_to_normal(desk: Desk) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.admin(), customer, subject="  Stampante bloccata  ")
    assert (ticket["subject"], ticket["severity"]) == ("Stampante bloccata", "normal")


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"customer_code": ', "application/json", 400),
        (b"", "application/json", 400),
        (b"customer_code=X", "application/x-www-form-urlencoded", 415),
        (b"[]", "application/json", 422),
    ],
)
def test_a_malformed_body_is_refused(
    desk: Desk, db: Database, content: bytes, content_type: str, status: int
) -> None:
    r = desk.admin().post("/tickets", content=content, headers={"content-type": content_type})
    problem(r, status)
    assert ticket_count(db) == 0


def test_numbers_are_unique_and_follow_each_other(desk: Desk) -> None:
    customer = desk.customer()
    admin = desk.admin()
    numbers = [desk.ticket(admin, customer)["number"] for _ in range(3)]
    serials = [int(NUMBER.match(n)[2]) for n in numbers]  # type: ignore[index]
    assert serials == [serials[0], serials[0] + 1, serials[0] + 2]


def test_concurrent_openings_get_distinct_numbers(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    clients = [desk.customer_user(customer) for _ in range(2)] + [desk.agent(), desk.admin()]

    def open_one(i: int) -> httpx.Response:
        return clients[i % len(clients)].post(
            "/tickets", json=body_for(customer, subject=f"Richiesta {i}")
        )

    answers = all_at_once(20, 8, open_one)
    assert [r.status_code for r in answers] == [201] * 20, [r.text for r in answers]
    numbers = {r.json()["number"] for r in answers}
    assert len(numbers) == 20
    assert all(NUMBER.match(n) for n in numbers)
    assert ticket_count(db) == 20
    assert db.scalar("SELECT count(DISTINCT number) FROM ticket") == 20


# --- Idempotency-Key -----------------------------------------------------------------------


def test_a_retry_with_the_same_key_creates_nothing_new(desk: Desk, db: Database) -> None:
    customer = desk.customer(email="ced@cliente.example")
    key = desk.api_key("tickets:write", "tickets:read")
    body = body_for(customer, severity="blocking")
    headers = {"Idempotency-Key": "erp-4711"}
    first = key.post("/tickets", json=body, headers=headers)
    again = key.post("/tickets", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert ticket_count(db) == 1
    assert db.scalar("SELECT count(*) FROM ticket_event") == 1
    # Another key is another ticket.
    other = key.post("/tickets", json=body, headers={"Idempotency-Key": "erp-4712"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert ticket_count(db) == 2


def test_the_same_key_with_another_body_is_422(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    headers = {"Idempotency-Key": "form-1"}
    assert client.post("/tickets", json=body_for(customer), headers=headers).status_code == 201
    changed = body_for(customer, subject="Un'altra richiesta")
    err = problem(client.post("/tickets", json=changed, headers=headers), 422)
    assert err["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert ticket_count(db) == 1


def test_keys_belong_to_their_caller(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    first, second = desk.customer_user(customer), desk.customer_user(customer)
    headers = {"Idempotency-Key": "same-key"}
    a = first.post("/tickets", json=body_for(customer), headers=headers)
    b = second.post("/tickets", json=body_for(customer), headers=headers)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert ticket_count(db) == 2


def test_a_write_only_key_retries_safely(desk: Desk, db: Database) -> None:
    customer = desk.customer(email="ced@cliente.example")
    key = desk.api_key("tickets:write")
    headers = {"Idempotency-Key": "only-write"}
    first = key.post("/tickets", json=body_for(customer), headers=headers)
    again = key.post("/tickets", json=body_for(customer), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    assert ticket_count(db) == 1


@pytest.mark.parametrize("value", ["", "k" * 201])
def test_a_bad_key_is_422(desk: Desk, db: Database, value: str) -> None:
    customer = desk.customer()
    r = desk.admin().post("/tickets", json=body_for(customer), headers={"Idempotency-Key": value})
    problem(r, 422)
    assert ticket_count(db) == 0


def test_the_same_key_sent_at_once_from_many_threads_makes_one_ticket(
    desk: Desk, db: Database
) -> None:
    customer = desk.customer(email="ced@cliente.example")
    key = desk.api_key("tickets:write", "tickets:read")
    body = body_for(customer)

    def send(_: int) -> httpx.Response:
        return key.post("/tickets", json=body, headers={"Idempotency-Key": "burst-1"})

    answers = all_at_once(8, 8, send)
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {201, 409}, [r.text for r in answers]
    ids = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(ids) == 1
    for r in answers:
        if r.status_code == 409:
            problem(r, 409)
    assert ticket_count(db) == 1
    assert db.scalar("SELECT count(*) FROM ticket_event") == 1
    # The requests that lost the race used up no number either.
    [first] = {r.json()["number"] for r in answers if r.status_code == 201}
    following = desk.ticket(key, customer, subject="La prossima")["number"]
    assert int(following[-6:]) == int(first[-6:]) + 1
