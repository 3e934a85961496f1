"""Bulk import: a generated 10,000-ticket export in ten requests, per-item answers, no mail,
no webhook, and who may import."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import Database
from tests.exports import export
from tests.factories import Desk, problem


def post(client: httpx.Client, tickets: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post("/imports/tickets", json={"tickets": tickets}, timeout=120)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_a_10000_ticket_export_imports_in_ten_requests(desk: Desk, db: Database) -> None:
    customers = [desk.customer(), desk.customer()]
    admin = desk.admin()
    hook = admin.post("/webhooks", json={"url": "https://hooks.example.com/x", "kinds": ["*"]})
    assert hook.status_code == 201
    tickets = export(10_000, [c["code"] for c in customers])
    replies = sum(len(t["replies"]) for t in tickets)

    start = time.monotonic()
    answers = []
    for i in range(0, len(tickets), 1000):
        answer = post(admin, tickets[i : i + 1000])
        assert (answer["created"], answer["already_imported"], answer["refused"]) == (1000, 0, 0)
        answers += answer["items"]
    elapsed = time.monotonic() - start
    print(f"\n10,000 tickets ({replies} replies) imported in {elapsed:.1f} s")

    assert db.scalar("SELECT count(*) FROM ticket") == 10_000
    assert db.scalar("SELECT count(*) FROM reply") == replies
    assert db.scalar("SELECT count(*) FROM ticket_event") == 10_000 + replies
    assert db.scalar("SELECT count(*) FROM notification") == 0, "no mail"
    assert db.scalar("SELECT count(*) FROM webhook_delivery") == 0, "no webhook flood"
    assert [a["external_id"] for a in answers] == [t["external_id"] for t in tickets]
    assert len({a["number"] for a in answers}) == 10_000

    # A ticket as it was: its times, status, solution, replies; numbered in its own year.
    source = next(t for t in tickets if t["status"] == "resolved" and len(t["replies"]) == 3)
    answer = answers[tickets.index(source)]
    ticket = admin.get(f"/tickets/{answer['ticket_id']}").json()
    assert ticket["status"] == "resolved" and ticket["solution"] == source["solution"]
    assert ticket["created_at"].replace("+00:00", "Z") == source["created_at"]
    assert ticket["number"].startswith(f"T-{source['created_at'][:4]}-")
    assert ticket["customer_code"] == source["customer_code"]
    assert ticket["resolved_at"] is not None
    customer = desk.customer_user(
        next(c for c in customers if c["code"] == source["customer_code"])
    )
    seen = customer.get(f"/tickets/{ticket['id']}/replies").json()["items"]
    assert [r["body"] for r in seen] == [
        r["body"] for r in source["replies"] if r["visibility"] == "public"
    ], "internal replies stay internal"
    kinds = [e["kind"] for e in admin.get(f"/tickets/{ticket['id']}/events").json()["items"]]
    assert kinds == ["created", "replied", "replied", "replied"]
    token = source["subject"].split()[-1]
    found = admin.get("/tickets", params={"q": token}).json()["items"]
    assert [t["id"] for t in found] == [ticket["id"]], "imported tickets are searchable"

    # Sent again (a migration run twice): nothing new, the same tickets named.
    again = post(admin, tickets[3000:4000])
    assert (again["created"], again["already_imported"]) == (0, 1000)
    assert [a["ticket_id"] for a in again["items"]] == [a["ticket_id"] for a in answers[3000:4000]]
    assert db.scalar("SELECT count(*) FROM ticket") == 10_000


def test_each_ticket_is_answered_on_its_own(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    order_category = desk.category("order")
    good = export(2, [customer["code"]], prefix="OK-")
    bad: list[dict[str, Any]] = [
        {**good[0], "external_id": "B-1", "customer_code": "NOBODY"},
        {**good[0], "external_id": "B-2", "category_id": order_category["id"]},
        {**good[0], "external_id": "B-3", "status": "resolved", "solution": None},
        {**good[0], "external_id": "B-4", "created_at": "2999-01-01T00:00:00Z", "replies": []},
        {**good[0], "external_id": "B-5", "subject": ""},
        {**good[0], "external_id": "B-6", "type": "order"},
        {**good[0], "external_id": "B-7", "created_at": "2024-01-01T00:00:00"},
        {**good[0], "external_id": "B-8", "assignee_id": 999_999},
        {**good[0], "external_id": "OK-1"},
    ]
    answer = post(desk.admin(), [*good, *bad])
    assert (answer["created"], answer["already_imported"], answer["refused"]) == (2, 0, 9)
    items = answer["items"]
    assert [i["index"] for i in items] == list(range(11))
    assert [i["result"] for i in items[:2]] == ["created", "created"]
    reasons = {i["external_id"]: i["reason"] for i in items[2:]}
    assert reasons["B-1"] == "unknown customer code"
    assert "category" in reasons["B-2"]
    assert "solution" in reasons["B-3"]
    assert "future" in reasons["B-4"]
    assert reasons["B-5"].startswith("subject:")
    assert "order_id" in reasons["B-6"]
    assert reasons["B-7"].startswith("created_at:")
    assert "assignee" in reasons["B-8"]
    assert reasons["OK-1"] == "external_id repeated in this request"
    assert db.scalar("SELECT count(*) FROM ticket") == 2


def test_resolution_and_closing_times_are_judged_like_the_others(desk: Desk, db: Database) -> None:
    """A resolution or a closing in the future, before the opening, or on a ticket that is
    not resolved or closed would be kept as the ticket's times and counted by the reports
    (a resolution of 73 years, a closing of a ticket still open): refused with the reason."""
    customer = desk.customer()
    base = {
        **export(1, [customer["code"]])[0],
        "created_at": "2026-01-10T10:00:00Z",
        "updated_at": None,
        "replies": [],
        "solution": "Fatto.",
    }
    cases: list[dict[str, Any]] = [
        {"external_id": "R-future", "status": "resolved", "resolved_at": "2099-01-01T00:00:00Z"},
        {"external_id": "R-before", "status": "resolved", "resolved_at": "2026-01-09T00:00:00Z"},
        {"external_id": "C-future", "status": "closed", "closed_at": "2099-01-01T00:00:00Z"},
        {"external_id": "C-before", "status": "closed", "closed_at": "2020-01-01T00:00:00Z"},
        {
            "external_id": "C-before-R",
            "status": "closed",
            "resolved_at": "2026-01-12T00:00:00Z",
            "closed_at": "2026-01-11T00:00:00Z",
        },
        {"external_id": "C-open", "status": "open", "closed_at": "2026-01-11T00:00:00Z"},
        {"external_id": "R-open", "status": "in_progress", "resolved_at": "2026-01-11T00:00:00Z"},
    ]
    answer = post(desk.admin(), [{**base, **case} for case in cases])
    reasons = {i["external_id"]: i["reason"] for i in answer["items"]}
    assert [i["result"] for i in answer["items"]] == ["refused"] * len(cases), reasons
    assert "resolved_at is in the future" in reasons["R-future"]
    assert "resolved_at is before created_at" in reasons["R-before"]
    assert "closed_at is in the future" in reasons["C-future"]
    assert "closed_at is before created_at" in reasons["C-before"]
    assert "closed_at is before resolved_at" in reasons["C-before-R"]
    assert "closed_at" in reasons["C-open"] and "closed" in reasons["C-open"]
    assert "resolved_at" in reasons["R-open"]
    assert db.scalar("SELECT count(*) FROM ticket") == 0
    fine = post(
        desk.admin(),
        [
            {
                **base,
                "external_id": "OK",
                "status": "closed",
                "resolved_at": "2026-01-11T00:00:00Z",
                "closed_at": "2026-01-12T00:00:00Z",
            }
        ],
    )
    assert fine["created"] == 1, fine


def test_who_may_import_and_how_much(desk: Desk) -> None:
    customer = desk.customer()
    one = export(1, [customer["code"]])
    for caller in (desk.agent(), desk.customer_user(customer), desk.api_key("tickets:write")):
        problem(caller.post("/imports/tickets", json={"tickets": one}), 403)
    problem(desk.anonymous().post("/imports/tickets", json={"tickets": one}), 401)
    assert post(desk.api_key("tickets:import"), one)["created"] == 1
    admin = desk.admin()
    problem(admin.post("/imports/tickets", json={"tickets": []}), 422)
    problem(admin.post("/imports/tickets", json={"tickets": [{}] * 1001}), 422)
    problem(
        admin.post(
            "/imports/tickets", content=b"{nope", headers={"content-type": "application/json"}
        ),
        400,
    )
    problem(
        admin.post("/imports/tickets", content=b"x", headers={"content-type": "text/plain"}), 415
    )


def test_imported_tickets_count_in_the_reports(desk: Desk) -> None:
    """An imported history is reported like one lived here: opened, first answered, resolved
    and closed at its own times, and out of the backlog once resolved."""
    customer = desk.customer()
    base = {
        "customer_code": customer["code"],
        "type": "technical",
        "subject": "Stampa bloccata",
        "description": "La stampa resta bloccata.",
    }
    tickets = [
        {
            **base,
            "external_id": "R-1",
            "status": "resolved",
            "solution": "Driver aggiornato.",
            "created_at": "2025-03-03T09:00:00Z",
            "resolved_at": "2025-03-05T09:00:00Z",
            "replies": [
                {
                    "body": "Ci scusiamo, verifichiamo.",
                    "visibility": "public",
                    "author_name": "Agente Storico",
                    "author_role": "agent",
                    "created_at": "2025-03-03T10:00:00Z",
                }
            ],
        },
        {
            **base,
            "external_id": "C-1",
            "status": "closed",
            "solution": "Risolto.",
            "created_at": "2025-03-04T09:00:00Z",
            "resolved_at": "2025-03-04T12:00:00Z",
            "closed_at": "2025-03-12T12:00:00Z",
        },
        {**base, "external_id": "O-1", "status": "open", "created_at": "2025-03-06T09:00:00Z"},
    ]
    admin = desk.admin()
    assert post(admin, tickets)["created"] == 3
    week = {"from": "2025-03-03", "to": "2025-03-16", "group": "week"}
    volume = admin.get("/reports/volume", params=week)
    assert volume.status_code == 200, volume.text
    assert [(r["opened"], r["resolved"], r["closed"]) for r in volume.json()["rows"]] == [
        (3, 2, 0),
        (0, 0, 1),
    ]
    times = admin.get("/reports/response-times", params=week).json()["rows"]
    first = [r for r in times if r["metric"] == "first_response" and r["count"]]
    assert [(r["count"], r["median_seconds"]) for r in first] == [(1, 3600.0)]
    backlog = admin.get("/reports/backlog", params=week).json()["rows"]
    # At the end of each week only the open ticket is still open.
    assert [(r["open"], r["status_open"]) for r in backlog] == [(1, 1), (1, 1)]
