"""ETag and If-Match, so two agents never overwrite each other's changes; staff edits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Database
from tests.factories import Desk, problem


def read(client: httpx.Client, ticket: dict[str, Any]) -> tuple[dict[str, Any], str]:
    r = client.get(f"/tickets/{ticket['id']}")
    assert r.status_code == 200, r.text
    return r.json(), r.headers["etag"]


def test_reads_carry_an_etag_that_changes_with_the_ticket(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    _, first = read(agent, ticket)
    assert first.startswith('"') and first.endswith('"')
    # The same ticket, the same tag, for whoever reads it.
    assert read(client, ticket)[1] == first == read(agent, ticket)[1]
    tags = [first]
    desk.move(agent, ticket, "in_progress")
    tags.append(read(agent, ticket)[1])
    agent.patch(f"/tickets/{ticket['id']}", json={"severity": "blocking"})
    tags.append(read(agent, ticket)[1])
    desk.reply(client, ticket)
    tags.append(read(agent, ticket)[1])
    assert len(set(tags)) == len(tags)


def test_a_patch_with_a_stale_etag_is_412_and_changes_nothing(desk: Desk) -> None:
    customer = desk.customer()
    first, second = desk.agent(), desk.agent()
    ticket = desk.ticket(first, customer)
    _, seen = read(first, ticket)
    _, also_seen = read(second, ticket)
    url = f"/tickets/{ticket['id']}"
    ok = first.patch(url, json={"subject": "Stampa bloccata"}, headers={"If-Match": seen})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] != seen
    assert ok.headers["etag"] == read(first, ticket)[1]
    # The second agent read before the first one's change: refused.
    late = second.patch(url, json={"subject": "Altro"}, headers={"If-Match": also_seen})
    err = problem(late, 412)
    assert "reload" in err["detail"]
    assert read(first, ticket)[0]["subject"] == "Stampa bloccata"
    # After reading again, it goes through.
    _, fresh = read(second, ticket)
    again = second.patch(url, json={"subject": "Altro"}, headers={"If-Match": fresh})
    assert again.status_code == 200 and again.json()["subject"] == "Altro"


def test_a_status_change_honours_if_match(desk: Desk) -> None:
    customer = desk.customer()
    agent = desk.agent()
    ticket = desk.ticket(agent, customer)
    _, seen = read(agent, ticket)
    desk.reply(desk.customer_user(customer), ticket, "Un dettaglio in più.")
    url = f"/tickets/{ticket['id']}/status"
    problem(agent.post(url, json={"status": "in_progress"}, headers={"If-Match": seen}), 412)
    assert read(agent, ticket)[0]["status"] == "open"
    _, fresh = read(agent, ticket)
    moved = agent.post(url, json={"status": "in_progress"}, headers={"If-Match": fresh})
    assert moved.status_code == 200
    assert moved.headers["etag"] == read(agent, ticket)[1] != fresh


@pytest.mark.parametrize(
    "if_match", ["*", "{current}", '"0-0", {current}', "W/{current}", "{current} , *"]
)
def test_if_match_forms_that_match(desk: Desk, if_match: str) -> None:
    customer = desk.customer()
    agent = desk.agent()
    ticket = desk.ticket(agent, customer)
    _, current = read(agent, ticket)
    header = if_match.format(current=current)
    r = agent.patch(
        f"/tickets/{ticket['id']}", json={"severity": "blocking"}, headers={"If-Match": header}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("if_match", ['"0-0"', "garbage", '""', "{other}"])
def test_if_match_forms_that_do_not(desk: Desk, if_match: str) -> None:
    customer = desk.customer()
    agent = desk.agent()
    ticket = desk.ticket(agent, customer)
    other = desk.ticket(agent, customer)
    _, other_tag = read(agent, other)
    header = if_match.format(other=other_tag)
    url = f"/tickets/{ticket['id']}"
    problem(agent.patch(url, json={"severity": "blocking"}, headers={"If-Match": header}), 412)
    assert read(agent, ticket)[0]["severity"] == "normal"


def test_without_if_match_the_last_writer_wins(desk: Desk) -> None:
    customer = desk.customer()
    first, second = desk.agent(), desk.agent()
    ticket = desk.ticket(first, customer)
    url = f"/tickets/{ticket['id']}"
    assert first.patch(url, json={"subject": "Primo"}).status_code == 200
    assert second.patch(url, json={"subject": "Secondo"}).status_code == 200
    assert read(first, ticket)[0]["subject"] == "Secondo"


def test_of_simultaneous_patches_with_one_etag_exactly_one_wins(desk: Desk) -> None:
    customer = desk.customer()
    agents = [desk.agent() for _ in range(6)]
    ticket = desk.ticket(agents[0], customer)
    _, seen = read(agents[0], ticket)
    barrier = threading.Barrier(len(agents))

    def patch(i: int) -> httpx.Response:
        barrier.wait(timeout=30)
        return agents[i].patch(
            f"/tickets/{ticket['id']}", json={"subject": f"Agente {i}"}, headers={"If-Match": seen}
        )

    with ThreadPoolExecutor(len(agents)) as pool:
        answers = list(pool.map(patch, range(len(agents))))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [412] * (len(agents) - 1), [r.text for r in answers]
    [winner] = [r for r in answers if r.status_code == 200]
    assert read(agents[0], ticket)[0]["subject"] == winner.json()["subject"]


def test_of_two_agents_resolving_at_once_one_moves_the_ticket(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    agents = [desk.agent() for _ in range(4)]
    ticket = desk.move(agents[0], desk.ticket(agents[0], customer), "in_progress")
    barrier = threading.Barrier(len(agents))

    def resolve(i: int) -> httpx.Response:
        barrier.wait(timeout=30)
        return agents[i].post(
            f"/tickets/{ticket['id']}/status",
            json={"status": "closed", "note": f"Chiuso da {i}"},
        )

    with ThreadPoolExecutor(len(agents)) as pool:
        answers = list(pool.map(resolve, range(len(agents))))
    statuses = sorted(r.status_code for r in answers)
    # The row is locked: the others see it closed and get the state machine's 409.
    assert statuses == [200] + [409] * (len(agents) - 1), [r.text for r in answers]
    assert all(r.json()["allowed"] == [] for r in answers if r.status_code == 409)
    closings = "SELECT count(*) FROM ticket_event WHERE to_status = 'closed'"
    assert db.scalar(closings) == 1


# --- staff edits ---------------------------------------------------------------------------


def test_staff_edit_category_severity_assignee_and_subject(desk: Desk) -> None:
    customer = desk.customer()
    agent, agent_row = desk.user("agent")
    area = desk.category("technical", "Magazzino")
    ticket = desk.ticket(desk.customer_user(customer), customer)
    changes = {
        "category_id": area["id"],
        "severity": "blocking",
        "assignee_id": agent_row["id"],
        "subject": "  Giacenze errate  ",
    }
    r = agent.patch(f"/tickets/{ticket['id']}", json=changes)
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (
        edited["category_id"],
        edited["severity"],
        edited["assignee_id"],
        edited["subject"],
    ) == (
        area["id"],
        "blocking",
        agent_row["id"],
        "Giacenze errate",
    )
    assert edited["updated_at"] > ticket["updated_at"]
    assert edited["status"] == "open"
    # Null clears what may be empty.
    cleared = agent.patch(
        f"/tickets/{ticket['id']}", json={"category_id": None, "assignee_id": None}
    )
    assert (cleared.json()["category_id"], cleared.json()["assignee_id"]) == (None, None)
    # An admin may edit as well; an empty change changes nothing.
    same = desk.admin().patch(f"/tickets/{ticket['id']}", json={})
    assert same.status_code == 200
    assert same.json()["updated_at"] == cleared.json()["updated_at"]


BAD_EDITS: list[tuple[dict[str, Any], str]] = [
    ({"status": "closed"}, "status"),
    ({"description": "Riscritta"}, "description"),
    ({"customer_id": 1}, "customer_id"),
    ({"severity": None}, "severity"),
    ({"subject": None}, "subject"),
    ({"subject": ""}, "subject"),
    ({"subject": "s" * 201}, "subject"),
    ({"severity": "urgent"}, "severity"),
    ({"category_id": "other type"}, "category_id"),
    ({"category_id": 999999}, "category_id"),
    ({"assignee_id": "customer"}, "assignee_id"),
    ({"assignee_id": "inactive"}, "assignee_id"),
    ({"assignee_id": 999999}, "assignee_id"),
]


def test_bad_edits_are_422(desk: Desk) -> None:
    customer = desk.customer()
    admin = desk.admin()
    ticket = desk.ticket(admin, customer)
    _, user = desk.user("customer", customer_id=customer["id"])
    _, inactive = desk.user("agent")
    assert admin.patch(f"/users/{inactive['id']}", json={"is_active": False}).status_code == 200
    named = {
        "other type": desk.category("administrative", "Pagamenti")["id"],
        "customer": user["id"],
        "inactive": inactive["id"],
    }
    fields = ("status", "severity", "subject", "category_id", "assignee_id", "updated_at")
    for body, field in BAD_EDITS:
        sent = {k: named.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        r = admin.patch(f"/tickets/{ticket['id']}", json=sent)
        assert r.status_code == 422, (body, r.text)
        assert any(e["loc"][-1] == field for e in problem(r, 422)["errors"]), (body, r.text)
    after, _ = read(admin, ticket)
    assert {k: after[k] for k in fields} == {k: ticket[k] for k in fields}


def test_customers_cannot_edit_and_read_only_keys_neither(desk: Desk) -> None:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    url = f"/tickets/{ticket['id']}"
    problem(client.patch(url, json={"severity": "blocking"}), 403)
    problem(desk.api_key("tickets:read").patch(url, json={"severity": "blocking"}), 403)
    writer = desk.api_key("tickets:read", "tickets:write")
    assert writer.patch(url, json={"severity": "blocking"}).json()["severity"] == "blocking"
