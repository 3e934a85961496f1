"""The periodic job: tickets left waiting are resolved, tickets left resolved are closed.

Tickets are aged by moving their times back in the database; the job is run as the
worker runs it (``run_jobs_once``), as ``sportello worker --once``, and in the API
process itself when ``RUN_WORKER`` is on.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.config import Settings
from app.worker import run_jobs_once
from tests.conftest import PG_URL, Database, LiveServer
from tests.factories import Desk

DAY = timedelta(days=1)


def age(desk: Desk, ticket: dict[str, Any], column: str, days: float) -> None:
    """Move ``column`` of the ticket ``days`` into the past."""
    desk.db.execute(
        f"UPDATE ticket SET {column} = :at WHERE id = :id",  # noqa: S608
        at=desk.db_time(datetime.now(UTC) - days * DAY),
        id=ticket["id"],
    )


def run_job(db: Database, settings: Settings) -> None:
    db.run(run_jobs_once(db.sessions, settings))


def status_changes(db: Database, ticket: dict[str, Any]) -> int:
    return int(
        db.scalar(
            "SELECT count(*) FROM ticket_event WHERE ticket_id = :id AND kind = 'status_changed'",
            id=ticket["id"],
        )
    )


@pytest.fixture
def agent(desk: Desk) -> Any:
    return desk.agent()


def waiting(desk: Desk, agent: Any, days: float, **customer: Any) -> dict[str, Any]:
    """A ticket the agent put in waiting_customer ``days`` ago."""
    owner = desk.customer(**customer)
    ticket = desk.move(agent, desk.ticket(desk.customer_user(owner), owner), "waiting_customer")
    age(desk, ticket, "status_changed_at", days)
    return ticket


def resolved(desk: Desk, agent: Any, days: float) -> dict[str, Any]:
    owner = desk.customer()
    ticket = desk.move(agent, desk.ticket(desk.customer_user(owner), owner), "resolved")
    age(desk, ticket, "resolved_at", days)
    age(desk, ticket, "status_changed_at", days)
    return ticket


@pytest.mark.parametrize(
    ("locale", "solution"),
    [
        ("it", "Chiuso per mancanza di risposta."),
        ("es", "Cerrado por falta de respuesta."),
        ("en", "Closed for lack of response."),
    ],
)
def test_a_ticket_left_waiting_for_the_customer_is_resolved(
    desk: Desk, db: Database, settings: Settings, agent: Any, locale: str, solution: str
) -> None:
    assert settings.waiting_timeout_days == 14
    stale = waiting(desk, agent, 14.01, locale=locale)
    fresh = waiting(desk, agent, 13.9, locale=locale)
    run_job(db, settings)
    after = agent.get(f"/tickets/{stale['id']}").json()
    assert (after["status"], after["solution"]) == ("resolved", solution)
    assert after["resolved_at"] is not None and after["closed_at"] is None
    assert after["updated_at"] == after["resolved_at"]
    assert agent.get(f"/tickets/{fresh['id']}").json()["status"] == "waiting_customer"
    last = agent.get(f"/tickets/{stale['id']}/events").json()["items"][-1]
    assert (last["kind"], last["from"], last["to"], last["actor"]) == (
        "status_changed",
        "waiting_customer",
        "resolved",
        None,
    )
    # The automatic solution is searchable like any other.
    word = solution.split()[2]
    found = agent.get("/tickets", params={"q": word}).json()["items"]
    assert [t["id"] for t in found] == [stale["id"]]


def test_a_ticket_left_resolved_is_closed(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    assert settings.auto_close_days == 7
    stale = resolved(desk, agent, 7.01)
    fresh = resolved(desk, agent, 6.9)
    run_job(db, settings)
    after = agent.get(f"/tickets/{stale['id']}").json()
    assert after["status"] == "closed"
    assert after["closed_at"] is not None
    assert after["solution"] == "Reinstallato il driver della stampante."
    assert agent.get(f"/tickets/{fresh['id']}").json()["status"] == "resolved"
    last = agent.get(f"/tickets/{stale['id']}/events").json()["items"][-1]
    assert (last["from"], last["to"], last["actor"]) == ("resolved", "closed", None)


def test_a_ticket_resolved_by_the_job_is_not_closed_in_the_same_run(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    ticket = waiting(desk, agent, 60)
    run_job(db, settings)
    run_job(db, settings)
    assert agent.get(f"/tickets/{ticket['id']}").json()["status"] == "resolved"
    assert status_changes(db, ticket) == 2  # the agent's move and the job's


def test_other_statuses_are_left_alone_however_old(
    desk: Desk, db: Database, settings: Settings
) -> None:
    owner = desk.customer()
    others = ["open", "in_progress", "waiting_third_party", "improvement", "closed"]
    tickets = [desk.ticket(desk.admin(), owner) for _ in others]
    for ticket, status in zip(tickets, others, strict=True):
        desk.set_status(ticket, status)
        for column in ("status_changed_at", "created_at", "resolved_at"):
            age(desk, ticket, column, 400)
    run_job(db, settings)
    after = [desk.admin().get(f"/tickets/{t['id']}").json()["status"] for t in tickets]
    assert after == others
    assert [status_changes(db, t) for t in tickets] == [0] * len(others)


def test_a_customers_reply_takes_the_ticket_out_of_the_jobs_reach(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    owner = desk.customer()
    client = desk.customer_user(owner)
    ticket = desk.move(agent, desk.ticket(client, owner), "waiting_customer")
    desk.reply(client, ticket, "Ecco le informazioni.")
    age(desk, ticket, "status_changed_at", 30)
    run_job(db, settings)
    assert agent.get(f"/tickets/{ticket['id']}").json()["status"] == "in_progress"


def test_the_delays_come_from_the_settings(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    short = settings.model_copy(update={"waiting_timeout_days": 2, "auto_close_days": 1})
    stale = waiting(desk, agent, 2.1)
    fresh = waiting(desk, agent, 1.9)
    done = resolved(desk, agent, 1.1)
    run_job(db, settings)
    assert {agent.get(f"/tickets/{t['id']}").json()["status"] for t in (stale, fresh)} == {
        "waiting_customer"
    }
    run_job(db, short)
    statuses = [agent.get(f"/tickets/{t['id']}").json()["status"] for t in (stale, fresh, done)]
    assert statuses == ["resolved", "waiting_customer", "closed"]


def test_two_workers_at_once_move_each_ticket_exactly_once(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    owner = desk.customer()
    client = desk.customer_user(owner)
    tickets = []
    for i in range(12):
        ticket = desk.ticket(client, owner, subject=f"Richiesta {i}")
        tickets.append(ticket)
        if i % 2:
            desk.move(agent, ticket, "resolved")
            age(desk, ticket, "resolved_at", 10)
        else:
            desk.move(agent, ticket, "waiting_customer")
            age(desk, ticket, "status_changed_at", 20)
    before = [status_changes(db, t) for t in tickets]

    async def together() -> None:
        await asyncio.gather(*(run_jobs_once(db.sessions, settings) for _ in range(3)))

    db.run(together())
    after = [status_changes(db, t) for t in tickets]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1] * len(tickets)
    statuses = [agent.get(f"/tickets/{t['id']}").json()["status"] for t in tickets]
    assert statuses == ["resolved", "closed"] * 6


@pytest.mark.skipif(not PG_URL, reason="row locks that others skip are PostgreSQL's")
def test_a_ticket_locked_by_someone_else_is_skipped_not_waited_for(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    busy = waiting(desk, agent, 30)
    free = waiting(desk, agent, 30)

    async def scenario() -> tuple[float, list[str]]:
        async with db.engine.connect() as holder:
            # Someone (an agent's request) holds the row while the job runs.
            await holder.execute(
                text("SELECT id FROM ticket WHERE id = :id FOR UPDATE"), {"id": busy["id"]}
            )
            started = time.monotonic()
            await asyncio.wait_for(run_jobs_once(db.sessions, settings), timeout=10)
            took = time.monotonic() - started
            await holder.rollback()
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT status FROM ticket WHERE id IN (:a, :b) ORDER BY id"),
                {"a": busy["id"], "b": free["id"]},
            )
            return took, [r[0] for r in rows]

    took, statuses = db.run(scenario())
    assert took < 5
    assert statuses == ["waiting_customer", "resolved"]
    # The next round gets it.
    run_job(db, settings)
    assert agent.get(f"/tickets/{busy['id']}").json()["status"] == "resolved"
    assert status_changes(db, busy) == status_changes(db, free) == 2


def test_the_worker_command_runs_the_job(
    desk: Desk, db: Database, settings: Settings, agent: Any, tmp_path: Path
) -> None:
    ticket = waiting(desk, agent, 15, locale="es")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(SPORTELLO_DATABASE_URL=settings.database_url, SPORTELLO_LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    after = agent.get(f"/tickets/{ticket['id']}").json()
    assert (after["status"], after["solution"]) == ("resolved", "Cerrado por falta de respuesta.")


def test_the_api_process_runs_the_job_when_run_worker_is_on(
    desk: Desk, db: Database, settings: Settings, agent: Any
) -> None:
    ticket = waiting(desk, agent, 15)
    old = resolved(desk, agent, 8)
    server = LiveServer(
        settings.model_copy(
            update={"run_worker": True, "worker_interval_seconds": 0.2, "auto_migrate": False}
        )
    )
    server.start()
    try:
        deadline = time.monotonic() + 10
        statuses: list[str] = []
        while time.monotonic() < deadline:
            statuses = [agent.get(f"/tickets/{t['id']}").json()["status"] for t in (ticket, old)]
            if statuses == ["resolved", "closed"]:
                break
            time.sleep(0.1)
        assert statuses == ["resolved", "closed"]
        # It keeps running: a ticket that comes due later is moved too.
        later = waiting(desk, agent, 15)
        deadline = time.monotonic() + 10
        while agent.get(f"/tickets/{later['id']}").json()["status"] != "resolved":
            assert time.monotonic() < deadline, "the in-process worker stopped"
            time.sleep(0.1)
    finally:
        server.stop()
    assert status_changes(db, ticket) == 2
