"""A write skips the reads of webhooks, routing rules, SLA policies and CC addresses only
when the statement it sends anyway says there are none (``services/probes.py``). These
check that nothing is skipped that applies: what is made elsewhere before the write is
seen by it, and what the same transaction adds is not missed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.db.base import utcnow
from app.db.models import Notification, TicketCc
from app.db.session import make_sessionmaker
from app.domain.access import Actor, Role
from app.domain.events import StatusChanged
from app.domain.notifications import NotificationKind
from app.domain.tickets import TicketStatus, Visibility, mover_of
from app.services import probes, timeline
from app.services import replies as reply_service
from app.services.tickets.moves import apply_move
from app.services.visibility import load_ticket
from tests.conftest import Database
from tests.factories import Desk
from tests.receiver import Receiver, running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running()


def test_a_cc_address_added_in_the_transaction_gets_the_next_reply(
    desk: Desk, db: Database
) -> None:
    """An inbound mail adds its Cc to the ticket and posts a reply in one transaction: the
    first reply's load found no CC address, yet the addresses added after it count."""
    customer = desk.customer()
    user = desk.customer_user(customer)
    ticket = desk.ticket(user, customer)
    _, agent_row = desk.user("agent")
    actor = Actor(role=Role.AGENT, user_id=agent_row["id"], customer_id=None, name="Agente")

    async def go() -> list[str]:
        async with make_sessionmaker(db.engine, db.settings).begin() as session:
            await reply_service.post_reply(
                session, actor, ticket["id"], body="Prima.", visibility=Visibility.PUBLIC
            )
            session.add(TicketCc(ticket_id=ticket["id"], email="giulia@rossi.example"))
            await session.flush()
            await reply_service.post_reply(
                session, actor, ticket["id"], body="Seconda.", visibility=Visibility.PUBLIC
            )
        async with make_sessionmaker(db.engine, db.settings)() as session:
            rows = await session.scalars(
                select(Notification.recipient)
                .where(
                    Notification.ticket_id == ticket["id"],
                    Notification.kind == NotificationKind.AGENT_REPLY,
                )
                .order_by(Notification.id)
            )
            return list(rows.all())

    recipients = db.run(go())
    assert recipients.count("giulia@rossi.example") == 1, recipients
    assert len(recipients) == 3, recipients  # the contact twice, the CC once


def test_a_change_that_adds_a_cc_address_after_its_load_mails_it(desk: Desk, db: Database) -> None:
    """The load of a change says "no CC address"; the change then adds one and moves the
    ticket: the answer no longer holds, the status mail goes to the new address too."""
    customer = desk.customer()
    user = desk.customer_user(customer)
    ticket = desk.ticket(user, customer)
    _, agent_row = desk.user("agent")
    actor = Actor(role=Role.AGENT, user_id=agent_row["id"], customer_id=None, name="Agente")

    async def go() -> list[str]:
        async with make_sessionmaker(db.engine, db.settings).begin() as session:
            row = await load_ticket(session, actor, ticket["id"], write=True)
            assert probes.no_cc(session, row.id)
            session.add(TicketCc(ticket_id=row.id, email="giulia@rossi.example"))
            await session.flush()
            previous = apply_move(row, TicketStatus.WAITING_CUSTOMER, mover_of(actor), utcnow())
            await session.flush()
            await timeline.record(
                session,
                StatusChanged(
                    ticket_id=row.id,
                    from_status=previous,
                    to_status=row.status,
                    actor=timeline.event_actor(actor),
                    note=None,
                ),
            )
        async with make_sessionmaker(db.engine, db.settings)() as session:
            rows = await session.scalars(
                select(Notification.recipient).where(
                    Notification.ticket_id == ticket["id"],
                    Notification.kind == NotificationKind.STATUS_CHANGED,
                )
            )
            return list(rows.all())

    assert "giulia@rossi.example" in db.run(go())


def test_a_hook_made_by_another_request_gets_the_next_change(
    desk: Desk, receiver: Receiver
) -> None:
    """No hook: a reply reads none. A hook made afterwards (another request, so possibly
    another process): the very next reply and creation are delivered to it."""
    admin = desk.admin()
    customer = desk.customer()
    user = desk.customer_user(customer)
    agent = desk.agent()
    ticket = desk.ticket(user, customer)
    desk.reply(agent, ticket, body="Prima di ogni hook.")
    r = admin.post("/webhooks", json={"url": receiver.url(), "kinds": ["*"]})
    assert r.status_code == 201, r.text
    hook = r.json()["id"]
    desk.reply(agent, ticket, body="Dopo.")
    created = desk.ticket(user, customer)
    deliveries = admin.get(f"/webhooks/{hook}/deliveries").json()["items"]
    kinds: dict[Any, set[str]] = {}
    for d in deliveries:
        kinds.setdefault(d["ticket_id"], set()).add(d["kind"])
    assert "replied" in kinds.get(ticket["id"], set()), deliveries
    assert "created" in kinds.get(created["id"], set()), deliveries


def test_a_routing_rule_and_a_policy_made_before_an_opening_apply_to_it(desk: Desk) -> None:
    admin = desk.admin()
    customer = desk.customer()
    user = desk.customer_user(customer)
    first = desk.ticket(user, customer)
    assert first["team_id"] is None and first["sla"] is None
    team = admin.post("/teams", json={"name": "Primo livello"})
    assert team.status_code == 201, team.text
    rule = admin.post("/routing-rules", json={"name": "Tutto", "team_id": team.json()["id"]})
    assert rule.status_code == 201, rule.text
    policy = admin.post("/sla-policies", json={"name": "Base", "resolution_minutes": 480})
    assert policy.status_code == 201, policy.text
    second = desk.ticket(user, customer)
    staff = admin.get(f"/tickets/{second['id']}").json()
    assert staff["team_id"] == team.json()["id"]
    assert staff["sla"] is not None and staff["sla"]["policy_id"] == policy.json()["id"]
