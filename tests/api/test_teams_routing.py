"""Teams, routing rules applied at opening, a ticket's team and assignee, and saved views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Database
from tests.factories import Desk, problem
from tests.smtp import SmtpSink, dispatch


def team(desk: Desk, name: str, *members: dict[str, Any], **fields: Any) -> dict[str, Any]:
    admin = desk.admin()
    r = admin.post("/teams", json={"name": name, **fields})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    for member in members:
        r = admin.put(f"/teams/{data['id']}/members/{member['id']}", json={})
        assert r.status_code == 200, r.text
    return data


def rule(desk: Desk, team_: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": f"verso {team_['name']}", "team_id": team_["id"], **fields}
    r = desk.admin().post("/routing-rules", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def agents(desk: Desk, n: int) -> list[tuple[httpx.Client, dict[str, Any]]]:
    return [desk.user("agent") for _ in range(n)]


def test_teams_are_admin_crud_and_agents_set_their_own_away_flag(desk: Desk) -> None:
    admin = desk.admin()
    (anna, anna_row), (_, luca_row) = agents(desk, 2)
    fatture = team(desk, "Fatture", anna_row, email="fatture@desk.example")
    assert [m["user_id"] for m in admin.get(f"/teams/{fatture['id']}").json()["members"]] == [
        anna_row["id"]
    ]
    problem(admin.post("/teams", json={"name": "Fatture"}), 409)
    problem(anna.post("/teams", json={"name": "Altro"}), 403)
    # An agent may mark themselves away, not add anyone, not touch others.
    r = anna.put(f"/teams/{fatture['id']}/members/{anna_row['id']}", json={"away": True})
    assert r.status_code == 200 and r.json()["away"] is True
    problem(anna.put(f"/teams/{fatture['id']}/members/{luca_row['id']}", json={}), 403)
    customer = desk.customer()
    client, customer_row = desk.user("customer", customer_id=customer["id"])
    problem(client.get("/teams"), 403)
    problem(admin.put(f"/teams/{fatture['id']}/members/{customer_row['id']}", json={}), 422)
    problem(admin.get("/teams/999"), 404)
    r = admin.patch(f"/teams/{fatture['id']}", json={"name": "Fatturazione"})
    assert r.status_code == 200 and r.json()["name"] == "Fatturazione"
    assert admin.delete(f"/teams/{fatture['id']}/members/{anna_row['id']}").status_code == 204
    assert admin.delete(f"/teams/{fatture['id']}").status_code == 204
    assert admin.get("/teams").json() == []


def test_the_assignee_must_be_a_member_of_the_tickets_team(desk: Desk) -> None:
    (anna, anna_row), (_, luca_row) = agents(desk, 2)
    fatture = team(desk, "Fatture", anna_row)
    customer = desk.customer()
    ticket = desk.ticket(anna, customer)
    url = f"/tickets/{ticket['id']}"
    problem(anna.patch(url, json={"team_id": fatture["id"], "assignee_id": luca_row["id"]}), 422)
    problem(anna.patch(url, json={"team_id": 999}), 422)
    r = anna.patch(url, json={"team_id": fatture["id"], "assignee_id": anna_row["id"]})
    assert r.status_code == 200 and r.json()["team_id"] == fatture["id"]
    problem(anna.patch(url, json={"assignee_id": luca_row["id"]}), 422)
    events = anna.get(f"{url}/events").json()["items"]
    assert [
        (e["kind"], e["team_id"], e["actor"]["id"]) for e in events if e["kind"] == "team_assigned"
    ] == [("team_assigned", fatture["id"], anna_row["id"])]
    # Customers do not see the desk's organisation.
    client = desk.customer_user(customer)
    assert client.get(url).json()["team_id"] is None
    assert "team_assigned" not in [e["kind"] for e in client.get(f"{url}/events").json()["items"]]


def test_rules_route_by_type_severity_customer_category_channel_and_tag(desk: Desk) -> None:
    admin = desk.admin()
    (anna, anna_row), (_, luca_row) = agents(desk, 2)
    teams = {name: team(desk, name, anna_row, luca_row) for name in ("A", "B", "C", "D", "E", "F")}
    vip = desk.customer()
    other = desk.customer(email="ced@altro.example")
    area = desk.category("commercial")
    rule(desk, teams["F"], position=60)  # anything else
    rule(desk, teams["A"], position=10, conditions={"tags": ["Urgente"]})
    rule(desk, teams["B"], position=20, conditions={"customer_ids": [vip["id"]]})
    rule(
        desk,
        teams["C"],
        position=30,
        conditions={"severities": ["blocking"], "types": ["technical"]},
    )
    rule(desk, teams["D"], position=40, conditions={"category_ids": [area["id"]]})
    rule(desk, teams["E"], position=50, conditions={"channels": ["api"]})
    key = desk.api_key("tickets:read", "tickets:write")

    def routed(client: httpx.Client, customer: dict[str, Any], **fields: Any) -> int | None:
        ticket = desk.ticket(client, customer, **fields)
        team_id: int | None = admin.get(f"/tickets/{ticket['id']}").json()["team_id"]
        return team_id

    assert routed(anna, other, tags=["urgente"]) == teams["A"]["id"]
    assert routed(anna, vip, severity="blocking") == teams["B"]["id"]
    assert routed(anna, other, severity="blocking") == teams["C"]["id"]
    assert routed(anna, other, type="commercial", category_id=area["id"]) == teams["D"]["id"]
    assert routed(key, other) == teams["E"]["id"]
    assert routed(anna, other) == teams["F"]["id"]
    # An inactive rule is skipped; rules are listed in order.
    listed = admin.get("/routing-rules").json()
    assert [r["team_id"] for r in listed] == [teams[n]["id"] for n in "ABCDEF"]
    r = admin.patch(f"/routing-rules/{listed[0]['id']}", json={"active": False})
    assert r.status_code == 200
    assert routed(anna, other, tags=["urgente"]) == teams["F"]["id"]
    problem(anna.get("/routing-rules"), 403)
    problem(admin.post("/routing-rules", json={"name": "x", "team_id": 999}), 422)
    problem(
        admin.post(
            "/routing-rules",
            json={"name": "x", "team_id": teams["A"]["id"], "conditions": {"channels": ["fax"]}},
        ),
        422,
    )
    problem(
        admin.post(
            "/routing-rules",
            json={"name": "x", "team_id": teams["A"]["id"], "conditions": {"colour": []}},
        ),
        422,
    )


def test_round_robin_skips_away_members_and_records_the_rule(desk: Desk) -> None:
    (anna, anna_row), (_luca, luca_row), (_, sara_row) = agents(desk, 3)
    fatture = team(desk, "Fatture", anna_row, luca_row, sara_row)
    rule(desk, fatture, assignment="round_robin")
    customer = desk.customer()
    client = desk.customer_user(customer)
    desk.admin().put(f"/teams/{fatture['id']}/members/{sara_row['id']}", json={"away": True})
    assignees = [desk.ticket(client, customer)["assignee_id"] for _ in range(4)]
    assert assignees == [anna_row["id"], luca_row["id"], anna_row["id"], luca_row["id"]]
    ticket = desk.ticket(client, customer)
    events = anna.get(f"/tickets/{ticket['id']}/events").json()["items"]
    assert events[0]["kind"] == "created" and events[0]["actor"]["role"] == "customer"
    routed = [(e["kind"], e["actor"], e["note"]) for e in events[1:3]]
    # The rule is the desk's own business: named on the internal team event only.
    assert routed == [
        ("team_assigned", None, "routing rule: verso Fatture"),
        ("assigned", None, None),
    ]
    assert events[2]["assignee_id"] == anna_row["id"]
    # The customer sees who took the ticket, never the name of the rule that chose them
    # (a rule may well be called "late payers: low priority").
    seen = client.get(f"/tickets/{ticket['id']}/events")
    assert seen.status_code == 200, seen.text
    assert [e["kind"] for e in seen.json()["items"]] == ["created", "assigned"]
    assert "verso Fatture" not in seen.text and "routing rule" not in seen.text


def test_fewest_open_tickets_wins_and_nobody_present_leaves_it_unassigned(desk: Desk) -> None:
    (anna, anna_row), (_luca, luca_row) = agents(desk, 2)
    fatture = team(desk, "Fatture", anna_row, luca_row)
    rule(desk, fatture, assignment="fewest_open")
    customer = desk.customer()
    client = desk.customer_user(customer)
    busy = [desk.ticket(anna, customer) for _ in range(2)]
    for ticket in busy:  # whoever routing gave them to, anna takes them
        assert (
            anna.patch(f"/tickets/{ticket['id']}", json={"assignee_id": anna_row["id"]}).status_code
            == 200
        )
    counts: dict[int, int] = {}
    for _ in range(3):
        assignee = desk.ticket(client, customer)["assignee_id"]
        counts[assignee] = counts.get(assignee, 0) + 1
    open_of = {
        a["id"]: len(
            anna.get(
                "/tickets", params={"assignee_id": a["id"], "status": ["open", "in_progress"]}
            ).json()["items"]
        )
        for a in (anna_row, luca_row)
    }
    assert abs(open_of[anna_row["id"]] - open_of[luca_row["id"]]) <= 1
    admin = desk.admin()
    for member in (anna_row, luca_row):
        admin.put(f"/teams/{fatture['id']}/members/{member['id']}", json={"away": True})
    ticket = desk.ticket(client, customer)
    assert ticket["assignee_id"] is None
    assert admin.get(f"/tickets/{ticket['id']}").json()["team_id"] == fatture["id"]


def test_views_built_in_personal_and_shared_with_counts(desk: Desk) -> None:
    admin = desk.admin()
    (anna, anna_row), (luca, luca_row) = agents(desk, 2)
    fatture = team(desk, "Fatture", anna_row, luca_row)
    customer = desk.customer()
    mine = [desk.ticket(anna, customer) for _ in range(3)]
    for ticket in mine:
        assert (
            anna.patch(f"/tickets/{ticket['id']}", json={"assignee_id": anna_row["id"]}).status_code
            == 200
        )
    queue = [desk.ticket(anna, customer) for _ in range(2)]
    for ticket in queue:
        assert (
            anna.patch(f"/tickets/{ticket['id']}", json={"team_id": fatture["id"]}).status_code
            == 200
        )
    desk.ticket(anna, customer)  # no team, no assignee

    names = [v["id"] for v in anna.get("/views").json()["items"]]
    assert names[:3] == ["mine", "team-unassigned", "breaching-soon"]
    page = anna.get("/views/mine/tickets", params={"limit": 2}).json()
    assert page["count"] == 3 and len(page["items"]) == 2 and page["next_cursor"]
    rest = anna.get(
        "/views/mine/tickets", params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert {t["id"] for t in page["items"] + rest["items"]} == {t["id"] for t in mine}
    assert rest["next_cursor"] is None
    assert luca.get("/views/mine/tickets").json()["count"] == 0
    unassigned = luca.get("/views/team-unassigned/tickets").json()
    assert unassigned["count"] == 2 and {t["id"] for t in unassigned["items"]} == {
        t["id"] for t in queue
    }
    assert admin.get("/views/team-unassigned/tickets").json()["count"] == 0
    assert anna.get("/views/breaching-soon/tickets").json()["count"] == 0

    r = anna.post("/views", json={"name": "Bloccanti", "filters": {"severity": "blocking"}})
    assert r.status_code == 201, r.text
    personal = r.json()
    assert personal["shared"] is False
    desk.ticket(anna, customer, severity="blocking")
    assert anna.get(f"/views/{personal['id']}/tickets").json()["count"] == 1
    problem(luca.get(f"/views/{personal['id']}/tickets"), 404)
    problem(luca.post("/views", json={"name": "Di tutti", "shared": True}), 403)
    shared = admin.post(
        "/views", json={"name": "Di tutti", "shared": True, "filters": {"team": "mine"}}
    ).json()
    assert luca.get(f"/views/{shared['id']}/tickets").json()["count"] == 2
    problem(luca.delete(f"/views/{shared['id']}"), 403)
    problem(anna.delete("/views/mine"), 403)
    problem(anna.post("/views", json={"name": "x", "filters": {"sla": "late"}}), 422)
    problem(anna.post("/views", json={"name": "x", "filters": {"assignee": "you"}}), 422)
    problem(anna.get("/views/nope/tickets"), 404)
    # An id past what the column holds names no view (on PostgreSQL it was a 500).
    for beyond in ("2147483648", "9999999999"):
        problem(anna.get(f"/views/{beyond}"), 404)
        problem(anna.get(f"/views/{beyond}/tickets"), 404)
        problem(anna.delete(f"/views/{beyond}"), 404)
    client = desk.customer_user(customer)
    problem(client.get("/views"), 403)
    assert anna.delete(f"/views/{personal['id']}").status_code == 204


def test_a_view_names_users_and_teams_by_ids_a_row_can_have(desk: Desk) -> None:
    """An assignee or team id past the largest id is a 422 when the view is saved (it was
    taken, and reading the view's tickets failed in the database on PostgreSQL)."""
    agent = desk.agent()
    for filters in ({"assignee": "9999999999"}, {"team": "9999999999"}):
        r = agent.post("/views", json={"name": "Troppo", "filters": filters})
        assert problem(r, 422)["errors"][0]["loc"][:3] == ["body", "filters", next(iter(filters))]
    fine = agent.post("/views", json={"name": "Giusto", "filters": {"assignee": "2147483647"}})
    assert fine.status_code == 201, fine.text
    listed = agent.get(f"/views/{fine.json()['id']}/tickets")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


def test_breaching_soon_lists_what_falls_due_within_the_hour(desk: Desk) -> None:
    agent = desk.agent()
    customer = desk.customer()
    soon, later = desk.ticket(agent, customer), desk.ticket(agent, customer)
    now = datetime.now(UTC)
    for ticket, due in ((soon, now + timedelta(minutes=20)), (later, now + timedelta(hours=3))):
        desk.db.execute(
            "UPDATE ticket SET sla_due_at = :due WHERE id = :id",
            due=desk.db_time(due),
            id=ticket["id"],
        )
    page = agent.get("/views/breaching-soon/tickets").json()
    assert page["count"] == 1 and [t["id"] for t in page["items"]] == [soon["id"]]


def test_solutions_and_suggestions_hide_the_desks_organisation_from_customers(
    desk: Desk,
) -> None:
    ((anna, anna_row),) = agents(desk, 1)
    fatture = team(desk, "Fatture", anna_row)
    customer = desk.customer()
    ticket = desk.ticket(
        anna,
        customer,
        subject="Stampa fattura bloccata dal menu vendite",
        description="La stampa della fattura resta bloccata.",
    )
    url = f"/tickets/{ticket['id']}"
    assert anna.patch(url, json={"team_id": fatture["id"]}).status_code == 200
    r = anna.post(
        f"{url}/status",
        json={"status": "resolved", "solution": "Aggiornare il driver della stampante fiscale."},
    )
    assert r.status_code == 200, r.text
    # Staff see the team on the archived solution; the customer sees the solution only.
    staff = anna.get("/solutions", params={"q": "stampa fattura"}).json()["items"]
    assert [(t["id"], t["team_id"]) for t in staff] == [(ticket["id"], fatture["id"])]
    client = desk.customer_user(customer)
    own = client.get("/solutions", params={"q": "stampa fattura"}).json()["items"]
    assert [(t["id"], t["team_id"], t["sla_policy_id"]) for t in own] == [
        (ticket["id"], None, None)
    ]
    r = client.post(
        "/kb/suggest",
        json={"subject": "Stampa fattura bloccata", "description": "menu vendite stampa"},
    )
    assert r.status_code == 200, r.text
    suggested = r.json()["tickets"]
    assert [t["id"] for t in suggested] == [ticket["id"]]
    assert suggested[0]["team_id"] is None and suggested[0]["sla_due_at"] is None


def test_customers_are_not_shown_the_names_of_rules_and_macros(
    desk: Desk, db: Database, mailbox: SmtpSink
) -> None:
    """A routing rule's name and a macro's title are the desk's organisation, as its teams
    are: staff read them in the notes of the events they caused (a rule's on the internal
    team event); the customer's timeline, change feed and mails carry no such note."""
    ((anna, anna_row),) = agents(desk, 1)
    difficili = team(desk, "Difficili", anna_row)
    rule(desk, difficili, name="Clienti lamentosi", assignment="round_robin")
    customer = desk.customer()
    client = desk.customer_user(customer, email="mario@rossi.example")
    ticket = desk.ticket(client, customer, contact={"email": "mario@rossi.example"})
    url = f"/tickets/{ticket['id']}"
    staff_view = anna.get(f"{url}/events").json()["items"]
    # Staff read the rule on the internal team event; the public assignment names none.
    notes = {e["kind"]: e["note"] for e in staff_view if e["kind"] in ("team_assigned", "assigned")}
    assert notes == {"team_assigned": "routing rule: Clienti lamentosi", "assigned": None}
    shown = [e for e in client.get(f"{url}/events").json()["items"] if e["kind"] == "assigned"]
    assert [(e["assignee_id"], e["note"]) for e in shown] == [(anna_row["id"], None)]
    feed = [e for e in client.get("/events").json()["items"] if e["kind"] == "assigned"]
    assert [e["note"] for e in feed] == [None]

    r = anna.post(
        "/macros",
        json={
            "title": "Scaricare i rompiscatole",
            "bodies": {"it": "Chiudiamo la richiesta."},
            "actions": {"set_status": "closed"},
        },
    )
    assert r.status_code == 201, r.text
    dispatch(db)
    mailbox.clear()
    assert anna.post(f"{url}/macros/{r.json()['id']}").status_code == 201
    moved = [e for e in anna.get(f"{url}/events").json()["items"] if e["kind"] == "status_changed"]
    assert moved[-1]["note"] == "macro: Scaricare i rompiscatole"
    shown = [e for e in client.get(f"{url}/events").json()["items"] if e["kind"] != "created"]
    assert all(e["note"] is None for e in shown), shown
    dispatch(db)
    sent = [
        part.get_content()
        for m in mailbox.to("mario@rossi.example")
        for part in m.message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    ]
    assert len(sent) == 4  # the macro's reply and the closing, each as text and HTML
    assert not any("rompiscatole" in m for m in sent)


def test_a_creations_answer_is_the_ticket_as_read_back(desk: Desk) -> None:
    """The answer of POST /tickets is built from what the request already holds (no read
    back): its names, areas, team and assignee are the ticket's as a GET shows them."""
    admin = desk.admin()
    ((_, anna_row),) = agents(desk, 1)
    fatture = team(desk, "Fatture e note", anna_row)
    rule(desk, fatture, assignment="round_robin")
    customer = desk.customer()
    area = desk.category("technical")
    sub = desk.category("technical", parent=area)
    user = desk.customer_user(customer)
    ids = []
    for client, body in (
        (user, {"category_id": sub["id"]}),
        (user, {"category_id": area["id"]}),
        (admin, {"category_id": sub["id"], "customer_code": customer["code"]}),
        (admin, {"customer_code": customer["code"]}),
    ):
        r = client.post(
            "/tickets",
            json={
                "customer_code": customer["code"],
                "type": "technical",
                "subject": "La stampa non parte",
                "description": "Da ieri.",
                **body,
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        ids.append(created["id"])
        read = client.get(f"/tickets/{created['id']}")
        assert read.status_code == 200, read.text
        assert created == read.json()
        assert r.headers["ETag"] == read.headers["ETag"]
        if client is admin:
            assert created["assignee_id"] == anna_row["id"] and created["assignee"]["name"]
        assert created["requester"]["name"]
    # A follow-up (its sub-area taken from the ticket it follows) answers the same way.
    r = admin.post(f"/tickets/{ids[0]}/status", json={"status": "resolved", "solution": "Fatto."})
    assert r.status_code == 200, r.text
    r = user.post(
        f"/tickets/{ids[0]}/follow-ups", json={"subject": "Di nuovo", "description": "Ancora."}
    )
    assert r.status_code == 201, r.text
    read = user.get(f"/tickets/{r.json()['id']}")
    assert r.json() == read.json() and r.headers["ETag"] == read.headers["ETag"]
