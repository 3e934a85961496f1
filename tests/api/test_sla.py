"""Service levels through HTTP: calendars and policies, the clocks of a ticket, the alarms."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.services.sla import raise_alarms_at
from tests.conftest import Database
from tests.factories import Desk, problem

ROME_HOURS = {
    day: [["09:00", "13:00"], ["14:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
}
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def calendar(desk: Desk, **fields: Any) -> dict[str, Any]:
    body = {"name": "Italia", "tz": "Europe/Rome", "hours": ROME_HOURS, "holidays": ["2026-12-25"]}
    r = desk.admin().post("/calendars", json={**body, **fields})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def policy(desk: Desk, **fields: Any) -> dict[str, Any]:
    body = {"name": "Premium bloccanti", "plans": ["Premium"], "severities": ["blocking"]}
    r = desk.admin().post("/sla-policies", json={**body, **fields})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def targets(agent: httpx.Client, ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    r = agent.get(f"/tickets/{ticket['id']}")
    assert r.status_code == 200, r.text
    sla = r.json()["sla"]
    assert sla is not None
    return {t["target"]: t for t in sla["targets"]}


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def test_calendars_and_policies_are_admin_crud(desk: Desk) -> None:
    admin = desk.admin()
    italy = calendar(desk)
    assert italy["hours"]["mon"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert italy["hours"]["sat"] == []
    assert italy["holidays"] == ["2026-12-25"]
    premium = policy(desk, calendar_id=italy["id"], first_response_minutes=60)
    assert premium["pause_statuses"] == ["waiting_customer", "waiting_third_party"]
    agent = desk.agent()
    assert agent.get("/sla-policies").json()[0]["id"] == premium["id"]
    problem(agent.post("/sla-policies", json={"name": "x"}), 403)
    problem(agent.post("/calendars", json={"name": "x", "tz": "UTC", "hours": {}}), 403)
    customer = desk.customer()
    problem(desk.customer_user(customer).get("/sla-policies"), 403)
    problem(admin.post("/sla-policies", json={"name": "Premium bloccanti"}), 409)
    problem(admin.post("/calendars", json={"name": "x", "tz": "Mars/Base", "hours": {}}), 422)
    problem(admin.post("/calendars", json={"name": "x", "tz": "Europe", "hours": {}}), 422)
    problem(admin.post("/calendars", json={"name": "y", "tz": "UTC", "hours": {"lun": []}}), 422)
    bad_hours = {"mon": [["10:00", "09:00"]]}
    problem(admin.post("/calendars", json={"name": "z", "tz": "UTC", "hours": bad_hours}), 422)
    problem(
        admin.post("/calendars", json={"name": "w", "tz": "UTC", "hours": {"mon": [["9", "10"]]}}),
        422,
    )
    problem(admin.post("/sla-policies", json={"name": "p", "pause_statuses": ["open"]}), 422)
    problem(admin.post("/sla-policies", json={"name": "q", "calendar_id": 999}), 422)
    problem(admin.post("/sla-policies", json={"name": "r", "first_response_minutes": 0}), 422)
    problem(admin.patch(f"/sla-policies/{premium['id']}", json={"name": None}), 422)
    problem(admin.delete(f"/calendars/{italy['id']}"), 409)
    r = admin.patch(f"/sla-policies/{premium['id']}", json={"first_response_minutes": 30})
    assert r.status_code == 200 and r.json()["first_response_minutes"] == 30
    assert admin.delete(f"/sla-policies/{premium['id']}").status_code == 204
    assert admin.delete(f"/calendars/{italy['id']}").status_code == 204
    problem(admin.get(f"/calendars/{italy['id']}"), 404)


def test_the_first_matching_policy_in_order_applies(desk: Desk) -> None:
    later = policy(desk, name="Tutti", plans=[], severities=[], position=10, resolution_minutes=600)
    first = policy(desk, position=1, first_response_minutes=60)
    technical = policy(desk, name="Ordini", plans=[], severities=[], types=["order"], position=5)
    agent = desk.agent()
    premium = desk.customer(plan="premium")
    basic = desk.customer(plan="Base")
    client = desk.customer_user(premium)
    blocking = desk.ticket(client, premium, severity="blocking")
    normal = desk.ticket(client, premium)
    other = desk.ticket(desk.customer_user(basic), basic, severity="blocking")
    order = desk.order(basic)
    ordered = desk.ticket(agent, basic, type="order", order_id=order["id"])
    seen = {
        t["id"]: agent.get(f"/tickets/{t['id']}").json() for t in (blocking, normal, other, ordered)
    }
    assert seen[blocking["id"]]["sla"]["policy_id"] == first["id"]
    assert seen[blocking["id"]]["sla"]["policy_name"] == "Premium bloccanti"
    assert seen[normal["id"]]["sla"]["policy_id"] == later["id"]
    assert seen[other["id"]]["sla"]["policy_id"] == later["id"]
    assert seen[ordered["id"]]["sla"]["policy_id"] == technical["id"]
    # The customer sees no SLA, no team.
    mine = client.get(f"/tickets/{blocking['id']}").json()
    assert mine["sla"] is None and mine["sla_policy_id"] is None and mine["tags"] is None


def test_without_a_policy_a_ticket_has_no_clock(desk: Desk) -> None:
    customer = desk.customer()
    ticket = desk.ticket(desk.agent(), customer)
    body = desk.agent().get(f"/tickets/{ticket['id']}").json()
    assert body["sla"] is None and body["sla_due_at"] is None


def test_targets_count_business_minutes_of_the_policys_calendar(desk: Desk) -> None:
    """Open every day all day: the due times are the opening time plus the minutes."""
    always = calendar(desk, name="Sempre", hours=ALWAYS, holidays=[])
    policy(
        desk,
        calendar_id=always["id"],
        first_response_minutes=60,
        next_response_minutes=120,
        resolution_minutes=480,
    )
    premium = desk.customer(plan="Premium")
    agent = desk.agent()
    ticket = desk.ticket(desk.customer_user(premium), premium, severity="blocking")
    created = at(ticket["created_at"])
    clocks = targets(agent, ticket)
    assert set(clocks) == {"first_response", "resolution"}
    assert at(clocks["first_response"]["due_at"]) - created < timedelta(minutes=60, seconds=2)
    assert at(clocks["first_response"]["due_at"]) - created >= timedelta(minutes=60)
    assert at(clocks["resolution"]["due_at"]) - at(clocks["first_response"]["due_at"]) == timedelta(
        minutes=420
    )
    listed = agent.get("/tickets").json()["items"][0]
    assert listed["sla_due_at"] == clocks["first_response"]["due_at"]


def test_a_closed_calendar_skips_to_its_next_opening(desk: Desk) -> None:
    """A calendar whose only day is a holiday today: the clock waits for the next open day."""
    today = datetime.now(UTC).astimezone().date()
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours = {names[today.weekday()]: [["00:00", "24:00"]]}
    cal = calendar(desk, name="Un giorno", tz="UTC", hours=hours, holidays=[])
    policy(desk, calendar_id=cal["id"], first_response_minutes=30, plans=[], severities=[])
    customer = desk.customer()
    ticket = desk.ticket(desk.agent(), customer)
    due = at(targets(desk.agent(), ticket)["first_response"]["due_at"])
    created = at(ticket["created_at"])
    if created.date() == datetime.now(UTC).date() and created.hour * 60 + created.minute < 23 * 60:
        assert due - created == pytest.approx(timedelta(minutes=30), abs=timedelta(seconds=2))
    else:
        assert due.weekday() == today.weekday() and due > created


def test_replies_meet_the_response_targets(desk: Desk) -> None:
    policy(
        desk,
        plans=[],
        severities=[],
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=600,
    )
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    desk.reply(agent, ticket, "Nota interna", visibility="internal")
    assert targets(agent, ticket)["first_response"]["met_at"] is None
    desk.reply(agent, ticket, "Ci guardiamo subito.")
    clocks = targets(agent, ticket)
    assert clocks["first_response"]["met_at"] is not None
    assert clocks["first_response"]["breached_at"] is None
    assert "next_response" not in clocks
    desk.reply(client, ticket, "Grazie, attendo.")
    clocks = targets(agent, ticket)
    assert clocks["next_response"]["cycle"] == 1 and clocks["next_response"]["met_at"] is None
    desk.reply(client, ticket, "Ancora io.")  # still waiting: no second cycle
    assert targets(agent, ticket)["next_response"]["cycle"] == 1
    desk.reply(agent, ticket, "Risolto?")
    assert targets(agent, ticket)["next_response"]["met_at"] is not None
    desk.reply(client, ticket, "No.")
    assert targets(agent, ticket)["next_response"]["cycle"] == 2
    # The next due time is the earliest running one.
    clocks = targets(agent, ticket)
    body = agent.get(f"/tickets/{ticket['id']}").json()
    assert body["sla"]["next_due_at"] == min(
        clocks["next_response"]["due_at"], clocks["resolution"]["due_at"]
    )


def test_waiting_pauses_the_resolution_clock_per_policy(desk: Desk) -> None:
    policy(
        desk, plans=[], severities=[], resolution_minutes=600, pause_statuses=["waiting_customer"]
    )
    customer = desk.customer()
    agent = desk.agent()
    ticket = desk.ticket(desk.customer_user(customer), customer)
    desk.move(agent, ticket, "in_progress")
    desk.move(agent, ticket, "waiting_customer")
    clock = targets(agent, ticket)["resolution"]
    assert clock["paused"] is True and clock["due_at"] is None
    assert agent.get(f"/tickets/{ticket['id']}").json()["sla_due_at"] is None
    desk.move(agent, ticket, "in_progress")
    clock = targets(agent, ticket)["resolution"]
    assert clock["paused"] is False and clock["due_at"] is not None
    # Not listed in this policy: waiting for a third party does not pause it.
    desk.move(agent, ticket, "waiting_third_party")
    assert targets(agent, ticket)["resolution"]["paused"] is False
    desk.move(agent, ticket, "resolved")
    clock = targets(agent, ticket)["resolution"]
    assert clock["met_at"] is not None and clock["paused"] is False
    assert clock["due_at"] is not None  # kept, to compare with met_at
    assert agent.get(f"/tickets/{ticket['id']}").json()["sla_due_at"] is None


def test_a_reopened_ticket_gets_a_new_resolution_clock(desk: Desk) -> None:
    policy(desk, plans=[], severities=[], resolution_minutes=600)
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(client, customer)
    desk.move(agent, ticket, "resolved")
    desk.move(client, ticket, "open")
    clock = targets(agent, ticket)["resolution"]
    assert clock["cycle"] == 2 and clock["met_at"] is None


def run_alarms(db: Database, now: datetime) -> int:
    async def go() -> int:
        async with db.sessions.begin() as session:
            return await raise_alarms_at(session, now)

    return db.run(go())


def alarm_events(db: Database, ticket: dict[str, Any]) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        from sqlalchemy import text

        async with db.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT kind, target FROM ticket_event WHERE ticket_id = :id"
                    " AND kind LIKE 'sla_%' ORDER BY id"
                ),
                {"id": ticket["id"]},
            )
            return [(r[0], r[1]) for r in rows]

    return db.run(go())


def mails(db: Database, ticket: dict[str, Any]) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        from sqlalchemy import text

        async with db.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT kind, recipient FROM notification WHERE ticket_id = :id"
                    " AND kind LIKE 'sla_%' ORDER BY id"
                ),
                {"id": ticket["id"]},
            )
            return [(r[0], r[1]) for r in rows]

    return db.run(go())


def test_warning_then_breach_once_each_to_the_right_person(desk: Desk, db: Database) -> None:
    policy(desk, plans=[], severities=[], first_response_minutes=60, warning_minutes=15)
    customer = desk.customer()
    client = desk.customer_user(customer)
    agent, agent_row = desk.user("agent")
    ticket = desk.ticket(client, customer)
    due = at(targets(agent, ticket)["first_response"]["due_at"])

    assert run_alarms(db, due - timedelta(minutes=20)) == 0
    assert run_alarms(db, due - timedelta(minutes=10)) == 1
    assert run_alarms(db, due - timedelta(minutes=5)) == 0
    assert alarm_events(db, ticket) == [("sla_warning", "first_response")]
    # No assignee, no team: the desk is told.
    assert mails(db, ticket) == [("sla_warning", "desk@sportello.test")]

    r = agent.patch(f"/tickets/{ticket['id']}", json={"assignee_id": agent_row["id"]})
    assert r.status_code == 200, r.text
    assert run_alarms(db, due + timedelta(minutes=1)) == 1
    assert run_alarms(db, due + timedelta(minutes=2)) == 0
    assert alarm_events(db, ticket) == [
        ("sla_warning", "first_response"),
        ("sla_breached", "first_response"),
    ]
    assert mails(db, ticket)[1] == ("sla_breached", agent_row["email"])
    clock = targets(agent, ticket)["first_response"]
    assert at(clock["breached_at"]) == due
    # The list filters and the timeline: internal, staff only.
    kinds = [e["kind"] for e in agent.get(f"/tickets/{ticket['id']}/events").json()["items"]]
    assert [k for k in kinds if k.startswith("sla_")] == ["sla_warning", "sla_breached"]
    seen = [e["kind"] for e in client.get(f"/tickets/{ticket['id']}/events").json()["items"]]
    assert "sla_breached" not in seen and "sla_warning" not in seen
    # A reply after the breach meets it late: breached stays.
    desk.reply(agent, ticket, "Eccoci.")
    clock = targets(agent, ticket)["first_response"]
    assert clock["met_at"] is not None and clock["breached_at"] is not None


def test_the_team_address_is_told_when_nobody_is_assigned(desk: Desk, db: Database) -> None:
    policy(desk, plans=[], severities=[], first_response_minutes=60)
    team = desk.admin().post("/teams", json={"name": "Fatture", "email": "fatture@desk.example"})
    customer = desk.customer()
    agent = desk.agent()
    ticket = desk.ticket(agent, customer)
    assert (
        agent.patch(f"/tickets/{ticket['id']}", json={"team_id": team.json()["id"]}).status_code
        == 200
    )
    due = at(targets(agent, ticket)["first_response"]["due_at"])
    assert run_alarms(db, due + timedelta(seconds=1)) == 1
    # Past due at once: the breach only, no late warning.
    assert mails(db, ticket) == [("sla_breached", "fatture@desk.example")]


def test_several_workers_raise_each_alarm_once(desk: Desk, db: Database) -> None:
    policy(desk, plans=[], severities=[], first_response_minutes=60, resolution_minutes=120)
    customer = desk.customer()
    agent = desk.agent()
    tickets = [desk.ticket(agent, customer) for _ in range(6)]
    later = datetime.now(UTC) + timedelta(days=30)

    async def worker() -> int:
        async with db.sessions.begin() as session:
            return await raise_alarms_at(session, later, batch=4)

    async def four() -> list[int]:
        results = await asyncio.gather(*(worker() for _ in range(4)), return_exceptions=True)
        return [r if isinstance(r, int) else 0 for r in results]

    total = 0
    for _ in range(5):
        total += sum(db.run(four()))
    assert total == 12
    for ticket in tickets:
        assert sorted(alarm_events(db, ticket)) == [
            ("sla_breached", "first_response"),
            ("sla_breached", "resolution"),
        ]


def test_lists_sort_by_due_and_filter_breached_or_due_soon(desk: Desk, db: Database) -> None:
    customer = desk.customer()
    agent = desk.agent()
    now = datetime.now(UTC)
    made = [desk.ticket(agent, customer) for _ in range(5)]
    dues = [
        now - timedelta(minutes=5),
        now + timedelta(minutes=30),
        None,
        now + timedelta(hours=5),
        now + timedelta(minutes=59),
    ]
    for ticket, due in zip(made, dues, strict=True):
        db.execute(
            "UPDATE ticket SET sla_due_at = :due WHERE id = :id",
            due=desk.db_time(due) if due else None,
            id=ticket["id"],
        )
    ids = [t["id"] for t in made]
    order: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": "due", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = agent.get("/tickets", params=params).json()
        order += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert order == [ids[0], ids[1], ids[4], ids[3], ids[2]]
    breached = agent.get("/tickets", params={"sla": "breached"}).json()["items"]
    assert [t["id"] for t in breached] == [ids[0]]
    soon = agent.get("/tickets", params={"sla": "due_within:60", "sort": "due"}).json()["items"]
    assert [t["id"] for t in soon] == [ids[1], ids[4]]
    problem(agent.get("/tickets", params={"sla": "late"}), 422)
    problem(agent.get("/tickets", params={"sla": "due_within:0"}), 422)
    # The documented range is 1-100000 minutes, both ends included.
    far = agent.get("/tickets", params={"sla": "due_within:100000"})
    assert far.status_code == 200, far.text
    problem(agent.get("/tickets", params={"sla": "due_within:100001"}), 422)
    problem(agent.get("/tickets", params={"sort": "due", "cursor": "bm9wZQ"}), 400)


def test_the_demo_has_an_italian_and_a_spanish_calendar_and_premium_applies(
    desk: Desk, settings: Any
) -> None:
    from app.demo import DEMO_PASSWORD, load_demo_data

    assert asyncio.run(load_demo_data(settings))
    agent = desk.login("anna.verdi@sportello.example", DEMO_PASSWORD)
    zones = {c["tz"] for c in agent.get("/calendars").json()}
    assert zones == {"Europe/Rome", "Europe/Madrid"}
    mario = desk.login("mario.rossi@agricolabianchi.example", DEMO_PASSWORD)
    r = mario.post(
        "/tickets",
        json={
            "customer_code": "AGRI-BIANCHI",
            "type": "technical",
            "subject": "Il gestionale non si avvia",
            "description": "Errore all'avvio dal mattino.",
            "severity": "blocking",
        },
    )
    assert r.status_code == 201, r.text
    sla = agent.get(f"/tickets/{r.json()['id']}").json()["sla"]
    assert sla["policy_name"] == "Premium - bloccanti"
    assert [t["target"] for t in sla["targets"]] == ["first_response", "resolution"]


def test_the_worker_job_raises_the_breach_and_the_mail_is_delivered(
    desk: Desk, db: Database, settings: Any, mailbox: Any
) -> None:
    """As ``sportello worker`` runs it: the job, then the outbox to a real SMTP server."""
    from app.worker import run_jobs_once

    policy(desk, plans=[], severities=[], first_response_minutes=60)
    customer = desk.customer(locale="es")
    agent, agent_row = desk.user("agent", locale="es")
    ticket = desk.ticket(desk.customer_user(customer), customer)
    agent.patch(f"/tickets/{ticket['id']}", json={"assignee_id": agent_row["id"]})
    past = desk.db_time(datetime.now(UTC) - timedelta(minutes=1))
    db.execute(
        "UPDATE ticket_sla SET due_at = :t, alarm_at = :t WHERE ticket_id = :id",
        t=past,
        id=ticket["id"],
    )
    mailbox.clear()
    db.run(run_jobs_once(db.sessions, settings))
    db.run(run_jobs_once(db.sessions, settings))
    assert alarm_events(db, ticket) == [("sla_breached", "first_response")]
    mail = mailbox.one_to(agent_row["email"])
    assert "SLA incumplido" in mail.subject and ticket["number"] in mail.subject
